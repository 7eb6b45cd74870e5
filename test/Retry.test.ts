import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Fiber, Option, Schedule, Schema } from "effect"
import { TestClock } from "effect/testing"
import {
  Actor,
  ExecutionInterrupted,
  InterruptSignal,
  requestInterrupt,
  Retry,
  runEvent,
  setInterruptChecker
} from "../src/index.ts"
import { withState } from "./utils/layers.ts"
import { executionEvents, timeline } from "./utils/bus.ts"


class RateLimited extends Schema.TaggedError<RateLimited>()("RateLimited", { retryAfter: Schema.Number }) {
  override get message() {
    return `rate limited, retry after ${this.retryAfter}s`
  }
}
class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", {}) {}

/** A tool that fails `failures` times with RateLimited, then answers "ok". */
const flakyTool = (failures: number, retry?: Retry.RetryOptions) => {
  let calls = 0
  const actor = Actor.tool("api", () =>
    Effect.suspend(() => ++calls <= failures ? Effect.fail(new RateLimited({ retryAfter: 1 })) : Effect.succeed("ok")), {
    retry
  })
  return { actor, calls: () => calls }
}

describe("retries", () => {
  it.effect("no interrupt: a tool retries with exponential backoff 1 s, 2 s and completes", () =>
    Effect.gen(function*() {
      const { actor, calls } = flakyTool(2)
      const fiber = yield* Effect.forkChild(runEvent(actor, undefined), { startImmediately: true })
      yield* TestClock.adjust("999 millis")
      assert.strictEqual(calls(), 1)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(calls(), 2)
      yield* TestClock.adjust("1999 millis")
      assert.strictEqual(calls(), 2)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* Fiber.join(fiber), "ok")
      const events = yield* executionEvents
      assert.deepStrictEqual(events.map((e) => `${e.status}#${e.attempt}`), [
        "started#1",
        "failed#1",
        "retrying#1",
        "started#2",
        "failed#2",
        "retrying#2",
        "started#3",
        "completed#3"
      ])
      const retrying = events.filter((e) => e.status === "retrying")
      assert.strictEqual(retrying[0]!.message, "Retrying after RateLimited: rate limited, retry after 1s")
      assert.strictEqual(retrying[0]!.detail, "Attempt 2/3 in 1s")
      assert.strictEqual(retrying[1]!.detail, "Attempt 3/3 in 2s")
    }).pipe(withState()))

  it.effect("after maxAttempts the last error is returned, one failed per attempt", () =>
    Effect.gen(function*() {
      const { actor, calls } = flakyTool(10)
      const fiber = yield* Effect.forkChild(runEvent(actor, undefined), { startImmediately: true })
      yield* TestClock.adjust("1 minute")
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert.instanceOf(error, RateLimited)
      assert.strictEqual(calls(), 3)
      assert.strictEqual((yield* executionEvents).filter((e) => e.status === "failed").length, 3)
    }).pipe(withState()))

  it.effect("agents are not retried by default; the cap is maxDelay", () =>
    Effect.gen(function*() {
      let calls = 0
      const agent = Actor.agent("plan", () => Effect.suspend(() => (calls++, Effect.fail(new BadRequest()))))
      yield* Effect.flip(runEvent(agent, undefined))
      assert.strictEqual(calls, 1)
      const policy = Retry.resolve("tool", { baseDelay: "10 seconds", maxAttempts: 5 })
      const delays = yield* Effect.forEach([1, 2, 3, 4], (n) => policy.nextDelay(n, new BadRequest()))
      assert.deepStrictEqual(delays.map((d) => Duration.toMillis(Option.getOrThrow(d))), [10_000, 20_000, 30_000, 30_000])
    }).pipe(withState()))

  it.effect("most specific wins, field by field: event over actor over execution over kind", () =>
    Effect.gen(function*() {
      const policy = Retry.resolve("tool", { maxAttempts: 5 }, { maxAttempts: 2, baseDelay: "3 seconds" }, {
        baseDelay: "7 seconds",
        multiplier: 3
      })
      assert.strictEqual(policy.maxAttempts, 5)
      assert.deepStrictEqual(
        (yield* Effect.forEach([1, 2], (n) => policy.nextDelay(n, null))).map((d) => Duration.toMillis(Option.getOrThrow(d))),
        [3000, 9000]
      )
    }))

  it.effect("execution-wide defaults apply through Retry.withDefaults", () =>
    Effect.gen(function*() {
      const { actor, calls } = flakyTool(5)
      const fiber = yield* Effect.forkChild(
        runEvent(actor, undefined).pipe(Retry.withDefaults({ maxAttempts: 6, baseDelay: "1 second", multiplier: 1 })),
        { startImmediately: true }
      )
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(yield* Fiber.join(fiber), "ok")
      assert.strictEqual(calls(), 6)
    }).pipe(withState()))

  it.effect("retryOn by tag and by predicate", () =>
    Effect.gen(function*() {
      let calls = 0
      const bad = Actor.tool("bad", () => Effect.suspend(() => (calls++, Effect.fail(new BadRequest()))), {
        retry: { retryOn: ["RateLimited"] }
      })
      yield* Effect.flip(runEvent(bad, undefined))
      assert.strictEqual(calls, 1)
      const { actor } = flakyTool(1, { retryOn: (e) => e instanceof RateLimited })
      const fiber = yield* Effect.forkChild(runEvent(actor, undefined), { startImmediately: true })
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(fiber), "ok")
    }).pipe(withState()))

  it.effect("a Schedule drives the delays and ends the retries", () =>
    Effect.gen(function*() {
      const { actor, calls } = flakyTool(10, {
        maxAttempts: 10,
        schedule: Schedule.spaced("250 millis").pipe(Schedule.upTo({ times: 2 }))
      })
      const fiber = yield* Effect.forkChild(runEvent(actor, undefined), { startImmediately: true })
      yield* TestClock.adjust("500 millis")
      yield* Effect.flip(Fiber.join(fiber))
      assert.strictEqual(calls(), 3)
      assert.deepStrictEqual(
        (yield* executionEvents).filter((e) => e.status === "retrying").map((e) => e.detail),
        ["Attempt 2/10 in 250ms", "Attempt 3/10 in 250ms"]
      )
    }).pipe(withState()))

  it.effect("maxRetryTime stops retries that would start too late", () =>
    Effect.gen(function*() {
      const { actor, calls } = flakyTool(10, { maxAttempts: 10, baseDelay: "1 second", maxRetryTime: "3 seconds" })
      const fiber = yield* Effect.forkChild(runEvent(actor, undefined), { startImmediately: true })
      yield* TestClock.adjust("1 minute")
      yield* Effect.flip(Fiber.join(fiber))
      // retries at 1 s and 3 s; the next (at 7 s) would be past the limit
      assert.strictEqual(calls(), 3)
    }).pipe(withState()))

  it.effect("jitter stays within its fraction", () =>
    Effect.gen(function*() {
      const policy = Retry.resolve("tool", { baseDelay: "1 second", jitter: 0.5 })
      for (let i = 0; i < 20; i++) {
        const ms = Duration.toMillis(Option.getOrThrow(yield* policy.nextDelay(1, null)))
        assert.isAtLeast(ms, 500)
        assert.isAtMost(ms, 1500)
      }
    }))

  describe("interrupts", () => {
    it.effect("an interrupt during the backoff ends it at once (seed: interrupt during backoff)", () =>
      Effect.gen(function*() {
        const { actor, calls } = flakyTool(10)
        const fiber = yield* Effect.forkChild(runEvent(actor, undefined), { startImmediately: true })
        yield* TestClock.adjust("500 millis") // waiting for the 1 s backoff
        yield* requestInterrupt({ reason: "user_cancelled", message: "Cancel pressed during backoff" })
        const error = yield* Effect.flip(Fiber.join(fiber))
        assert.instanceOf(error, ExecutionInterrupted)
        assert.strictEqual(calls(), 1)
        const events = yield* executionEvents
        assert.deepStrictEqual(events.map((e) => e.status), ["started", "failed", "retrying", "interrupted"])
        assert.strictEqual(events[3]!.detail, "Interrupted during retry backoff: user_cancelled")
        // seed: message preserved
        assert.strictEqual(events[3]!.message, "Cancel pressed during backoff")
        assert.strictEqual((error as ExecutionInterrupted).signal.message, "Cancel pressed during backoff")
      }).pipe(withState()))

    it.effect("interrupts at different retry stages: before the first attempt, during the second backoff", () =>
      Effect.gen(function*() {
        yield* requestInterrupt({ reason: "timeout" })
        const { actor, calls } = flakyTool(10)
        yield* Effect.flip(runEvent(actor, undefined))
        assert.strictEqual(calls(), 0)
        assert.deepStrictEqual(yield* timeline, [])
      }).pipe(withState()).pipe(
        Effect.andThen(
          Effect.gen(function*() {
            const { actor, calls } = flakyTool(10)
            const fiber = yield* Effect.forkChild(runEvent(actor, undefined), { startImmediately: true })
            yield* TestClock.adjust("1 second") // second attempt fails, 2 s backoff starts
            assert.strictEqual(calls(), 2)
            yield* TestClock.adjust("1 second")
            yield* requestInterrupt({ reason: "resource_limit" })
            yield* Effect.flip(Fiber.join(fiber))
            assert.strictEqual(calls(), 2)
            const last = (yield* executionEvents).at(-1)!
            assert.strictEqual(last.detail, "Interrupted during retry backoff: resource_limit")
            assert.strictEqual(last.attempt, 3)
          }).pipe(withState())
        )
      ))

    it.effect("an interrupt requested inside a failing handler is honoured before any retry", () =>
      Effect.gen(function*() {
        let calls = 0
        const tool = Actor.tool("api", () =>
          Effect.suspend(() => {
            calls++
            return Effect.andThen(requestInterrupt({ reason: "error_threshold" }), Effect.fail(new RateLimited({ retryAfter: 1 })))
          }))
        const error = yield* Effect.flip(runEvent(tool, undefined))
        assert.instanceOf(error, ExecutionInterrupted)
        assert.strictEqual(calls, 1)
        assert.deepStrictEqual((yield* executionEvents).map((e) => e.status), ["started", "interrupted"])
      }).pipe(withState()))

    it.effect("an external checker firing during the retries stops them (seed: external checker during retry)", () =>
      Effect.gen(function*() {
        let checks = 0
        yield* setInterruptChecker(() => ++checks >= 4 ? new InterruptSignal({ reason: "custom", message: "remote stop" }) : false)
        const { actor, calls } = flakyTool(10)
        const fiber = yield* Effect.forkChild(runEvent(actor, undefined), { startImmediately: true })
        yield* TestClock.adjust("1 minute")
        const error = yield* Effect.flip(Fiber.join(fiber))
        assert.instanceOf(error, ExecutionInterrupted)
        assert.strictEqual((error as ExecutionInterrupted).signal.message, "remote stop")
        assert.isBelow(calls(), 3)
      }).pipe(withState()))

    it.effect("ExecutionInterrupted is never retried", () =>
      Effect.gen(function*() {
        let calls = 0
        const tool = Actor.tool("api", () => Effect.suspend(() => (calls++, Effect.fail(new ExecutionInterrupted({ reason: "custom" })))), {
          retry: { retryOn: () => true }
        })
        yield* Effect.flip(runEvent(tool, undefined))
        assert.strictEqual(calls, 1)
        assert.isFalse(Retry.resolve("tool", { retryOn: () => true }).isRetryable(new ExecutionInterrupted({ reason: "custom" })))
      }).pipe(withState()))

    it.effect("a backoff waiter started before the interrupt is woken by it, not by the clock", () =>
      Effect.gen(function*() {
        const { actor } = flakyTool(10, { baseDelay: "1 hour" })
        const done = yield* Deferred.make<void>()
        const fiber = yield* Effect.forkChild(
          Effect.ensuring(runEvent(actor, undefined), Deferred.succeed(done, undefined)),
          { startImmediately: true }
        )
        yield* requestInterrupt()
        yield* Deferred.await(done)
        yield* Effect.flip(Fiber.join(fiber))
      }).pipe(withState()))
  })
})
