import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Option, Schedule, Schema, Stream } from "effect"
import { TestClock } from "effect/testing"
import {
  Actor,
  type BusEvent,
  CheckpointError,
  CheckpointStore,
  type ExecutionEvent,
  type ExecutionState,
  type Journal,
  interruptible,
  type JournalRecord,
  parallel,
  Run,
  runEvent,
  saveCheckpoint,
  StateSnapshot,
  storage
} from "../src/index.ts"
import { makeMemory } from "../src/Checkpoint.ts"

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

/** Runs `program` in the background, handing back its execution state and journal once it has started. */
const start = <A, E, R>(
  program: Effect.Effect<A, E, R>,
  options: Run.RunOptions = {},
  resumeFrom?: string
) =>
  Effect.gen(function*() {
    const ready = yield* Deferred.make<{ state: ExecutionState["Service"]; journal: Journal["Service"] }>()
    const runOptions: Run.RunOptions = {
      ...options,
      onStart: (execution) =>
        Effect.andThen(
          options.onStart?.(execution) ?? Effect.void,
          Deferred.succeed(ready, { state: execution.state, journal: execution.journal })
        ).pipe(Effect.asVoid)
    }
    const run: Effect.Effect<Run.Outcome<A, E>, unknown, unknown> = resumeFrom === undefined
      ? Run.run(program, runOptions)
      : Run.resume(resumeFrom, program, runOptions)
    const fiber = yield* Effect.forkChild(run as Effect.Effect<Run.Outcome<A, E>>, {
      startImmediately: true
    })
    const { journal, state } = yield* Deferred.await(ready)
    return { fiber, state, journal }
  })

const loadSnapshot = (stateId: string) =>
  Effect.map(Effect.flatMap(CheckpointStore, (s) => s.load(stateId)), Option.getOrThrow)

const readRecords = (stateId: string) =>
  Effect.map(Effect.flatMap(CheckpointStore, (s) => s.read(stateId)), Option.getOrThrow)

const tags = (records: ReadonlyArray<JournalRecord>) => records.map((r) => r._tag)

