import { assert, it } from "@effect/vitest"
import { Effect, Fiber, Option } from "effect"
import { TestClock } from "effect/testing"
import { checkInterrupt, ExecutionState, interruptSignal, setTimeout } from "agent-interrupt"

// ExecutionState.layerTest: a fresh execution (state id "test") and bus per test.
// it.effect runs on TestClock, so timeouts fire when the test moves the clock, not in real time.
it.effect("a 30 s timeout interrupts the next checkpoint", () =>
  Effect.gen(function*() {
    yield* setTimeout("30 seconds")
    const run = yield* Effect.forkChild(
      Effect.forever(Effect.andThen(checkInterrupt, Effect.sleep("1 second"))),
      { startImmediately: true }
    )
    yield* TestClock.adjust("30 seconds")
    const error = yield* Effect.flip(Fiber.join(run))
    assert.strictEqual(error.reason, "timeout")
    assert.strictEqual(Option.getOrThrow(yield* interruptSignal).triggeredBy, "timeout_monitor")
  }).pipe(Effect.provide(ExecutionState.layerTest)))
