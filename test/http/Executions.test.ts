import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Effect, Exit, Fiber, Layer, Option, Schema, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import { Executions, type LocalOptions } from "../../src/http/Executions.ts"
import { makeMemory } from "../../src/Checkpoint.ts"
import { Actor, CheckpointStore, runEvent, StopPolicy, Workflow } from "../../src/index.ts"
import { freshGate, openGate, testWorkflows } from "./utils.ts"

// A step that takes 5 seconds (of the test clock), then another one.
const slow = Workflow.make({
  name: "slow",
  description: "two 5-second steps",
  input: Schema.Struct({}),
  example: {},
  run: () =>
    Effect.gen(function*() {
      const step = Actor.tool("step", (n: number) => Effect.as(Effect.sleep("5 seconds"), n), { output: Schema.Number })
      yield* runEvent(step, 1)
      return yield* runEvent(step, 2)
    })
})

const workflows = [...testWorkflows, Workflow.register(slow)]

const local = (options: LocalOptions = {}) =>
  Executions.layerLocal({ workflows, ...options }).pipe(Layer.provideMerge(CheckpointStore.layerMemory))

/** Reads an execution's events until its current run ends. */
const eventsOf = (id: string, after = 0) =>
  Effect.flatMap(Executions, (executions) =>
    Effect.flatMap(executions.events(id, { after }), (stream) =>
      Stream.runCollect(stream).pipe(Effect.map((items) => items.map((item) => item.event)))))

/** Forks a reader of an execution's events that resolves `started` once `wait` has started. */
const awaitWaitStarted = (id: string) =>
  Effect.gen(function*() {
    const executions = yield* Executions
    const started = yield* Deferred.make<void>()
    const stream = yield* executions.events(id)
    yield* stream.pipe(
      Stream.runForEach((item) =>
        item.event._tag === "ExecutionEvent" && item.event.actor === "wait" && item.event.status === "started"
          ? Deferred.succeed(started, undefined)
          : Effect.void
      ),
      Effect.forkChild({ startImmediately: true })
    )
    yield* Deferred.await(started)
  })

