import { assert, describe, it } from "@effect/vitest"
import { Deferred, type Duration, Effect, Exit, Fiber, Option, Ref, Schema } from "effect"
import { TestClock } from "effect/testing"
import {
  Actor,
  ActorContractError,
  checkInterrupt,
  eventDepth,
  ExecutionInterrupted,
  ExecutionState,
  InterruptSignal,
  requestInterrupt,
  runEvent,
  StopPolicy,
  toResult
} from "../src/index.ts"
import { withState } from "./utils/layers.ts"
import { executionEvents, interruptEventCount, timeline } from "./utils/bus.ts"


class SearchFailed extends Schema.TaggedError<SearchFailed>()("SearchFailed", { query: Schema.String }) {
  override get message() {
    return `no results for ${this.query}`
  }
}

const double = Actor.tool("double", (n: number) => Effect.succeed(n * 2))

describe("runEvent", () => {
  it.effect("a completed event: started then completed, with address, occurrence, time and result", () =>
    Effect.gen(function*() {
      const slow = Actor.tool("slow", (n: number) => Effect.as(Effect.sleep("2 seconds"), n + 1))
      const fiber = yield* Effect.forkChild(runEvent(slow, 41), { startImmediately: true })
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual(yield* Fiber.join(fiber), 42)
      const events = yield* executionEvents
      assert.deepStrictEqual(events.map((e) => e.status), ["started", "completed"])
      const [started, completed] = events as [typeof events[0], typeof events[0]]
      assert.strictEqual(started.address, "slow::tool_call")
      assert.strictEqual(started.actor, "slow")
      assert.strictEqual(started.kind, "tool")
      assert.strictEqual(started.detail, "41")
      assert.strictEqual(started.occurrence, 1)
      assert.strictEqual(started.attempt, 1)
      assert.strictEqual(completed.executionTime, 2000)
      assert.strictEqual(completed.result, 42)
      assert.strictEqual(completed.detail, "42")
      assert.strictEqual(completed.timestamp, "1970-01-01T00:00:02.000Z")
    }).pipe(withState()))

  it.effect("the started detail is the input, truncated", () =>
    Effect.gen(function*() {
      const echo = Actor.tool("echo", (s: string) => Effect.succeed(s.length))
      yield* runEvent(echo, "x".repeat(500))
      const [started] = yield* executionEvents
      assert.strictEqual(started!.detail!.length, 200)
      assert.isTrue(started!.detail!.endsWith("…"))
    }).pipe(withState()))

  it.effect("nested calls build addresses; tags append; the n-th call is occurrence n", () =>
    Effect.gen(function*() {
      const search = Actor.tool("search", (q: string) => Effect.succeed(`hits for ${q}`))
      const planner = Actor.agent("planner", (topic: string) =>
        Effect.gen(function*() {
          yield* runEvent(search, `${topic} 1`)
          yield* runEvent(search, `${topic} 2`)
          return yield* runEvent(search, topic, { tag: "web" })
        }))
      yield* runEvent(planner, "effect")
      const events = yield* executionEvents
      assert.deepStrictEqual(events.filter((e) => e.status === "completed").map((e) => [e.address, e.occurrence]), [
        ["planner::search::tool_call", 1],
        ["planner::search::tool_call", 2],
        ["planner::search::web::tool_call", 1],
        ["planner::agent_call", 1]
      ])
      assert.strictEqual(eventDepth(events.find((e) => e.address === "planner::search::tool_call")!), 1)
    }).pipe(withState()))

  it.effect("the handler context: address, attempt, occurrence, idempotencyKey stable per call", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      let calls = 0
      const flaky = Actor.tool("pay", (_: number, ctx) =>
        Effect.suspend(() => {
          seen.push(`${ctx.address} ${ctx.occurrence} ${ctx.attempt} ${ctx.idempotencyKey} ${ctx.stateId} ${ctx.path.join("/")}`)
          return ++calls === 1 ? Effect.fail(new SearchFailed({ query: "x" })) : Effect.succeed(calls)
        }), { retry: { baseDelay: "1 second" } })
      const fiber = yield* Effect.forkChild(runEvent(flaky, 1), { startImmediately: true })
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      yield* runEvent(flaky, 2)
      assert.deepStrictEqual(seen, [
        "pay::tool_call 1 1 test::pay::tool_call#1 test pay",
        "pay::tool_call 1 2 test::pay::tool_call#1 test pay",
        "pay::tool_call 2 1 test::pay::tool_call#2 test pay"
      ])
    }).pipe(withState()))

  describe("the four checkpoints", () => {
    // A checker that interrupts on its n-th call shows where each checkpoint sits.
    const runWithCheckerTrippingAt = (n: number) =>
      Effect.gen(function*() {
        let calls = 0
        let handlerRan = false
        yield* ExecutionState.use((s) =>
          s.setInterruptChecker(() => ++calls === n ? new InterruptSignal({ reason: "custom" }) : false)
        )
        const actor = Actor.tool("work", () => Effect.sync(() => (handlerRan = true)))
        const exit = yield* Effect.exit(runEvent(actor, undefined))
        return { exit, calls, handlerRan, timeline: yield* timeline }
      }).pipe(withState())

    it.effect("an uninterrupted event passes four checkpoints", () =>
      Effect.gen(function*() {
        const r = yield* runWithCheckerTrippingAt(99)
        assert.strictEqual(r.calls, 4)
        assert.isTrue(Exit.isSuccess(r.exit))
      }))

    it.effect("checkpoint 1, before anything: nothing runs, nothing is published", () =>
      Effect.gen(function*() {
        const r = yield* runWithCheckerTrippingAt(1)
        assert.isFalse(r.handlerRan)
        assert.deepStrictEqual(r.timeline, [])
        assert.strictEqual(Exit.isFailure(r.exit) && Option.getOrThrow(Exit.findErrorOption(r.exit))._tag, "ExecutionInterrupted")
      }))

    it.effect("checkpoints 2 and 3, around the preconditions: interrupted, handler not run", () =>
      Effect.gen(function*() {
        for (const n of [2, 3]) {
          const r = yield* runWithCheckerTrippingAt(n)
          assert.isFalse(r.handlerRan)
          assert.deepStrictEqual(r.timeline, ["started work::tool_call", "interrupted work::tool_call"])
        }
      }))

    it.effect("checkpoint 4, after the handler: the result is kept as completed and the call fails", () =>
      Effect.gen(function*() {
        const r = yield* runWithCheckerTrippingAt(4)
        assert.isTrue(r.handlerRan)
        assert.deepStrictEqual(r.timeline, ["started work::tool_call", "completed work::tool_call"])
        assert.strictEqual(Exit.isFailure(r.exit) && Option.getOrThrow(Exit.findErrorOption(r.exit))._tag, "ExecutionInterrupted")
      }))
  })

  describe("preemption", () => {
    it.effect("a handler blocked in a 30 s sleep stops at once, without moving the clock", () =>
      Effect.gen(function*() {
        const finalized = yield* Ref.make(false)
        const started = yield* Deferred.make<void>()
        const llm = Actor.llm("think", () =>
          Deferred.succeed(started, undefined).pipe(
            Effect.andThen(Effect.sleep("30 seconds")),
            Effect.ensuring(Ref.set(finalized, true))
          ))
        const fiber = yield* Effect.forkChild(runEvent(llm, "prompt"), { startImmediately: true })
        yield* Deferred.await(started)
        yield* requestInterrupt({ reason: "user_cancelled", message: "Stop clicked" })
        const error = yield* Effect.flip(Fiber.join(fiber))
        assert.instanceOf(error, ExecutionInterrupted)
        assert.strictEqual((error as ExecutionInterrupted).reason, "user_cancelled")
        assert.isTrue(yield* Ref.get(finalized))
        const events = yield* executionEvents
        assert.deepStrictEqual(events.map((e) => e.status), ["started", "interrupted"])
        assert.strictEqual(events[1]!.detail, "Interrupted: user_cancelled")
        assert.strictEqual(events[1]!.message, "Stop clicked")
        assert.strictEqual(events[1]!.stopLatency, 0) // TestClock: no time passed
      }).pipe(withState()))

    it.effect("the AbortSignal aborts on interrupt, so promise-based calls stop too", () =>
      Effect.gen(function*() {
        const aborted = yield* Deferred.make<string>()
        const started = yield* Deferred.make<void>()
        const fetchLike = Actor.tool("fetch", (_: string, ctx) =>
          Effect.gen(function*() {
            ctx.signal.addEventListener("abort", () => Deferred.doneUnsafe(aborted, Exit.succeed(String(ctx.signal.reason?.reason))))
            yield* Deferred.succeed(started, undefined)
            return yield* Effect.tryPromise(() => new Promise<string>(() => {}))
          }))
        const fiber = yield* Effect.forkChild(runEvent(fetchLike, "url"), { startImmediately: true })
        yield* Deferred.await(started)
        yield* requestInterrupt({ reason: "resource_limit" })
        yield* Effect.flip(Fiber.join(fiber))
        assert.strictEqual(yield* Deferred.await(aborted), "resource_limit")
      }).pipe(withState()))

    it.effect("a parent whose child was interrupted ends interrupted; a completed sibling stays completed", () =>
      Effect.gen(function*() {
        const blocked = yield* Deferred.make<void>()
        const quick = Actor.tool("quick", () => Effect.succeed("ok"))
        const slow = Actor.tool("slow", () => Effect.andThen(Deferred.succeed(blocked, undefined), Effect.never))
        const planner = Actor.agent("planner", () =>
          Effect.gen(function*() {
            yield* runEvent(quick, undefined)
            return yield* runEvent(slow, undefined)
          }))
        const fiber = yield* Effect.forkChild(runEvent(planner, undefined), { startImmediately: true })
        yield* Deferred.await(blocked)
        yield* requestInterrupt({ reason: "timeout" })
        assert.strictEqual((yield* Effect.flip(Fiber.join(fiber)))._tag, "ExecutionInterrupted")
        assert.deepStrictEqual(yield* timeline, [
          "started planner::agent_call",
          "started planner::quick::tool_call",
          "completed planner::quick::tool_call",
          "started planner::slow::tool_call",
          "interrupted planner::slow::tool_call",
          "interrupted planner::agent_call"
        ])
        assert.strictEqual(yield* interruptEventCount, 1)
      }).pipe(withState()))

    it.effect("work inside Effect.uninterruptible finishes first", () =>
      Effect.gen(function*() {
        const steps = yield* Ref.make<Array<string>>([])
        const started = yield* Deferred.make<void>()
        const save = Actor.tool("save", () =>
          Effect.gen(function*() {
            yield* Deferred.succeed(started, undefined)
            yield* Effect.sleep("1 second")
            yield* Ref.update(steps, (s) => [...s, "written"])
          }).pipe(Effect.uninterruptible, Effect.andThen(Ref.update(steps, (s) => [...s, "after"]))))
        const fiber = yield* Effect.forkChild(runEvent(save, undefined), { startImmediately: true })
        yield* Deferred.await(started)
        yield* requestInterrupt()
        assert.isUndefined(fiber.pollUnsafe()) // still writing
        yield* TestClock.adjust("1 second")
        assert.strictEqual((yield* Effect.flip(Fiber.join(fiber)))._tag, "ExecutionInterrupted")
        assert.deepStrictEqual(yield* Ref.get(steps), ["written"])
        const events = yield* executionEvents
        assert.strictEqual(events[1]!.status, "interrupted")
        assert.strictEqual(events[1]!.stopLatency, 1000)
      }).pipe(withState()))
  })

  describe("stop policies", () => {
    const sleeper = (duration: Duration.Input) =>
      Actor.tool("sleeper", (_: undefined) => Effect.as(Effect.sleep(duration), "done"), { retry: { maxAttempts: 1 } })

    it.effect("abort with a grace period: a handler finishing within it completes", () =>
      Effect.gen(function*() {
        const fiber = yield* Effect.forkChild(runEvent(sleeper("3 seconds"), undefined), { startImmediately: true })
        yield* TestClock.adjust("1 second")
        yield* requestInterrupt({ reason: "user_cancelled" })
        yield* TestClock.adjust("2 seconds")
        assert.strictEqual((yield* Effect.flip(Fiber.join(fiber)))._tag, "ExecutionInterrupted")
        assert.deepStrictEqual(yield* timeline, ["started sleeper::tool_call", "completed sleeper::tool_call"])
      }).pipe(withState({ stopPolicy: { user_cancelled: StopPolicy.abort("5 seconds") } })))

    it.effect("abort with a grace period: a handler still running at its end is interrupted", () =>
      Effect.gen(function*() {
        const fiber = yield* Effect.forkChild(runEvent(sleeper("1 hour"), undefined), { startImmediately: true })
        yield* requestInterrupt({ reason: "user_cancelled" })
        yield* TestClock.adjust("4999 millis")
        assert.isUndefined(fiber.pollUnsafe())
        yield* TestClock.adjust("1 millis")
        yield* Effect.flip(Fiber.join(fiber))
        const events = yield* executionEvents
        assert.strictEqual(events[1]!.status, "interrupted")
        assert.strictEqual(events[1]!.stopLatency, 5000)
      }).pipe(withState({ stopPolicy: { user_cancelled: StopPolicy.abort("5 seconds") } })))

    it.effect("system_shutdown drains by default: running handlers finish, nothing new starts", () =>
      Effect.gen(function*() {
        const fiber = yield* Effect.forkChild(
          Effect.andThen(runEvent(sleeper("3 seconds"), undefined), runEvent(double, 1)),
          { startImmediately: true }
        )
        yield* requestInterrupt({ reason: "system_shutdown" })
        yield* TestClock.adjust("3 seconds")
        assert.strictEqual((yield* Effect.flip(Fiber.join(fiber)))._tag, "ExecutionInterrupted")
        // the running one completed; the next one never started
        assert.deepStrictEqual(yield* timeline, ["started sleeper::tool_call", "completed sleeper::tool_call"])
      }).pipe(withState()))

    it.effect("drain aborts at the deadline", () =>
      Effect.gen(function*() {
        const fiber = yield* Effect.forkChild(runEvent(sleeper("1 hour"), undefined), { startImmediately: true })
        yield* requestInterrupt({ reason: "system_shutdown" })
        yield* TestClock.adjust("9 seconds")
        assert.isUndefined(fiber.pollUnsafe())
        yield* TestClock.adjust("1 second")
        yield* Effect.flip(Fiber.join(fiber))
        const events = yield* executionEvents
        assert.strictEqual(events[1]!.detail, "Interrupted: system_shutdown")
        assert.strictEqual(events[1]!.stopLatency, 10_000)
      }).pipe(withState()))

    it.effect("a per-event policy wins over the layer's", () =>
      Effect.gen(function*() {
        const fiber = yield* Effect.forkChild(
          runEvent(sleeper("1 hour"), undefined, { stopPolicy: { system_shutdown: StopPolicy.abort() } }),
          { startImmediately: true }
        )
        yield* requestInterrupt({ reason: "system_shutdown" })
        assert.strictEqual((yield* Effect.flip(Fiber.join(fiber)))._tag, "ExecutionInterrupted")
      }).pipe(withState()))
  })

  describe("failures", () => {
    it.effect("a failing agent publishes failed once and fails with its typed error", () =>
      Effect.gen(function*() {
        const agent = Actor.agent("planner", (q: string) => Effect.fail(new SearchFailed({ query: q })))
        const error = yield* Effect.flip(runEvent(agent, "x"))
        assert.instanceOf(error, SearchFailed)
        const events = yield* executionEvents
        assert.deepStrictEqual(events.map((e) => e.status), ["started", "failed"])
        assert.strictEqual(events[1]!.message, "no results for x")
        assert.strictEqual(events[1]!.errorTag, "SearchFailed")
      }).pipe(withState()))

    it.effect("a defect fails the event and is not retried", () =>
      Effect.gen(function*() {
        let calls = 0
        const buggy = Actor.tool("buggy", () => Effect.sync(() => {
          calls++
          throw new Error("bug")
        }))
        const exit = yield* Effect.exit(runEvent(buggy, undefined))
        assert.isTrue(Exit.isFailure(exit))
        assert.strictEqual(calls, 1)
        assert.deepStrictEqual(yield* timeline, ["started buggy::tool_call", "failed buggy::tool_call"])
      }).pipe(withState()))

    it.effect("toResult gives the seed's ExecutionResult", () =>
      Effect.gen(function*() {
        const ok = yield* toResult(runEvent(double, 21))
        assert.deepStrictEqual(ok, { result: 42, executionTime: 0, ok: true })
        const agent = Actor.agent("planner", (q: string) => Effect.fail(new SearchFailed({ query: q })))
        const bad = yield* toResult(runEvent(agent, "y"))
        assert.deepStrictEqual(bad, { executionTime: 0, ok: false, errorMessage: "no results for y" })
      }).pipe(withState()))
  })

  describe("contracts", () => {
    it.effect("preconditions and postconditions", () =>
      Effect.gen(function*() {
        const guarded = Actor.tool("guarded", (n: number) => Effect.succeed(n - 10), {
          preconditions: [(n) => n > 0 || "input must be positive"],
          postconditions: [(out) => Effect.succeed(out >= 0)]
        })
        const pre = yield* Effect.flip(runEvent(guarded, -1))
        assert.instanceOf(pre, ActorContractError)
        assert.strictEqual((pre as ActorContractError).which, "precondition")
        assert.strictEqual(pre.message, "precondition of guarded failed at guarded::tool_call: input must be positive")
        const post = yield* Effect.flip(runEvent(guarded, 5))
        assert.strictEqual((post as ActorContractError).detail, "condition #1 returned false")
        assert.strictEqual(yield* runEvent(guarded, 15), 5)
        // contract errors are never retried
        assert.strictEqual((yield* executionEvents).filter((e) => e.status === "retrying").length, 0)
      }).pipe(withState()))

    it.effect("input and output Schemas validate; the output Schema encodes the recorded result", () =>
      Effect.gen(function*() {
        const when = Actor.tool("when", (ms: number) => Effect.succeed(new Date(ms)), {
          input: Schema.Number.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0))),
          output: Schema.DateFromString
        })
        const bad = yield* Effect.flip(runEvent(when, -5))
        assert.strictEqual((bad as ActorContractError).which, "input")
        const date = yield* runEvent(when, 0)
        assert.strictEqual(date.getTime(), 0)
        const completed = (yield* executionEvents).find((e) => e.status === "completed")!
        assert.strictEqual(completed.result, "1970-01-01T00:00:00.000Z")
      }).pipe(withState()))
  })

  it.effect("checkInterrupt inside a handler stops it cooperatively", () =>
    Effect.gen(function*() {
      const loop = Actor.agent("loop", () =>
        Effect.forever(Effect.andThen(checkInterrupt, Effect.andThen(requestInterrupt({ reason: "custom" }), Effect.yieldNow))))
      const error = yield* Effect.flip(runEvent(loop, undefined))
      assert.strictEqual(error._tag, "ExecutionInterrupted")
      assert.deepStrictEqual(yield* timeline, ["started loop::agent_call", "interrupted loop::agent_call"])
    }).pipe(withState()))
})
