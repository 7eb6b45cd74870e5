import { afterAll, assert, layer } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Option, Scope } from "effect"
import { CheckpointStore } from "../../src/index.ts"
import * as Keys from "../../src/redis/Keys.ts"
import * as RedisStore from "../../src/redis/RedisStore.ts"
import { suite } from "../CheckpointStoreTest.ts"
import { makeSnapshot } from "../utils/snapshots.ts"
import { RedisServer, testLayer } from "../utils/redisServer.ts"
import { send } from "./helpers.ts"

// One server and connection for the whole file: the contract suite provides its layer per test, so
// the layer handed to it is the already-built context. Without redis-server this fails loudly.
const storeLayer = RedisStore.layerRedis().pipe(Layer.provideMerge(testLayer))
const scope = Effect.runSync(Scope.make())
const context = await Effect.runPromise(Layer.buildWithScope(storeLayer, scope))
afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))
const shared = Layer.succeedContext(context)

suite("redis", shared, {
  prefix: "redis-",
  plant: (stateId, text) =>
    Effect.gen(function*() {
      const k = Keys.make(Context.get(context, RedisServer).prefix)
      yield* send("SET", k.checkpoint(stateId), text)
      yield* send("SADD", k.checkpoints, stateId)
    }).pipe(Effect.provideContext(context))
})

layer(shared, { excludeTestServices: true, timeout: "30 seconds" })("RedisStore", (it) => {
  it.effect("one JSON document per state id under {prefix}checkpoint:{id}, indexed in {prefix}checkpoints", () =>
    Effect.gen(function*() {
      const store = yield* CheckpointStore
      const server = yield* RedisServer
      const k = Keys.make(server.prefix)
      yield* store.save(makeSnapshot("doc-1"))
      const text = yield* send<string>("GET", k.checkpoint("doc-1"))
      assert.strictEqual(JSON.parse(text).stateId, "doc-1")
      assert.isTrue((yield* send<ReadonlyArray<string>>("SMEMBERS", k.checkpoints)).includes("doc-1"))
      assert.strictEqual(store.location, `redis:${server.prefix}checkpoint:`)
      // a document that expired or was deleted behind the store's back leaves the index on list
      yield* send("DEL", k.checkpoint("doc-1"))
      assert.isFalse((yield* store.list).some((r) => r.stateId === "doc-1"))
      assert.isFalse((yield* send<ReadonlyArray<string>>("SMEMBERS", k.checkpoints)).includes("doc-1"))
      assert.isTrue(Option.isNone(yield* store.load("doc-1")))
    }))

  it.effect("with a ttl, a checkpoint expires", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer
      const store = yield* Effect.provide(
        Effect.flatMap(CheckpointStore, Effect.succeed),
        RedisStore.layerRedis({ ttl: "1 hour" })
      )
      yield* store.save(makeSnapshot("ttl-1"))
      const ttl = yield* send<number>("PTTL", Keys.make(server.prefix).checkpoint("ttl-1"))
      assert.isAbove(ttl, 3_500_000)
      assert.isAtMost(ttl, 3_600_000)
    }))

  it.effect("Redis being unreachable is an io error naming the key", () =>
    Effect.gen(function*() {
      const { layer: connect } = yield* Effect.promise(() => import("../../src/redis/RedisConnection.ts"))
      // a port nobody listens on: building the connection fails, so use a store whose calls fail
      const exit = yield* Effect.exit(
        Effect.scoped(Layer.build(RedisStore.layerRedis().pipe(Layer.provide(connect({ url: "redis://127.0.0.1:1" })))))
      )
      assert.strictEqual(exit._tag, "Failure")
      assert.include(String(exit), "ECONNREFUSED")
    }))
})
