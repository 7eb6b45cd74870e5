/**
 * redis-server killed (SIGKILL) and restarted in the middle of a run: the run goes on and its
 * journal holds every step, nothing lost; while Redis is away another process cannot interrupt it
 * (a typed error, nothing half done); once it is back, an interrupt from another process is
 * honoured. Always its own redis-server, persistent (AOF synced on every write), so that what it
 * acknowledged survives the restart.
 */
import { assert, layer } from "@effect/vitest"
import { Deferred, Effect, Fiber, Logger, Option, Queue, Schema, Stream } from "effect"
import { Actor, type BusEvent, runEvent, type Sequenced, Workflow } from "../../src/index.ts"
import * as RedisExecutions from "../../src/redis/RedisExecutions.ts"
import { RedisServer } from "../utils/redisServer.ts"
import { freshGate, gateOf, openGate } from "../utils/workflows.ts"
import { controlPlane, eventually, expectThat, keys, uid } from "./helpers.ts"

/** Tick after tick, each waiting for its own gate (`<gate>-<i>`), for ever; tick i returns i. */
const ticks = Workflow.make({
  name: "ticks",
  description: "tick i waits for the gate <gate>-<i>, for ever",
  input: Schema.Struct({ gate: Schema.String }),
  example: { gate: "example" },
  run: (input) =>
    Effect.gen(function*() {
      const tick = Actor.tool(
        "tick",
        (i: number) => Effect.as(Effect.suspend(() => Deferred.await(gateOf(`${input.gate}-${i}`))), i),
        { output: Schema.Number }
      )
      for (let i = 0;; i++) yield* runEvent(tick, i)
    })
})

const options: RedisExecutions.RedisExecutionsOptions = {
  workflows: [Workflow.register(ticks)],
  // longer than the outage: the run's lease survives it (its expiry is in the AOF)
  leaseTtl: "10 seconds",
  heartbeatInterval: "100 millis",
  pollInterval: "100 millis"
}

/** Takes events from `queue` until one satisfies `predicate`. */
const next = (queue: Queue.Queue<Sequenced>, predicate: (event: BusEvent) => boolean, what: string) =>
  Effect.gen(function*() {
    while (true) {
      const item = yield* Queue.take(queue)
      if (predicate(item.event)) return item.event
    }
  }).pipe(Effect.timeoutOrElse({ duration: "15 seconds", orElse: () => Effect.fail(new Error(`no event: ${what}`)) }))

const tickCompleted = (i: number) => (event: BusEvent) =>
  event._tag === "ExecutionEvent" && event.actor === "tick" && event.status === "completed" && event.occurrence === i + 1

/** An event as `ExecutionEvent completed tick#3`, for comparing logs. */
const label = (event: BusEvent) =>
  event._tag === "ExecutionEvent" ? `${event._tag} ${event.status} ${event.actor}#${event.occurrence}` : event._tag

const logged = (prefix: string) => (event: BusEvent) => event._tag === "LogEvent" && event.message.startsWith(prefix)

// The warnings of the outage (lease renewals, publishing, the journal) are expected: kept out of the
// test output.
const quiet = Logger.layer([Logger.make(() => {})])

/**
 * A run of `owner` goes on while Redis is killed and started again (ticks 0-1 before, 2-3 during,
 * 4 after the outage); then `controller`, another process, interrupts it. Checks on the way that the
 * run keeps going and that the controller gets a typed error while Redis is away.
 */
