import { afterAll, assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Layer, Scope, Stream } from "effect"
import { Redis } from "effect/persistence"
import { Executions, StopPolicy } from "../../src/index.ts"
import * as Keys from "../../src/redis/Keys.ts"
import * as RedisExecutions from "../../src/redis/RedisExecutions.ts"
import { suite } from "../ExecutionsTest.ts"
import { RedisServer, testLayer } from "../utils/redisServer.ts"
import { freshGate, openGate, testWorkflows } from "../utils/workflows.ts"

// One redis-server and connection for the file; every "process" of the suite is a control plane of
// its own over it (its own remote control, store and runs), as separate machines would be.
const scope = Effect.runSync(Scope.make())
const connection = Layer.succeedContext(await Effect.runPromise(Layer.buildWithScope(testLayer, scope)))
afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

suite("redis", {
  prefix: "redis-",
  make: (options) =>
    RedisExecutions.layerWithStore({ ...options, followInterval: "200 millis", pollInterval: "200 millis" }).pipe(
      Layer.provide(connection)
    )
})

// -----------------------------------------------------------------------------
// Across processes: a run of A, seen and controlled from B
// -----------------------------------------------------------------------------

const processOf = (scope: Scope.Scope) =>
  Effect.map(
    Layer.buildWithScope(
      RedisExecutions.layerWithStore({
        workflows: testWorkflows,
        followInterval: "200 millis",
        pollInterval: "200 millis",
        stopPolicy: { priority_override: StopPolicy.drain("1 hour") }
      }).pipe(Layer.provideMerge(connection)),
      scope
    ),
    (context) => ({ executions: Context.get(context, Executions), redis: Context.get(context, Redis.Redis) })
  )

const waitingFor = (executions: Executions["Service"], id: string) =>
  executions.events(id).pipe(
    Stream.takeUntil((item) => item.event._tag === "ExecutionEvent" && item.event.actor === "wait" && item.event.status === "started"),
    Stream.runDrain
  )

const uid = (label: string) => `${label}-${globalThis.crypto.randomUUID().slice(0, 8)}`

describe("RedisExecutions across processes", () => {
  it.live("a run of A: listed, followed and interrupted from B (push), its stages in order; B resumes it", () =>
    Effect.scoped(Effect.gen(function*() {
      const a = yield* processOf(yield* Effect.scope)
      const b = yield* processOf(yield* Effect.scope)
      const gate = freshGate("remote")
      const id = yield* a.executions.start("gated", { gate }, { stateId: uid("remote") })
      yield* waitingFor(a.executions, id)
      // B sees it running, with A as its owner, and follows its events live
      const seen = yield* b.executions.get(id)
      assert.deepStrictEqual([seen.status, seen.workflow], ["running", "gated"])
      assert.strictEqual(seen.owner, (yield* a.executions.get(id)).owner)
      assert.isTrue((yield* b.executions.list()).some((i) => i.executionId === id && i.status === "running"))
      const followed = yield* Effect.forkChild(Stream.runCollect(b.executions.events(id)), { startImmediately: true })
      // B interrupts it: the request reaches A through Redis
      const receipt = yield* b.executions.interrupt(id, { reason: "priority_override", triggeredBy: "bob" })
      assert.strictEqual(receipt._tag, "InterruptAccepted")
      assert.deepStrictEqual(receipt.stages.map((s) => [s.stage, s.detail]), [["requested", undefined], ["delivered", "push"]])
      const duplicate = yield* b.executions.interrupt(id, { reason: "user_cancelled" })
      assert.strictEqual(duplicate._tag, "AlreadyInterrupted")
      assert.strictEqual((yield* a.executions.get(id)).status, "cancelling")
      yield* openGate(gate)
      const events = yield* Fiber.join(followed)
      assert.strictEqual(events.at(-1)!.event._tag, "ExecutionFinished")
      const ended = yield* b.executions.awaitEnd(id)
      assert.strictEqual(ended.status, "interrupted")
      assert.deepStrictEqual(ended.interruptStages.map((s) => s.stage), ["requested", "delivered", "stopped", "checkpointed"])
      assert.strictEqual(ended.interrupt?.triggeredBy, "bob")
      // B brings it back and finishes it: its events are numbered on from A's
      yield* b.executions.resume(id)
      const done = yield* b.executions.awaitEnd(id)
      assert.deepStrictEqual([done.status, done.runs, done.progress.recovered], ["completed", 2, 2])
      assert.strictEqual((yield* a.executions.get(id)).status, "completed")
      const all = yield* Stream.runCollect(a.executions.events(id))
      assert.deepStrictEqual(all.map((e) => e.sequence), all.map((_, i) => i + 1))
    })))

  it.live("an interrupt for a run that is not running answers at once and leaves nothing in Redis", () =>
    Effect.scoped(Effect.gen(function*() {
      const a = yield* processOf(yield* Effect.scope)
      const id = yield* a.executions.start("quick", { n: 1 }, { stateId: uid("done") })
      yield* a.executions.awaitEnd(id)
      const k = Keys.make((yield* Effect.provide(RedisServer, connection)).prefix)
      const refused = yield* Effect.flip(a.executions.interrupt(id))
      assert.strictEqual(refused._tag, "ExecutionNotRunning")
      assert.strictEqual(yield* Effect.orDie(a.redis.send<number>("EXISTS", k.request(id))), 0)
    })))

  it.live("a request whose message was lost is found by the owner's poll", () =>
    Effect.scoped(Effect.gen(function*() {
      const a = yield* processOf(yield* Effect.scope)
      const gate = freshGate("poll")
      const id = yield* a.executions.start("gated", { gate }, { stateId: uid("poll") })
      yield* waitingFor(a.executions, id)
      const owner = (yield* a.executions.get(id)).owner!
      const k = Keys.make((yield* Effect.provide(RedisServer, connection)).prefix)
      // written, never published: as if the subscription was down when it was sent
      const request = { requestId: "lost-message", owner, signal: { reason: "custom", message: "found by poll", triggeredAt: "2026-11-29T10:00:00.000Z", saveCheckpoint: true } }
      yield* Effect.orDie(a.redis.send("SET", k.request(id), JSON.stringify(request), "PX", "60000"))
      const ended = yield* a.executions.awaitEnd(id)
      assert.deepStrictEqual([ended.status, ended.interrupt?.message], ["interrupted", "found by poll"])
      assert.strictEqual(ended.interruptStages.find((s) => s.stage === "delivered")?.detail, "poll")
      assert.strictEqual(yield* Effect.orDie(a.redis.send<number>("EXISTS", k.request(id))), 0)
    })))
})
