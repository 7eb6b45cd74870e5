import { afterAll, assert, layer } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Option, Schema, Scope } from "effect"
import { CheckpointStore, JournalRecordJson } from "../../src/index.ts"
import * as Keys from "../../src/redis/Keys.ts"
import * as RedisStore from "../../src/redis/RedisStore.ts"
import { suite } from "../CheckpointStoreTest.ts"
import { RedisServer, testLayer } from "../utils/redisServer.ts"
import { legacyDocument, makeRecords } from "../utils/snapshots.ts"
import { send } from "./helpers.ts"

// One server and connection for the whole file: the contract suite provides its layer per test, so
// the layer handed to it is the already-built context. Without redis-server this fails loudly.
const storeLayer = RedisStore.layerRedis().pipe(Layer.provideMerge(testLayer))
const scope = Effect.runSync(Scope.make())
const context = await Effect.runPromise(Layer.buildWithScope(storeLayer, scope))
afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))
const shared = Layer.succeedContext(context)
const keysOf = () => Keys.make(Context.get(context, RedisServer).prefix)

suite("redis", shared, {
  prefix: "redis-",
  plantJournal: (stateId, lines) =>
    Effect.gen(function*() {
      const k = keysOf()
      yield* send("DEL", k.journal(stateId), k.snapshot(stateId))
      for (const line of lines) yield* send("XADD", k.journal(stateId), "*", "r", line)
      yield* send("ZADD", k.executions, "1", stateId)
    }).pipe(Effect.provideContext(context)),
  plantLegacy: (stateId, text) =>
    Effect.gen(function*() {
      const k = keysOf()
      yield* send("SET", k.checkpoint(stateId), text)
      yield* send("SADD", k.checkpoints, stateId)
    }).pipe(Effect.provideContext(context))
})

const encode = Schema.encodeSync(JournalRecordJson)

layer(shared, { excludeTestServices: true, timeout: "30 seconds" })("RedisStore", (it) => {
  it.effect("one Stream per execution, one record per entry; its keys share the hash tag {stateId}", () =>
    Effect.gen(function*() {
      const store = yield* CheckpointStore
      const k = keysOf()
      const records = makeRecords("doc-1")
      yield* store.append("doc-1", records)
      assert.strictEqual(k.journal("doc-1"), `${k.prefix}{doc-1}:journal`)
      assert.strictEqual(k.lease("doc-1"), `${k.prefix}{doc-1}:lease`)
      const entries = yield* send<ReadonlyArray<[string, ReadonlyArray<string>]>>("XRANGE", k.journal("doc-1"), "-", "+")
      assert.deepStrictEqual(entries.map(([, fields]) => fields), records.map((r) => ["r", encode(r)]))
      assert.isNotNull(yield* send<string | null>("ZSCORE", k.executions, "doc-1"))
      // compaction: a snapshot key, the stream trimmed of what it covers
      yield* store.compact("doc-1")
      assert.strictEqual(yield* send<number>("XLEN", k.journal("doc-1")), 0)
      const snapshot = yield* send<string>("GET", k.snapshot("doc-1"))
      assert.match(snapshot, /^\d+-\d+ \{"_tag":"Snapshot"/)
      assert.strictEqual(Option.getOrThrow(yield* store.load("doc-1")).completed.length, 3)
      yield* store.delete("doc-1")
      assert.strictEqual(yield* send<number>("EXISTS", k.journal("doc-1"), k.snapshot("doc-1")), 0)
      assert.isNull(yield* send<string | null>("ZSCORE", k.executions, "doc-1"))
    }))

  it.effect("a lease is a key with a TTL, renewed while held and deleted on release", () =>
    Effect.gen(function*() {
      const k = keysOf()
      const store = yield* Effect.provide(CheckpointStore, RedisStore.layerRedis({ leaseTtl: "2 seconds" }))
      yield* Effect.scoped(Effect.gen(function*() {
        yield* store.acquire("lease-1", { owner: "w1" })
        assert.strictEqual(yield* send<string>("GET", k.lease("lease-1")), "w1")
        const ttl = yield* send<number>("PTTL", k.lease("lease-1"))
        assert.isAbove(ttl, 0)
        assert.isAtMost(ttl, 2000)
      }))
      assert.isNull(yield* send<string | null>("GET", k.lease("lease-1")))
    }))

  it.effect("a key of the wrong type (WRONGTYPE) is listed as corrupt; the rest is listed", () =>
    Effect.gen(function*() {
      const prefix = `${keysOf().prefix}wrongtype:`
      const store = yield* RedisStore.make({ prefix })
      const k = Keys.make(prefix)
      yield* store.append("good", makeRecords("good"))
      // a run's journal key that is not a Stream
      yield* send("ZADD", k.executions, "2", "bad-journal")
      yield* send("SET", k.journal("bad-journal"), "not a stream")
      const rows = yield* store.list
      assert.deepStrictEqual(rows.map((r) => [r.stateId, r.status]), [["good", "interrupted"], ["bad-journal", "corrupt"]])
      assert.include(rows[1]!.error, "WRONGTYPE")
      // the index itself of the wrong type: reported, and the version-1 index is still listed
      yield* send("SET", k.checkpoint("old"), legacyDocument("old"))
      yield* send("SADD", k.checkpoints, "old")
      yield* send("DEL", k.executions)
      yield* send("SET", k.executions, "not a sorted set")
      const again = yield* store.list
      assert.deepStrictEqual(again.map((r) => [r.stateId, r.status]), [["old", "interrupted"], [k.executions, "corrupt"]])
      assert.match(again[1]!.error!, /^WRONGTYPE /)
    }))

  it.effect("Redis being unreachable is an io error", () =>
    Effect.gen(function*() {
      const { layer: connect } = yield* Effect.promise(() => import("../../src/redis/RedisConnection.ts"))
      const exit = yield* Effect.exit(
        Effect.scoped(Layer.build(RedisStore.layerRedis().pipe(Layer.provide(connect({ url: "redis://127.0.0.1:1" })))))
      )
      assert.strictEqual(exit._tag, "Failure")
      assert.include(String(exit), "ECONNREFUSED")
    }))
})
