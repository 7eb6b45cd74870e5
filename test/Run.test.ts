import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Option, Schema } from "effect"
import { TestClock } from "effect/testing"
import {
  Actor,
  CheckpointStore,
  ExecutionState,
  type ExecutionEvent,
  parallel,
  Run,
  runEvent,
  saveCheckpoint,
  StateSnapshot
} from "../src/index.ts"

// One store shared by a test's runs: what a file or Redis store is across processes.
const withStore = Effect.provide(CheckpointStore.layerMemory)

/** A workflow of four page fetches (1 s each) at one address; counts how often each page really ran. */
const pagesWorkflow = () => {
  const calls: Array<number> = []
  let serial = 0
  const fetch = Actor.tool("fetch", (page: number, ctx) =>
    Effect.gen(function*() {
      yield* Effect.sleep("1 second")
      calls.push(page)
      return { page, serial: ++serial, key: ctx.idempotencyKey }
    }))
  const program = Effect.gen(function*() {
    const out: Array<{ readonly page: number; readonly serial: number; readonly key: string }> = []
    for (const page of [1, 2, 3, 4]) out.push(yield* runEvent(fetch, page))
    return out
  })
  return { calls, program }
}

/** Runs `program` in the background, handing back its execution state once it has started. */
const start = <A, E, R>(
  program: Effect.Effect<A, E, R>,
  options: Run.RunOptions = {},
  resumeFrom?: string
) =>
  Effect.gen(function*() {
    const ready = yield* Deferred.make<ExecutionState["Service"]>()
    const runOptions: Run.RunOptions = {
      ...options,
      onStart: ({ state }) => Deferred.succeed(ready, state).pipe(Effect.asVoid)
    }
    const run: Effect.Effect<Run.Outcome<A, E>, unknown, unknown> = resumeFrom === undefined
      ? Run.run(program, runOptions)
      : Run.resume(resumeFrom, program, runOptions)
    const fiber = yield* Effect.forkChild(run as Effect.Effect<Run.Outcome<A, E>>, {
      startImmediately: true
    })
    const state = yield* Deferred.await(ready)
    return { fiber, state }
  })

const loadSnapshot = (stateId: string) =>
  Effect.map(Effect.flatMap(CheckpointStore, (s) => s.load(stateId)), Option.getOrThrow)