const collect = () => {
  const events: Array<BusEvent> = []
  return { events, subscriber: (e: BusEvent) => Effect.sync(() => void events.push(e)) }
}

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
      // the journal: the start, each completed step as it happened, the interrupt, the end (last)
      assert.deepStrictEqual(tags(yield* readRecords("stopped")), [
        "RunStarted",
        "StepCompleted",
        "StepCompleted",
        "RunInterrupted",
        "RunFinished"
      ])
      yield* Effect.yieldNow
      assert.deepStrictEqual(finished, ["interrupted saved stopped"])
    }).pipe(withStore))

  it.effect("saveCheckpoint: false leaves the run not resumable (with durability exit, nothing is written)", () =>
    Effect.gen(function*() {
      const { program } = pagesWorkflow()
      const { fiber, state } = yield* start(program, { stateId: "nosave" })
      yield* TestClock.adjust("1500 millis")
      yield* state.requestInterrupt({ reason: "user_cancelled", saveCheckpoint: false })
      const outcome = yield* Fiber.join(fiber)
      assert.strictEqual(outcome._tag === "Interrupted" && Option.isNone(outcome.checkpointId), true)
      const snap = yield* loadSnapshot("nosave")
      assert.deepStrictEqual([snap.status, snap.resumable, snap.completed.length], ["interrupted", false, 1])
      const refused = yield* Effect.flip(Run.resume("nosave", program))
      assert.strictEqual(refused.reason, "not_resumable")
      assert.include(refused.message, "interrupted with saveCheckpoint: false")

      const exit = yield* start(program, { stateId: "nosave-exit", durability: "exit" })
      yield* TestClock.adjust("1500 millis")
      yield* exit.state.requestInterrupt({ reason: "user_cancelled", saveCheckpoint: false })
      yield* Fiber.join(exit.fiber)
      assert.isTrue(Option.isNone(yield* Effect.flatMap(CheckpointStore, (s) => s.read("nosave-exit"))))
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
      const outcome = yield* Run.run(runEvent(boom, undefined), { stateId: "failed" }).pipe(Effect.orDie)
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

        const seen = collect()
        const second = yield* start(program, { subscribers: [seen.subscriber] }, "pages")
        yield* TestClock.adjust("2 seconds")
        const outcome = yield* Fiber.join(second.fiber)
        assert.strictEqual(outcome._tag, "Completed")
        // pages 1 and 2 were not run again
        assert.deepStrictEqual(calls, [1, 2, 3, 4])
        const values = outcome._tag === "Completed" ? outcome.value : []
        assert.deepStrictEqual(values.map((v) => [v.page, v.serial]), expected._tag === "Completed" ? expected.value.map((v) => [v.page, v.serial]) : [])
        // the same idempotency keys as the first run's calls would have had
        assert.deepStrictEqual(values.map((v) => v.key), [1, 2, 3, 4].map((n) => `pages::fetch::tool_call#${n}`))
        const events = seen.events.flatMap((e) =>
          e._tag === "ExecutionEvent" && e.status !== "started" ? [`${e.status} ${e.occurrence}`] : []
        )
        assert.deepStrictEqual(events, ["recovered 1", "recovered 2", "completed 3", "completed 4"])
        // only this attempt's steps were journaled again
        assert.deepStrictEqual(
          (yield* second.journal.records).flatMap((r) => r._tag === "StepCompleted" ? [r.occurrence] : []),
          [3, 4]
        )
        const snap = yield* loadSnapshot("pages")
        assert.strictEqual(snap.status, "completed")
        assert.strictEqual(snap.createdAt, "1970-01-01T00:00:04.000Z") // kept from the first run
        assert.strictEqual(snap.attempts, 2)
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

    it.effect("members of a stopped group: their partial output is journaled (sync) before their one interrupted event", () =>
      Effect.gen(function*() {
        const { events, subscriber } = collect()
        const tokens = Stream.fromSchedule(Schedule.spaced("100 millis")).pipe(Stream.map((n) => `t${n} `))
        const llm = Actor.llm("answer", (_: number) => Stream.runCollect(interruptible(tokens)))
        const program = parallel([1, 2, 3].map((n) => runEvent(llm, n)), { concurrency: "unbounded" })
        const first = yield* start(program, { stateId: "partials", subscribers: [subscriber] })
        yield* TestClock.adjust("250 millis")
        yield* first.state.requestInterrupt({ reason: "user_cancelled" })
        assert.strictEqual((yield* Fiber.join(first.fiber))._tag, "Interrupted")
        const records = yield* readRecords("partials")
        const partials = records.flatMap((r) => r._tag === "StepInterrupted" ? [`${r.occurrence} ${String(r.partialOutput)}`] : [])
        assert.deepStrictEqual(partials.sort(), ["1 t0 t1 ", "2 t0 t1 ", "3 t0 t1 "])
        const interrupted = events.flatMap((e) => e._tag === "ExecutionEvent" && e.status === "interrupted" ? [e] : [])
        assert.deepStrictEqual(interrupted.map((e) => `${e.occurrence} ${String(e.partialOutput)}`).sort(), partials.sort())
        const cancelled = events.findIndex((e) => e._tag === "GroupEvent" && e.status === "cancelled")
        for (const e of interrupted) assert.isBelow(events.indexOf(e), cancelled)
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
          const store = yield* storage
          const seen = yield* store.get("visited")
          yield* store.set("visited", Option.match(seen, { onNone: () => 1, onSome: (n) => (n as number) + 1 }))
          yield* Effect.sleep("1 hour")
          return yield* store.get("visited")
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

  it.effect("durability sync (the default): each completed step is stored before anyone sees it", () =>
    Effect.gen(function*() {
      const { program } = pagesWorkflow()
      const stored: Array<string> = []
      // what the store held when each `completed` event was published
      const store = yield* CheckpointStore
      const watcher = (e: BusEvent) =>
        e._tag === "ExecutionEvent" && e.status === "completed"
          ? Effect.flatMap(store.load("every"), (snap) =>
            Effect.sync(() => void stored.push(`${e.occurrence}:${Option.getOrThrow(snap).completed.length}`)))
          : Effect.void
      const { fiber } = yield* start(program, { stateId: "every", subscribers: [watcher] })
      yield* TestClock.adjust("2 seconds")
      yield* Effect.yieldNow
      const snap = yield* loadSnapshot("every")
      assert.strictEqual(snap.status, "running") // its owner holds the lease
      assert.strictEqual(snap.completed.length, 2)
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(stored, ["1:1", "2:2", "3:3", "4:4"])
      assert.strictEqual((yield* loadSnapshot("every")).status, "completed")
    }).pipe(withStore))

  it.effect("saveCheckpoint saves on demand", () =>
    Effect.gen(function*() {
      const step = Actor.tool("step", (n: number) => Effect.succeed(n))
      const program = Effect.gen(function*() {
        yield* runEvent(step, 1)
        return yield* saveCheckpoint
      })
      const outcome = yield* Run.run(program, { stateId: "manual", workflow: "w", durability: "exit" })
      assert.deepStrictEqual(outcome._tag === "Completed" && outcome.value, "manual")
      const snap = yield* loadSnapshot("manual")
      assert.strictEqual(snap.status, "completed")
      assert.instanceOf(snap, StateSnapshot)
    }).pipe(withStore))

  describe("durability", () => {
    it.effect("a resume stopped before its first step keeps every completed step; the next resume recovers them all", () =>
      Effect.gen(function*() {
        const { calls, program } = pagesWorkflow()
        const first = yield* start(program, { stateId: "wipe" })
        yield* TestClock.adjust("2500 millis")
        yield* first.state.requestInterrupt()
        yield* Fiber.join(first.fiber)
        assert.strictEqual((yield* loadSnapshot("wipe")).completed.length, 2)
        // stopped at once: interrupted before the program runs a single step
        const stopped = yield* Run.resume("wipe", program, {
          onStart: ({ state }) => Effect.asVoid(state.requestInterrupt({ reason: "custom", message: "stop file" }))
        })
        assert.strictEqual(stopped._tag, "Interrupted")
        const snap = yield* loadSnapshot("wipe")
        assert.deepStrictEqual([snap.status, snap.completed.length, snap.attempts], ["interrupted", 2, 2])
        // killed on the next attempt (its lease is gone, its end never written): still nothing lost
        const seen = collect()
        const last = yield* start(program, { subscribers: [seen.subscriber] }, "wipe")
        yield* TestClock.adjust("2 seconds")
        const outcome = yield* Fiber.join(last.fiber)
        assert.strictEqual(outcome._tag, "Completed")
        assert.deepStrictEqual(calls, [1, 2, 3, 4])
        assert.strictEqual(
          seen.events.filter((e) => e._tag === "ExecutionEvent" && e.status === "recovered").length,
          2
        )
        assert.strictEqual((yield* loadSnapshot("wipe")).attempts, 3)
      }).pipe(withStore))

    it.effect("exit writes once at the end; async writes in order and flushes at the end", () =>
      Effect.gen(function*() {
        for (const durability of ["exit", "async"] as const) {
          const { program } = pagesWorkflow()
          const id = `mode-${durability}`
          const run = yield* start(program, { stateId: id, durability })
          yield* TestClock.adjust("2 seconds")
          yield* Effect.yieldNow
          const mid = yield* Effect.flatMap(CheckpointStore, (s) => s.read(id))
          if (durability === "exit") assert.isTrue(Option.isNone(mid))
          else assert.deepStrictEqual(tags(Option.getOrThrow(mid)), ["RunStarted", "StepCompleted", "StepCompleted"])
          yield* TestClock.adjust("2 seconds")
          assert.strictEqual((yield* Fiber.join(run.fiber))._tag, "Completed")
          assert.deepStrictEqual(tags(yield* readRecords(id)), [
            "RunStarted",
            "StepCompleted",
            "StepCompleted",
            "StepCompleted",
            "StepCompleted",
            "RunFinished"
          ])
        }
      }).pipe(withStore))

    it.effect("a completed run of 1,000 steps ends its journal with RunFinished completed (sync)", () =>
      Effect.gen(function*() {
        const step = Actor.tool("step", (n: number) => Effect.succeed(n * 2))
        const program = Effect.forEach(Array.from({ length: 1000 }, (_, i) => i), (n) => runEvent(step, n))
        const outcome = yield* Run.run(program, { stateId: "thousand" })
        assert.strictEqual(outcome._tag, "Completed")
        const records = yield* readRecords("thousand")
        assert.strictEqual(records.length, 1002)
        const last = records.at(-1)!
        assert.deepStrictEqual(last._tag === "RunFinished" && last.status, "completed")
        assert.strictEqual((yield* loadSnapshot("thousand")).status, "completed")
      }).pipe(withStore))

    it.effect("an existing id is refused (exists); force starts over", () =>
      Effect.gen(function*() {
        const step = Actor.tool("step", (n: number) => Effect.succeed(n))
        yield* Run.run(runEvent(step, 1), { stateId: "again" })
        const refused = yield* Effect.flip(Run.run(runEvent(step, 2), { stateId: "again" }))
        assert.strictEqual(refused.reason, "exists")
        assert.strictEqual(refused.message, "Execution again already exists (completed): resume it, or start over with --force")
        const forced = yield* Run.run(runEvent(step, 3), { stateId: "again", force: true })
        assert.deepStrictEqual(forced._tag === "Completed" && forced.value, 3)
        assert.strictEqual((yield* loadSnapshot("again")).attempts, 1)
      }).pipe(withStore))

    it.effect("a run alive elsewhere is not resumed (owned); two racing resumes: exactly one runs", () =>
      Effect.gen(function*() {
        const { calls, program } = pagesWorkflow()
        const first = yield* start(program, { stateId: "owned", owner: "worker-1" })
        yield* TestClock.adjust("1 second")
        const refused = yield* Effect.flip(Run.resume("owned", program))
        assert.strictEqual(refused.reason, "owned")
        assert.strictEqual(refused.message, "Execution owned is still running on worker-1")
        yield* first.state.requestInterrupt()
        yield* Fiber.join(first.fiber)
        const racers = yield* Effect.forEach(
          ["a", "b"],
          (owner) => Effect.forkChild(Effect.exit(Run.resume("owned", program, { owner })), { startImmediately: true })
        )
        yield* TestClock.adjust("3 seconds")
        const exits = yield* Effect.forEach(racers, Fiber.join)
        const won = exits.filter((e) => e._tag === "Success")
        const lost = exits.flatMap((e) => e._tag === "Failure" ? [e] : [])
        assert.strictEqual(won.length, 1)
        assert.strictEqual(lost.length, 1)
        assert.include(String(lost[0]!.cause), "is still running on")
        assert.deepStrictEqual(calls, [1, 2, 3, 4])
      }).pipe(withStore))
  })

  describe("an unavailable store", () => {
    // A memory store whose appends fail while `down` is set: a disk full, Redis restarting.
    const flaky = () => {
      const control = { down: false, attempts: 0 }
      const inner = makeMemory()
      const store: CheckpointStore["Service"] = {
        ...inner,
        append: (stateId, records) =>
          Effect.suspend(() => {
            control.attempts++
            return control.down
              ? Effect.fail(new CheckpointError({ reason: "io", stateId, detail: "ENOSPC: no space left on device" }))
              : inner.append(stateId, records)
          })
      }
      return { control, layer: Layer.succeed(CheckpointStore, store) }
    }

    it.effect("appends are held and retried in order; the run goes on; a LogEvent says so; nothing is lost", () => {
      const { control, layer } = flaky()
      return Effect.gen(function*() {
        const { calls, program } = pagesWorkflow()
        const seen = collect()
        const run = yield* start(program, { stateId: "flaky", subscribers: [seen.subscriber] })
        yield* TestClock.adjust("1 second")
        control.down = true
        yield* TestClock.adjust("2 seconds") // steps 2 and 3 complete while the store is away
        assert.deepStrictEqual(calls, [1, 2, 3])
        control.down = false
        yield* TestClock.adjust("3 seconds") // the writer's backoff comes round; step 4 completes
        const outcome = yield* Fiber.join(run.fiber)
        assert.strictEqual(outcome._tag, "Completed")
        const logs = seen.events.flatMap((e) => e._tag === "LogEvent" ? [`${e.level}: ${e.message}`] : [])
        assert.include(logs[0], "warning: Checkpoint store unavailable (Checkpoint storage failed for flaky: ENOSPC: no space left on device): 1 record(s) held")
        assert.include(logs[1], "info: Checkpoint store is back")
        const snap = yield* loadSnapshot("flaky")
        assert.deepStrictEqual(snap.completed.map((s) => s.occurrence), [1, 2, 3, 4])
        assert.strictEqual(snap.status, "completed")
        const finished = seen.events.find((e) => e._tag === "ExecutionFinished")
        assert.strictEqual(finished?._tag === "ExecutionFinished" && finished.checkpoint, "saved")
      }).pipe(Effect.provide(layer))
    })

    it.effect("a store still away at the end: the end says not saved, with the reason", () => {
      const { control, layer } = flaky()
      return Effect.gen(function*() {
        const { program } = pagesWorkflow()
        const seen = collect()
        const run = yield* start(program, { stateId: "gone", subscribers: [seen.subscriber], flushTimeout: "5 seconds" })
        yield* TestClock.adjust("1500 millis")
        control.down = true
        yield* run.state.requestInterrupt({ reason: "user_cancelled" })
        yield* TestClock.adjust("10 seconds")
        const outcome = yield* Fiber.join(run.fiber)
        assert.deepStrictEqual(outcome._tag === "Interrupted" && Option.isNone(outcome.checkpointId), true)
        const finished = seen.events.find((e) => e._tag === "ExecutionFinished")
        assert.deepStrictEqual(
          finished?._tag === "ExecutionFinished" && [finished.checkpoint, finished.checkpointDetail],
          ["failed", "Checkpoint storage failed for gone: ENOSPC: no space left on device"]
        )
        // what was stored before the outage is still there
        control.down = false
        assert.strictEqual((yield* loadSnapshot("gone")).completed.length, 1)
      }).pipe(Effect.provide(layer))
    })
  })
})