describe("Executions.layerLocal", () => {
  it.effect("forgets a finished execution after the retention time", () =>
    Effect.gen(function*() {
      const executions = yield* Executions
      const id = yield* executions.start({ workflow: "quick", input: { n: 2 } }, { startedBy: "test" })
      const events = yield* eventsOf(id)
      assert.deepStrictEqual(events.map((e) => e._tag), ["ExecutionEvent", "ExecutionEvent", "ExecutionFinished"])
      assert.strictEqual((yield* executions.get(id)).status, "completed")
      yield* TestClock.adjust("59 seconds")
      assert.strictEqual((yield* executions.get(id)).status, "completed")
      yield* TestClock.adjust("1 second")
      const error = yield* Effect.flip(executions.get(id))
      assert.strictEqual(error._tag, "ExecutionNotFound")
      assert.strictEqual(error.message, `No execution "${id}"`)
      assert.deepStrictEqual(yield* executions.list, [])
      assert.strictEqual((yield* Effect.flip(executions.events(id)))._tag, "ExecutionNotFound")
    }).pipe(Effect.provide(local({ retention: "1 minute" }))))

  it.effect("a running execution is never forgotten; a resume cancels the retention timer", () =>
    Effect.gen(function*() {
      const executions = yield* Executions
      const gate = freshGate("retention")
      const id = yield* executions.start({ workflow: "gated", input: { gate } }, { startedBy: "test" })
      yield* TestClock.adjust("10 minutes")
      assert.strictEqual((yield* executions.get(id)).status, "running")
      yield* executions.interrupt(id, { triggeredBy: "test", await: "checkpointed" })
      yield* TestClock.adjust("30 seconds")
      yield* executions.resume(id, { resumedBy: "test" })
      yield* TestClock.adjust("2 minutes")
      const info = yield* executions.get(id)
      assert.strictEqual(info.status, "running")
      assert.strictEqual(info.runs, 2)
      yield* openGate(gate)
      yield* eventsOf(id)
    }).pipe(Effect.provide(local({ retention: "1 minute" }))))

  it.effect("resumes from the checkpoint store an execution it has forgotten", () =>
    Effect.gen(function*() {
      const executions = yield* Executions
      const gate = freshGate("forgotten")
      const id = yield* executions.start({ workflow: "gated", input: { gate } }, { startedBy: "alice" })
      yield* awaitWaitStarted(id)
      const receipt = yield* executions.interrupt(id, { triggeredBy: "alice", await: "checkpointed" })
      assert.strictEqual(receipt.checkpointId, id)
      yield* TestClock.adjust("2 minutes")
      assert.strictEqual((yield* Effect.flip(executions.get(id)))._tag, "ExecutionNotFound")
      assert.strictEqual(yield* executions.resume(id, { resumedBy: "bob" }), id)
      const info = yield* executions.get(id)
      assert.strictEqual(info.status, "running")
      assert.strictEqual(info.workflow, "gated")
      assert.deepStrictEqual(info.input, { gate })
      yield* openGate(gate)
      const events = yield* eventsOf(id)
      const last = events[events.length - 1]!
      assert.strictEqual(last._tag === "ExecutionFinished" && last.status, "completed")
      assert.isTrue(events.some((e) => e._tag === "ExecutionEvent" && e.status === "recovered" && e.actor === "prepare"))
      // unknown everywhere
      assert.strictEqual((yield* Effect.flip(executions.resume("never-was", { resumedBy: "bob" })))._tag, "ExecutionNotFound")
    }).pipe(Effect.provide(local({ retention: "1 minute" }))))

  it.effect("shutdown drains running work (system_shutdown) and checkpoints it", () =>
    Effect.gen(function*() {
      const executions = yield* Executions
      const store = yield* CheckpointStore
      const id = yield* executions.start({ workflow: "slow" }, { startedBy: "test" })
      const shutdown = yield* Effect.forkChild(executions.shutdown, { startImmediately: true })
      // drain: the running step may finish (5 s), nothing new starts
      yield* TestClock.adjust("5 seconds")
      const stopped = yield* Fiber.join(shutdown)
      assert.deepStrictEqual(stopped.map((e) => e.executionId), [id])
      const info = yield* executions.get(id)
      assert.strictEqual(info.status, "interrupted")
      assert.strictEqual(info.interrupt?.reason, "system_shutdown")
      assert.strictEqual(info.interrupt?.triggeredBy, "server")
      // step 1 finished during the drain; step 2 never started
      assert.deepStrictEqual(info.progress, {
        events: 4,
        started: 1,
        completed: 1,
        failed: 0,
        interrupted: 0,
        retrying: 0,
        recovered: 0
      })
      const snapshot = Option.getOrThrow(yield* store.load(id))
      assert.strictEqual(snapshot.status, "interrupted")
      assert.strictEqual(snapshot.metadata.interrupt?.reason, "system_shutdown")
      assert.deepStrictEqual(snapshot.completed.map((e) => e.actor), ["step"])
      // idempotent, and nothing starts any more
      assert.deepStrictEqual(yield* executions.shutdown, [])
      const refused = yield* Effect.flip(executions.start({ workflow: "quick" }, { startedBy: "test" }))
      assert.strictEqual(refused._tag, "ShuttingDown")
    }).pipe(Effect.provide(local())))

  it.effect("closing the layer interrupts running executions and saves their checkpoints", () =>
    Effect.gen(function*() {
      const store = makeMemory()
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        Executions.layerLocal({ workflows }).pipe(Layer.provide(Layer.succeed(CheckpointStore, store))),
        scope
      )
      const executions = Context.get(context, Executions)
      const gate = freshGate("close")
      const id = yield* executions.start({ workflow: "gated", input: { gate } }, { startedBy: "test" })
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void), { startImmediately: true })
      // the gated step never ends by itself: the drain deadline (10 s) aborts it
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.join(closing)
      const snapshot = Option.getOrThrow(yield* store.load(id))
      assert.strictEqual(snapshot.status, "interrupted")
      assert.strictEqual(snapshot.metadata.interrupt?.reason, "system_shutdown")
      assert.strictEqual(snapshot.metadata.interrupt?.message, "The server is shutting down")
    }))

  it.effect("stages: an interrupt answered before the run stopped gets them later; ?await stops waiting at its timeout", () =>
    Effect.gen(function*() {
      const executions = yield* Executions
      const id = yield* executions.start({ workflow: "slow" }, { startedBy: "test" })
      // a drain policy for user stops: the running 5-second step is let finish
      const waiting = yield* Effect.forkChild(
        executions.interrupt(id, { triggeredBy: "alice", await: "stopped", awaitTimeout: "1 second" }),
        { startImmediately: true }
      )
      yield* TestClock.adjust("1 second")
      const early = yield* Fiber.join(waiting)
      assert.strictEqual(early._tag, "InterruptAccepted")
      assert.deepStrictEqual(early.stages.map((s) => s.stage), ["requested", "delivered"])
      yield* TestClock.adjust("4 seconds")
      const later = yield* executions.interrupt(id, { triggeredBy: "bob", await: "checkpointed" })
      assert.strictEqual(later._tag, "AlreadyInterrupted")
      assert.deepStrictEqual(later.stages.map((s) => s.stage), ["requested", "delivered", "stopped", "checkpointed"])
      assert.strictEqual(later.signal.triggeredBy, "alice")
      assert.strictEqual(later.checkpointId, id)
    }).pipe(Effect.provide(local({ stopPolicy: { user_cancelled: StopPolicy.drain("10 seconds") } }))))
})