describe("Run", () => {
  it.effect("a completed run returns its value and saves status completed", () =>
    Effect.gen(function*() {
      const { program } = pagesWorkflow()
      const { fiber } = yield* start(program, { stateId: "done", workflow: "pages", input: { pages: 4 } })
      yield* TestClock.adjust("4 seconds")
      const outcome = yield* Fiber.join(fiber)
      assert.strictEqual(outcome._tag, "Completed")
      assert.deepStrictEqual(outcome._tag === "Completed" && outcome.value.map((p) => p.page), [1, 2, 3, 4])
      const snap = yield* loadSnapshot("done")
      assert.strictEqual(snap.status, "completed")
      assert.deepStrictEqual(snap.metadata.workflow, "pages")
      assert.deepStrictEqual(snap.metadata.input, { pages: 4 })
      assert.strictEqual(snap.completed.length, 4)
      // a completed run cannot be resumed
      const error = yield* Effect.flip(Run.resume("done", program))
      assert.strictEqual(error.reason, "not_resumable")
      assert.include(error.message, "Execution done cannot be resumed: it already completed at 1970-01-01T00:00:04.000Z")
    }).pipe(withStore))

  it.effect("an interrupt writes the snapshot (status interrupted) and announces it", () =>
    Effect.gen(function*() {
      const { program } = pagesWorkflow()
      const finished: Array<string> = []
      const { fiber, state } = yield* start(program, {
        stateId: "stopped",
        subscribers: [(e) => Effect.sync(() => e._tag === "ExecutionFinished" && finished.push(`${e.status} ${e.checkpoint} ${e.checkpointId}`))]
      })
      yield* TestClock.adjust("2500 millis")
      yield* state.requestInterrupt({ reason: "user_cancelled", message: "Stop", triggeredBy: "tester" })
      const outcome = yield* Fiber.join(fiber)
      assert.strictEqual(outcome._tag, "Interrupted")
      if (outcome._tag !== "Interrupted") return
      assert.strictEqual(outcome.signal.reason, "user_cancelled")
      assert.deepStrictEqual(outcome.checkpointId, Option.some("stopped"))
      const snap = yield* loadSnapshot("stopped")
      assert.strictEqual(snap.status, "interrupted")
      assert.strictEqual(snap.metadata.interrupt?.reason, "user_cancelled")
      assert.strictEqual(snap.metadata.interrupt?.message, "Stop")
      assert.strictEqual(snap.metadata.interrupt?.triggeredBy, "tester")
      assert.deepStrictEqual(snap.completed.map((e) => `${e.address}#${e.occurrence}`), ["fetch::tool_call#1", "fetch::tool_call#2"])
      assert.deepStrictEqual(snap.events.map((e) => e.status), ["started", "completed", "started", "completed", "started", "interrupted"])
      yield* Effect.yieldNow
      assert.deepStrictEqual(finished, ["interrupted saved stopped"])
    }).pipe(withStore))

  it.effect("saveCheckpoint: false writes nothing", () =>
    Effect.gen(function*() {
      const { program } = pagesWorkflow()
      const { fiber, state } = yield* start(program, { stateId: "nosave" })
      yield* TestClock.adjust("1500 millis")
      yield* state.requestInterrupt({ reason: "user_cancelled", saveCheckpoint: false })
      const outcome = yield* Fiber.join(fiber)
      assert.strictEqual(outcome._tag === "Interrupted" && Option.isNone(outcome.checkpointId), true)
      assert.isTrue(Option.isNone(yield* Effect.flatMap(CheckpointStore, (s) => s.load("nosave"))))
    }).pipe(withStore))

  it.effect("without a store nothing is saved and the outcome says so", () =>
    Effect.gen(function*() {
      const { program } = pagesWorkflow()
      const { fiber, state } = yield* start(program)
      yield* state.requestInterrupt()
      const outcome = yield* Fiber.join(fiber)
      assert.strictEqual(outcome._tag === "Interrupted" && Option.isNone(outcome.checkpointId), true)
    }))

  it.effect("a failed run returns its cause and saves status failed", () =>
    Effect.gen(function*() {
      const boom = Actor.agent("boom", () => Effect.fail(new Error("kaput")))
      const outcome = yield* Run.run(runEvent(boom, undefined), { stateId: "failed" })
      assert.strictEqual(outcome._tag, "Failed")
      const snap = yield* loadSnapshot("failed")
      assert.strictEqual(snap.status, "failed")
      assert.strictEqual(snap.metadata.error, "kaput")
    }).pipe(withStore))

  describe("resume", () => {
    it.effect("completed events run exactly once across interrupt + resume; the result equals an uninterrupted run", () =>
      Effect.gen(function*() {
        // the reference: an uninterrupted run
        const reference = pagesWorkflow()
        const { fiber: refFiber } = yield* start(reference.program, { stateId: "reference" })
        yield* TestClock.adjust("4 seconds")
        const expected = yield* Fiber.join(refFiber)

        const { calls, program } = pagesWorkflow()
        const first = yield* start(program, { stateId: "pages" })
        yield* TestClock.adjust("2500 millis")
        yield* first.state.requestInterrupt()
        assert.strictEqual((yield* Fiber.join(first.fiber))._tag, "Interrupted")
        assert.deepStrictEqual(calls, [1, 2])

        const second = yield* start(program, {}, "pages")
        yield* TestClock.adjust("2 seconds")
        const outcome = yield* Fiber.join(second.fiber)
        assert.strictEqual(outcome._tag, "Completed")
        // pages 1 and 2 were not run again
        assert.deepStrictEqual(calls, [1, 2, 3, 4])
        const values = outcome._tag === "Completed" ? outcome.value : []
        assert.deepStrictEqual(values.map((v) => [v.page, v.serial]), expected._tag === "Completed" ? expected.value.map((v) => [v.page, v.serial]) : [])
        // the same idempotency keys as the first run's calls would have had
        assert.deepStrictEqual(values.map((v) => v.key), [1, 2, 3, 4].map((n) => `pages::fetch::tool_call#${n}`))
        const events = (yield* second.state.journal).map((e) => `${e.status} ${e.occurrence}`)
        assert.deepStrictEqual(events, ["recovered 1", "recovered 2", "completed 3", "completed 4"])
        const snap = yield* loadSnapshot("pages")
        assert.strictEqual(snap.status, "completed")
        assert.strictEqual(snap.createdAt, "1970-01-01T00:00:04.000Z") // kept from the first run
      }).pipe(withStore))

    it.effect("a tool called twice at one address gets its two distinct results back", () =>
      Effect.gen(function*() {
        const { program } = pagesWorkflow()
        const first = yield* start(program, { stateId: "distinct" })
        yield* TestClock.adjust("2 seconds")
        yield* first.state.requestInterrupt()
        yield* Fiber.join(first.fiber)
        const resumed = yield* start(program, {}, "distinct")
        yield* TestClock.adjust("2 seconds")
        const outcome = yield* Fiber.join(resumed.fiber)
        const values = outcome._tag === "Completed" ? outcome.value : []
        // not the first result twice (the seed's defect): each occurrence gets its own
        assert.deepStrictEqual(values.map((v) => [v.page, v.serial]), [[1, 1], [2, 2], [3, 3], [4, 4]])
      }).pipe(withStore))

    it.effect("the recovered event says so", () =>
      Effect.gen(function*() {
        const { program } = pagesWorkflow()
        const first = yield* start(program, { stateId: "recovered" })
        yield* TestClock.adjust("1 second")
        yield* first.state.requestInterrupt()
        yield* Fiber.join(first.fiber)
        const seen: Array<ExecutionEvent> = []
        const resumed = yield* start(program, {
          subscribers: [(e) => Effect.sync(() => e._tag === "ExecutionEvent" && seen.push(e))]
        }, "recovered")
        yield* TestClock.adjust("3 seconds")
        yield* Fiber.join(resumed.fiber)
        const recovered = seen.filter((e) => e.status === "recovered")
        assert.strictEqual(recovered.length, 1)
        assert.strictEqual(recovered[0]!.message, "Recovered from restored state")
        assert.deepStrictEqual(recovered[0]!.result, { page: 1, serial: 1, key: "recovered::fetch::tool_call#1" })
      }).pipe(withStore))

    it.effect("resume twice: a resumed run can be interrupted and resumed again", () =>
      Effect.gen(function*() {
        const { calls, program } = pagesWorkflow()
        const first = yield* start(program, { stateId: "twice" })
        yield* TestClock.adjust("1 second")
        yield* first.state.requestInterrupt()
        yield* Fiber.join(first.fiber)
        const second = yield* start(program, {}, "twice")
        yield* TestClock.adjust("1500 millis")
        yield* second.state.requestInterrupt({ reason: "timeout" })
        const mid = yield* Fiber.join(second.fiber)
        assert.strictEqual(mid._tag, "Interrupted")
        assert.strictEqual((yield* loadSnapshot("twice")).completed.length, 2)
        const third = yield* start(program, {}, "twice")
        yield* TestClock.adjust("2 seconds")
        const outcome = yield* Fiber.join(third.fiber)
        assert.strictEqual(outcome._tag, "Completed")
        assert.deepStrictEqual(calls, [1, 2, 3, 4])
      }).pipe(withStore))

    it.effect("an interrupt during a parallel group: the resume runs only the unfinished branches", () =>
      Effect.gen(function*() {
        const runs: Array<string> = []
        const search = Actor.tool("search", (source: string) =>
          Effect.gen(function*() {
            yield* Effect.sleep(source === "web" ? "1 second" : "5 seconds")
            runs.push(source)
            return `${source} hits`
          }))
        const program = parallel(["web", "news", "papers"].map((s) => runEvent(search, s, { tag: s })), {
          concurrency: "unbounded"
        }).pipe(Effect.map((results) => results.map((r) => r.result)))
        const first = yield* start(program, { stateId: "group" })
        yield* TestClock.adjust("2 seconds")
        yield* first.state.requestInterrupt()
        assert.strictEqual((yield* Fiber.join(first.fiber))._tag, "Interrupted")
        assert.deepStrictEqual(runs, ["web"])
        const second = yield* start(program, {}, "group")
        yield* TestClock.adjust("5 seconds")
        const outcome = yield* Fiber.join(second.fiber)
        assert.deepStrictEqual(outcome._tag === "Completed" && outcome.value, ["web hits", "news hits", "papers hits"])
        assert.deepStrictEqual(runs.sort(), ["news", "papers", "web"])
      }).pipe(withStore))

    it.effect("results are decoded with the actor's output Schema", () =>
      Effect.gen(function*() {
        let calls = 0
        const when = Actor.tool("when", (_: number) => Effect.sync(() => (calls++, new Date(86_400_000))), {
          output: Schema.DateFromString
        })
        const program = Effect.gen(function*() {
          const date = yield* runEvent(when, 1)
          yield* Effect.sleep("1 hour")
          return date
        })
        const first = yield* start(program, { stateId: "dates" })
        yield* first.state.requestInterrupt()
        yield* Fiber.join(first.fiber)
        const second = yield* start(program, {}, "dates")
        yield* TestClock.adjust("1 hour")
        const outcome = yield* Fiber.join(second.fiber)
        assert.instanceOf(outcome._tag === "Completed" && outcome.value, Date)
        assert.strictEqual(calls, 1)
      }).pipe(withStore))

    it.effect("storage set in one run is there after the resume", () =>
      Effect.gen(function*() {
        const program = Effect.gen(function*() {
          const state = yield* ExecutionState
          const seen = yield* state.storage.get("visited")
          yield* state.storage.set("visited", Option.match(seen, { onNone: () => 1, onSome: (n) => (n as number) + 1 }))
          yield* Effect.sleep("1 hour")
          return yield* state.storage.get("visited")
        })
        const first = yield* start(program, { stateId: "storage" })
        yield* first.state.requestInterrupt()
        yield* Fiber.join(first.fiber)
        assert.deepStrictEqual((yield* loadSnapshot("storage")).storage, { visited: 1 })
        const second = yield* start(program, {}, "storage")
        yield* TestClock.adjust("1 hour")
        const outcome = yield* Fiber.join(second.fiber)
        assert.deepStrictEqual(outcome._tag === "Completed" && outcome.value, Option.some(2))
      }).pipe(withStore))

    it.effect("unknown ids, corrupt and newer snapshots are typed errors", () =>
      Effect.gen(function*() {
        const { program } = pagesWorkflow()
        assert.strictEqual((yield* Effect.flip(Run.resume("ghost", program))).reason, "not_found")
        assert.include((yield* Effect.flip(Run.resume("ghost", program))).message, "No checkpoint for execution ghost (memory)")
        assert.strictEqual((yield* Effect.flip(Run.resume("../etc", program))).reason, "invalid_state_id")
      }).pipe(withStore))
  })

  it.effect("saveEvery: event writes a running snapshot after each completed event", () =>
    Effect.gen(function*() {
      const { program } = pagesWorkflow()
      const { fiber } = yield* start(program, { stateId: "every", saveEvery: "event" })
      yield* TestClock.adjust("2 seconds")
      yield* Effect.yieldNow
      const snap = yield* loadSnapshot("every")
      assert.strictEqual(snap.status, "running")
      assert.strictEqual(snap.completed.length, 2)
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(fiber)
      assert.strictEqual((yield* loadSnapshot("every")).status, "completed")
    }).pipe(withStore))

  it.effect("saveCheckpoint saves on demand", () =>
    Effect.gen(function*() {
      const step = Actor.tool("step", (n: number) => Effect.succeed(n))
      const program = Effect.gen(function*() {
        yield* runEvent(step, 1)
        return yield* saveCheckpoint
      })
      const outcome = yield* Run.run(program, { stateId: "manual", workflow: "w" })
      assert.deepStrictEqual(outcome._tag === "Completed" && outcome.value, "manual")
      const snap = yield* loadSnapshot("manual")
      assert.strictEqual(snap.status, "completed") // the final save replaced the manual one
      assert.instanceOf(snap, StateSnapshot)
    }).pipe(withStore))
})