const outage = Effect.gen(function*() {
  const server = yield* RedisServer
  const k = yield* keys
  const owner = yield* controlPlane(options)
  const controller = yield* controlPlane(options)
  const gate = freshGate("outage")
  const stateId = yield* owner.executions.start("ticks", { gate }, { stateId: uid("outage") })
  const events = yield* Queue.unbounded<Sequenced>()
  const following = yield* Stream.runForEach(owner.executions.events(stateId), (item) => Queue.offer(events, item)).pipe(
    Effect.forkChild({ startImmediately: true })
  )
  for (const i of [0, 1]) {
    yield* openGate(`${gate}-${i}`)
    yield* next(events, tickCompleted(i), `tick ${i}`)
  }
  const seen = yield* controller.executions.get(stateId)
  assert.deepStrictEqual([seen.status, seen.owner], ["running", (yield* owner.executions.get(stateId)).owner])

  yield* server.kill
  // the run goes on: two more ticks complete, their records held until the store is back
  for (const i of [2, 3]) {
    yield* openGate(`${gate}-${i}`)
    yield* next(events, tickCompleted(i), `tick ${i} while Redis is away`)
  }
  assert.strictEqual((yield* owner.executions.get(stateId)).status, "running")
  // another process cannot reach it now: a typed error
  const refused = yield* Effect.flip(controller.executions.interrupt(stateId, { triggeredBy: "controller" }))
  assert.strictEqual(refused._tag, "BackendUnavailable")

  yield* server.start
  // the held records are written once Redis is back
  yield* next(events, logged("Checkpoint store is back"), "the journal catching up")
  yield* openGate(`${gate}-4`)
  yield* next(events, tickCompleted(4), "tick 4 after the restart")
  // the other process's connection is back too (node-redis backoff, at most about 2 s)
  yield* eventually(controller.redis.send("PING"), 250)
  // nothing of the refused interrupt was left behind
  assert.strictEqual(yield* controller.redis.send<number>("EXISTS", k.request(stateId)), 0)
  // the owner listens on its control channel again
  yield* eventually(
    Effect.flatMap(
      controller.redis.send<ReadonlyArray<string | number>>("PUBSUB", "NUMSUB", k.control(stateId)),
      (reply) => expectThat(Number(reply[1]), (n) => n >= 1, "resubscribed")
    ),
    250
  )

  const receipt = yield* controller.executions.interrupt(stateId, {
    triggeredBy: "controller",
    message: "after the outage",
    await: "checkpointed",
    awaitTimeout: "15 seconds"
  })
  yield* Fiber.join(following)
  return { owner, controller, stateId, receipt }
})

layer(RedisServer.layerPersistent, { excludeTestServices: true, timeout: "30 seconds" })("Redis goes away mid-run", (it) => {
  it.effect(
    "the run goes on, its journal keeps every step; after the restart an interrupt from another process is honoured",
    () =>
      Effect.gen(function*() {
        const { controller, owner, receipt, stateId } = yield* outage
        assert.strictEqual(receipt._tag, "InterruptAccepted")
        assert.deepStrictEqual(receipt.stages.map((s) => s.stage), ["requested", "delivered", "stopped", "checkpointed"])
        // pushed once resubscribed (or found by the poll if the push raced the resubscription)
        assert.include(["push", "poll"], receipt.stages[1]!.detail)
        const ended = yield* owner.executions.awaitEnd(stateId)
        assert.deepStrictEqual([ended.status, ended.checkpoint, ended.interrupt?.message], [
          "interrupted",
          "saved",
          "after the outage"
        ])

        // the journal in Redis holds every tick, in order: nothing was lost in the outage
        const snapshot = yield* controller.executions.snapshot(stateId)
        const done = snapshot.completed.filter((s) => s.actor === "tick")
        assert.deepStrictEqual(done.map((s) => [s.occurrence, s.result]), [[1, 0], [2, 1], [3, 2], [4, 3], [5, 4]])
        assert.deepStrictEqual([snapshot.status, snapshot.metadata.interrupt?.triggeredBy], ["interrupted", "controller"])
        const records = Option.getOrThrow(yield* controller.store.read(stateId))
        const tags = records.map((r) => r._tag)
        assert.strictEqual(tags.filter((t) => t === "StepCompleted").length, 5)
        assert.deepStrictEqual(tags.filter((t) => t !== "StepCompleted" && t !== "StepInterrupted"), [
          "RunStarted",
          "RunInterrupted",
          "RunFinished"
        ])
      }).pipe(Effect.provide(quiet)),
    30_000
  )

  it.effect(
    "another process's view of the run after the outage: the owner's events under the owner's numbers, none twice",
    () =>
      Effect.gen(function*() {
        const { controller, owner, stateId } = yield* outage
        const ownerEvents = yield* Stream.runCollect(owner.executions.events(stateId))
        const seen = yield* Stream.runCollect(controller.executions.events(stateId))
        // events published while Redis was away may be missing here; what is here is the owner's
        const bySequence = new Map(ownerEvents.map((i) => [i.sequence, label(i.event)]))
        assert.deepStrictEqual(
          seen.map((i) => `${i.sequence} ${label(i.event)}`),
          seen.map((i) => `${i.sequence} ${bySequence.get(i.sequence)}`)
        )
        const ended = yield* owner.executions.awaitEnd(stateId)
        const info = yield* controller.executions.get(stateId)
        assert.deepStrictEqual([info.status, info.lastSequence], [ended.status, ended.lastSequence])
        assert.isAtMost(info.progress.completed, ended.progress.completed)
      }).pipe(Effect.provide(quiet)),
    30_000
  )
})
