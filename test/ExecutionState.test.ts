import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Effect, Fiber, Layer, Logger, Option, Ref, Stream } from "effect"
import { TestClock } from "effect/testing"
import {
  awaitInterrupt,
  cancelTimeout,
  checkInterrupt,
  EventBus,
  ExecutionState,
  InterruptSignal,
  interruptSignal,
  isInterrupted,
  killGenerators,
  registerGenerator,
  requestInterrupt,
  setInterruptChecker,
  setTimeout,
  StopPolicy
} from "../src/index.ts"
import { withState } from "./utils/layers.ts"


const interruptEvents = Effect.gen(function*() {
  const bus = yield* EventBus
  return (yield* bus.history).filter((e) => e._tag === "InterruptEvent")
})

const warnings = (lines: Array<string>) =>
  Logger.layer([Logger.make(({ logLevel, message }) => {
    if (logLevel === "Warn") lines.push((Array.isArray(message) ? message : [message]).map(String)[0] ?? "")
  })])

describe("ExecutionState", () => {
  describe("requestInterrupt", () => {
    // seed test 5: request_interrupt() functionality
    it.effect("records the signal, fails checkpoints and publishes one InterruptEvent", () =>
      Effect.gen(function*() {
        assert.isFalse(yield* isInterrupted)
        yield* checkInterrupt
        const won = yield* requestInterrupt({
          reason: "user_cancelled",
          message: "User pressed Cancel button",
          triggeredBy: "web_ui_user_123"
        })
        assert.isTrue(won)
        assert.isTrue(yield* isInterrupted)
        const signal = Option.getOrThrow(yield* interruptSignal)
        assert.strictEqual(signal.reason, "user_cancelled")
        assert.strictEqual(signal.message, "User pressed Cancel button")
        assert.strictEqual(signal.triggeredBy, "web_ui_user_123")
        assert.strictEqual(signal.saveCheckpoint, true)
        assert.strictEqual(signal.triggeredAt, "1970-01-01T00:00:00.000Z") // TestClock time
        const error = yield* Effect.flip(checkInterrupt)
        assert.strictEqual(error._tag, "ExecutionInterrupted")
        assert.strictEqual(error.reason, "user_cancelled")
        // the user's message, not a generic one (the seed raises ExecutionInterrupted(reason, message))
        assert.strictEqual(error.message, "User pressed Cancel button")
        assert.strictEqual(error.signal, signal)
        const events = yield* interruptEvents
        assert.strictEqual(events.length, 1)
        assert.strictEqual(events[0]!.stateId, "test")
        assert.strictEqual(events[0]!.signal, signal)
      }).pipe(withState()))

    it.effect("defaults: reason user_cancelled, saveCheckpoint true", () =>
      Effect.gen(function*() {
        yield* requestInterrupt()
        const signal = Option.getOrThrow(yield* interruptSignal)
        assert.strictEqual(signal.reason, "user_cancelled")
        assert.isTrue(signal.saveCheckpoint)
        assert.isUndefined(signal.message)
      }).pipe(withState()))

    it.effect("accepts a ready InterruptSignal", () =>
      Effect.gen(function*() {
        const signal = new InterruptSignal({ reason: "priority_override", saveCheckpoint: false })
        yield* requestInterrupt(signal)
        assert.strictEqual(Option.getOrThrow(yield* interruptSignal), signal)
      }).pipe(withState()))

    it.effect("the first interrupt wins; later requests and checks change nothing", () =>
      Effect.gen(function*() {
        assert.isTrue(yield* requestInterrupt({ reason: "timeout" }))
        assert.isFalse(yield* requestInterrupt({ reason: "user_cancelled" }))
        for (let i = 0; i < 10; i++) yield* Effect.flip(checkInterrupt)
        assert.strictEqual(Option.getOrThrow(yield* interruptSignal).reason, "timeout")
        assert.strictEqual((yield* interruptEvents).length, 1)
      }).pipe(withState()))

    it.effect("exactly one InterruptEvent under 100 concurrent requests", () =>
      Effect.gen(function*() {
        const winners = yield* Effect.forEach(
          Array.from({ length: 100 }, (_, i) => i),
          (i) =>
            Effect.andThen(Effect.yieldNow, requestInterrupt({ reason: i % 2 === 0 ? "timeout" : "custom", message: `#${i}` })),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(winners.filter(Boolean).length, 1)
        const events = yield* interruptEvents
        assert.strictEqual(events.length, 1)
        const winner = winners.indexOf(true)
        assert.strictEqual(events[0]!.signal.message, `#${winner}`)
        assert.strictEqual(Option.getOrThrow(yield* interruptSignal).message, `#${winner}`)
      }).pipe(withState()))

    it.effect("awaitInterrupt resumes the moment the interrupt happens", () =>
      Effect.gen(function*() {
        const waiter = yield* Effect.forkChild(awaitInterrupt, { startImmediately: true })
        assert.isUndefined(waiter.pollUnsafe())
        yield* requestInterrupt({ reason: "resource_limit" })
        // no clock advance, no yield: the waiter is already done
        const signal = yield* Fiber.join(waiter)
        assert.strictEqual(signal.reason, "resource_limit")
        // a waiter arriving afterwards resumes at once
        assert.strictEqual((yield* awaitInterrupt).reason, "resource_limit")
      }).pipe(withState()))

    it.effect("awaitAbort waits for the drain deadline of system_shutdown", () =>
      Effect.gen(function*() {
        const state = yield* ExecutionState
        const abort = yield* Effect.forkChild(state.awaitAbort, { startImmediately: true })
        yield* requestInterrupt({ reason: "system_shutdown" })
        yield* Effect.yieldNow
        assert.isUndefined(abort.pollUnsafe())
        yield* TestClock.adjust("9999 millis")
        assert.isUndefined(abort.pollUnsafe())
        yield* TestClock.adjust("1 millis")
        assert.strictEqual((yield* Fiber.join(abort)).reason, "system_shutdown")
      }).pipe(withState()))

    it.effect("the layer's stop policy overrides the default", () =>
      Effect.gen(function*() {
        const state = yield* ExecutionState
        yield* requestInterrupt({ reason: "system_shutdown" })
        // abort policy from the layer: abort is immediate
        assert.strictEqual((yield* state.awaitAbort).reason, "system_shutdown")
        assert.deepStrictEqual(state.stopPolicy("system_shutdown"), StopPolicy.abort())
        assert.deepStrictEqual(
          state.stopPolicy("system_shutdown", { system_shutdown: StopPolicy.drain("1 second") }),
          StopPolicy.drain("1 second")
        )
      }).pipe(withState({ stopPolicy: { system_shutdown: StopPolicy.abort() } })))
  })

  describe("checkInterrupt with a checker", () => {
    // seed test 6: set_interrupt_checker() functionality
    it.effect("setInterruptChecker installs and removes a checker", () =>
      Effect.gen(function*() {
        let calls = 0
        yield* setInterruptChecker(() => {
          calls++
          return false
        })
        yield* checkInterrupt
        yield* checkInterrupt
        assert.strictEqual(calls, 2)
        yield* setInterruptChecker(undefined)
        yield* checkInterrupt
        assert.strictEqual(calls, 2)
      }).pipe(withState()))

    it.effect("a checkpoint taken with yield* sees the state at that moment (accessor and service member)", () =>
      Effect.gen(function*() {
        const state = yield* ExecutionState
        // held once, yielded again and again: each yield* checks anew
        const member = state.checkInterrupt
        let calls = 0
        const loop = (check: Effect.Effect<void, unknown, ExecutionState>) =>
          Effect.gen(function*() {
            for (let i = 0; i < 3; i++) {
              yield* check
              calls++
            }
          })
        yield* loop(checkInterrupt)
        yield* loop(member)
        assert.strictEqual(calls, 6)
        // a checker installed: yield* calls it, as running the checkpoint does
        let asked = 0
        yield* setInterruptChecker(() => ++asked === 2)
        yield* checkInterrupt
        const byChecker = yield* Effect.flip(Effect.gen(function*() {
          yield* member
        }))
        assert.strictEqual(asked, 2)
        assert.strictEqual((byChecker as { reason: string }).reason, "custom")
        // interrupted: both fail with the execution's error
        const first = yield* Effect.flip(Effect.gen(function*() {
          yield* checkInterrupt
        }))
        const second = yield* Effect.flip(Effect.gen(function*() {
          yield* member
        }))
        assert.strictEqual(first, second)
        assert.strictEqual(asked, 2)
      }).pipe(withState()))

    it.effect("the accessor without an execution is a missing-service defect, with yield* too", () =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(Effect.gen(function*() {
          yield* (checkInterrupt as Effect.Effect<void, unknown>)
        }))
        assert.isTrue(exit._tag === "Failure" && exit.cause.reasons.some((r) => r._tag === "Die"))
      }))

    // seed test 7: check_interrupt() with local flag
    it.effect("the local flag is read first: the checker is not called once interrupted", () =>
      Effect.gen(function*() {
        let calls = 0
        yield* setInterruptChecker(() => {
          calls++
          return true
        })
        yield* requestInterrupt({ reason: "timeout" })
        const error = yield* Effect.flip(checkInterrupt)
        assert.strictEqual(error.reason, "timeout")
        assert.strictEqual(calls, 0)
      }).pipe(withState()))

    // seed test 8: check_interrupt() with bool checker
    it.effect("sync boolean checker: true interrupts with the external signal", () =>
      Effect.gen(function*() {
        let answer = false
        let calls = 0
        yield* setInterruptChecker(() => {
          calls++
          return answer
        })
        yield* checkInterrupt
        answer = true
        const error = yield* Effect.flip(checkInterrupt)
        assert.strictEqual(error.reason, "custom")
        assert.strictEqual(error.signal.message, "Interrupt signal detected from external source")
        assert.strictEqual(error.signal.triggeredBy, "external_checker")
        // once interrupted, never called again
        yield* Effect.flip(checkInterrupt)
        yield* Effect.flip(checkInterrupt)
        assert.strictEqual(calls, 2)
        assert.strictEqual((yield* interruptEvents).length, 1)
      }).pipe(withState()))

    // seed test 9: check_interrupt() with InterruptSignal checker
    it.effect("sync signal checker: the signal is used as is", () =>
      Effect.gen(function*() {
        const signal = new InterruptSignal({ reason: "user_cancelled", message: "Cancelled from admin dashboard" })
        yield* setInterruptChecker(() => signal)
        const error = yield* Effect.flip(checkInterrupt)
        assert.strictEqual(error.signal, signal)
        assert.strictEqual((yield* interruptEvents)[0]!.signal, signal)
      }).pipe(withState()))

    it.effect("sync optional checker: null and undefined carry on", () =>
      Effect.gen(function*() {
        const answers: Array<InterruptSignal | null | undefined> = [null, undefined, new InterruptSignal({ reason: "custom" })]
        yield* setInterruptChecker(() => answers.shift())
        yield* checkInterrupt
        yield* checkInterrupt
        assert.strictEqual((yield* Effect.flip(checkInterrupt)).reason, "custom")
      }).pipe(withState()))

    // seed test 10: check_interrupt() with async checker
    it.effect("async checkers: boolean, signal and optional", () =>
      Effect.gen(function*() {
        yield* setInterruptChecker(async () => false)
        yield* checkInterrupt
        yield* setInterruptChecker(async () => null)
        yield* checkInterrupt
        yield* setInterruptChecker(async () => undefined)
        yield* checkInterrupt
        yield* setInterruptChecker(async () => new InterruptSignal({ reason: "resource_limit", message: "budget" }))
        const error = yield* Effect.flip(checkInterrupt)
        assert.strictEqual(error.reason, "resource_limit")
        assert.strictEqual(error.signal.message, "budget")
      }).pipe(withState()))

    it.effect("async boolean checker true interrupts", () =>
      Effect.gen(function*() {
        yield* setInterruptChecker(() => Promise.resolve(true))
        assert.strictEqual((yield* Effect.flip(checkInterrupt)).signal.triggeredBy, "external_checker")
      }).pipe(withState()))

    it.effect("Effect checkers", () =>
      Effect.gen(function*() {
        const flag = yield* Ref.make(false)
        yield* setInterruptChecker(() => Ref.get(flag))
        yield* checkInterrupt
        yield* Ref.set(flag, true)
        assert.strictEqual((yield* Effect.flip(checkInterrupt)).reason, "custom")
      }).pipe(withState()))

    it.effect("a plain object shaped like a signal is decoded", () =>
      Effect.gen(function*() {
        yield* setInterruptChecker(() => ({ reason: "timeout", message: "plain" }) as unknown as InterruptSignal)
        const error = yield* Effect.flip(checkInterrupt)
        assert.strictEqual(error.reason, "timeout")
        assert.strictEqual(error.signal.message, "plain")
        assert.instanceOf(error.signal, InterruptSignal)
      }).pipe(withState()))

    const failingCheckers: ReadonlyArray<readonly [string, () => unknown, string]> = [
      ["throws", () => {
        throw new Error("boom")
      }, "Interrupt checker threw: boom"],
      ["rejects", () => Promise.reject(new Error("redis down")), "Interrupt checker rejected: redis down"],
      ["fails", () => Effect.fail("nope"), "Interrupt checker failed: nope"],
      ["dies", () => Effect.die(new Error("bug")), "Interrupt checker failed: bug"],
      ["returns a number", () => 42, "Interrupt checker returned an unexpected value: 42"],
      ["returns a bad object", () => ({ reason: "nope" }), "Interrupt checker returned an unexpected value: {\"reason\":\"nope\"}"]
    ]
    for (const [name, checker, message] of failingCheckers) {
      it.effect(`a checker that ${name} is logged and the run continues`, () => {
        const lines: Array<string> = []
        return Effect.gen(function*() {
          yield* setInterruptChecker(checker as never)
          yield* checkInterrupt
          assert.isFalse(yield* isInterrupted)
          assert.deepStrictEqual(lines, [message])
          const bus = yield* EventBus
          const logs = (yield* bus.history).filter((e) => e._tag === "LogEvent")
          assert.strictEqual(logs.length, 1)
          assert.strictEqual(logs[0]!._tag === "LogEvent" && logs[0]!.message, message)
        }).pipe(withState(), Effect.provide(warnings(lines)))
      })

      it.effect(`a checker that ${name} fails closed with onCheckerError: "interrupt"`, () =>
        Effect.gen(function*() {
          yield* setInterruptChecker(checker as never)
          const error = yield* Effect.flip(checkInterrupt)
          assert.strictEqual(error.reason, "error_threshold")
          assert.strictEqual(error.signal.message, message)
          assert.strictEqual(error.signal.triggeredBy, "interrupt_checker")
          assert.strictEqual((yield* interruptEvents).length, 1)
        }).pipe(withState({ onCheckerError: "interrupt" }), Effect.provide(warnings([]))))
    }

    it.effect("a checker that hangs past checkerTimeout is handled as an error", () => {
      const lines: Array<string> = []
      return Effect.gen(function*() {
        yield* setInterruptChecker(() => new Promise<boolean>(() => {}))
        const check = yield* Effect.forkChild(Effect.exit(checkInterrupt), { startImmediately: true })
        yield* TestClock.adjust("1999 millis")
        assert.isUndefined(check.pollUnsafe())
        yield* TestClock.adjust("1 millis")
        const exit = yield* Fiber.join(check)
        assert.strictEqual(exit._tag, "Failure")
        assert.deepStrictEqual(lines, ["Interrupt checker did not answer within 2s"])
        assert.strictEqual(Option.getOrThrow(yield* interruptSignal).reason, "error_threshold")
      }).pipe(withState({ checkerTimeout: "2 seconds", onCheckerError: "interrupt" }), Effect.provide(warnings(lines)))
    })

    it.effect("a hanging Effect checker times out too and continues by default", () =>
      Effect.gen(function*() {
        yield* setInterruptChecker(() => Effect.never)
        const check = yield* Effect.forkChild(checkInterrupt, { startImmediately: true })
        yield* TestClock.adjust("5 seconds")
        yield* Fiber.join(check)
        assert.isFalse(yield* isInterrupted)
      }).pipe(withState(), Effect.provide(warnings([]))))

    it.effect("a hanging checker is waited for once: no second call while one is pending, a back-off after it, and a stop is still at once", () => {
      const lines: Array<string> = []
      return Effect.gen(function*() {
        let calls = 0
        yield* setInterruptChecker(() => {
          calls++
          return new Promise<boolean>(() => {})
        })
        // 10 checkpoints 75 ms apart: a 0.75 s program
        const program = Effect.forEach(Array.from({ length: 10 }, (_, i) => i), () =>
          Effect.andThen(checkInterrupt, Effect.sleep("75 millis")), { discard: true })
        const run = yield* Effect.forkChild(program, { startImmediately: true })
        yield* TestClock.adjust("5 seconds") // the first call times out: the only wait
        assert.deepStrictEqual(lines, ["Interrupt checker did not answer within 5s"])
        yield* TestClock.adjust("750 millis")
        yield* Fiber.join(run) // done at 5.75 s, not 10 × 5 s
        assert.strictEqual(calls, 1) // backing off: not called again within a second of the timeout
        // after the back-off, one probe call, not waited for
        yield* TestClock.adjust("1 second")
        yield* checkInterrupt
        yield* checkInterrupt
        assert.strictEqual(calls, 2)
        // a stop is not slowed by any of it
        yield* requestInterrupt({ reason: "user_cancelled" })
        assert.strictEqual((yield* Effect.flip(checkInterrupt)).reason, "user_cancelled")
      }).pipe(withState(), Effect.provide(warnings(lines)))
    })

    it.effect("a checker answer that throws when read (a Proxy) is a checker error, not a crash", () => {
      const lines: Array<string> = []
      const hostile = new Proxy({}, {
        get: () => {
          throw new Error("trap")
        },
        getPrototypeOf: () => {
          throw new Error("trap")
        },
        has: () => {
          throw new Error("trap")
        }
      })
      return Effect.gen(function*() {
        yield* setInterruptChecker(() => hostile as never)
        yield* checkInterrupt
        assert.isFalse(yield* isInterrupted)
        assert.strictEqual(lines.length, 1)
        assert.match(lines[0]!, /^Interrupt checker (threw|returned an unexpected value): .*trap/)
        yield* setInterruptChecker(() => Promise.resolve(hostile as never))
        yield* checkInterrupt
        assert.isFalse(yield* isInterrupted)
        assert.strictEqual(lines.length, 2)
      }).pipe(withState(), Effect.provide(warnings(lines)))
    })

    it.effect("checkerInterval throttles the checker to one call per interval", () =>
      Effect.gen(function*() {
        let calls = 0
        yield* setInterruptChecker(() => {
          calls++
          return false
        })
        yield* checkInterrupt
        yield* checkInterrupt
        yield* checkInterrupt
        assert.strictEqual(calls, 1)
        yield* TestClock.adjust("999 millis")
        yield* checkInterrupt
        assert.strictEqual(calls, 1)
        yield* TestClock.adjust("1 millis")
        yield* checkInterrupt
        yield* checkInterrupt
        assert.strictEqual(calls, 2)
      }).pipe(withState({ checkerInterval: "1 second" })))

    it.effect("the checker option of the layer is installed", () =>
      Effect.gen(function*() {
        assert.strictEqual((yield* Effect.flip(checkInterrupt)).reason, "custom")
      }).pipe(withState({ checker: () => true })))
  })

  describe("timeout", () => {
    it.effect("setTimeout interrupts with reason timeout, triggeredBy timeout_monitor", () =>
      Effect.gen(function*() {
        yield* setTimeout("5 seconds")
        yield* TestClock.adjust("4999 millis")
        assert.isFalse(yield* isInterrupted)
        yield* TestClock.adjust("1 millis")
        const signal = Option.getOrThrow(yield* interruptSignal)
        assert.strictEqual(signal.reason, "timeout")
        assert.strictEqual(signal.message, "Execution exceeded 5s timeout")
        assert.strictEqual(signal.triggeredBy, "timeout_monitor")
        assert.strictEqual(signal.triggeredAt, "1970-01-01T00:00:05.000Z")
        assert.strictEqual((yield* interruptEvents).length, 1)
      }).pipe(withState()))

    it.effect("a custom message and fractional seconds", () =>
      Effect.gen(function*() {
        yield* setTimeout("1500 millis", "Budget of 1.5 s spent")
        yield* TestClock.adjust("2 seconds")
        assert.strictEqual(Option.getOrThrow(yield* interruptSignal).message, "Budget of 1.5 s spent")
      }).pipe(withState()))

    it.effect("the default message shows fractional seconds", () =>
      Effect.gen(function*() {
        yield* setTimeout("1500 millis")
        yield* TestClock.adjust("2 seconds")
        assert.strictEqual(Option.getOrThrow(yield* interruptSignal).message, "Execution exceeded 1.5s timeout")
      }).pipe(withState()))

    it.effect("a second setTimeout replaces the first", () =>
      Effect.gen(function*() {
        yield* setTimeout("5 seconds")
        yield* setTimeout("10 seconds")
        yield* TestClock.adjust("9 seconds")
        assert.isFalse(yield* isInterrupted)
        yield* TestClock.adjust("1 second")
        assert.strictEqual(Option.getOrThrow(yield* interruptSignal).message, "Execution exceeded 10s timeout")
        yield* TestClock.adjust("1 minute")
        assert.strictEqual((yield* interruptEvents).length, 1)
      }).pipe(withState()))

    it.effect("cancelTimeout prevents it", () =>
      Effect.gen(function*() {
        yield* setTimeout("5 seconds")
        yield* cancelTimeout
        yield* TestClock.adjust("1 hour")
        assert.isFalse(yield* isInterrupted)
      }).pipe(withState()))

    it.effect("never fires after another interrupt, and its fiber ends with that interrupt", () =>
      Effect.gen(function*() {
        yield* setTimeout("5 seconds")
        yield* requestInterrupt({ reason: "user_cancelled" })
        yield* TestClock.adjust("1 hour")
        assert.strictEqual(Option.getOrThrow(yield* interruptSignal).reason, "user_cancelled")
        assert.strictEqual((yield* interruptEvents).length, 1)
        // setTimeout after the interrupt does nothing
        yield* setTimeout("1 second")
        yield* TestClock.adjust("1 hour")
        assert.strictEqual((yield* interruptEvents).length, 1)
      }).pipe(withState()))

    it.effect("the timeout option of the layer starts it at once", () =>
      Effect.gen(function*() {
        yield* TestClock.adjust("3 seconds")
        assert.strictEqual(Option.getOrThrow(yield* interruptSignal).reason, "timeout")
      }).pipe(withState({ timeout: "3 seconds" })))

    it.effect("the timeout fiber is scoped to the layer: closing it leaves no pending timer", () =>
      Effect.gen(function*() {
        const fired = yield* Ref.make(false)
        yield* Effect.scoped(Effect.gen(function*() {
          const ctx = yield* Layer.build(ExecutionState.layerWithBus({ stateId: "scoped" }))
          const state = Context.get(ctx, ExecutionState)
          yield* state.setTimeout("5 seconds")
          yield* state.awaitInterrupt.pipe(Effect.andThen(Ref.set(fired, true)), Effect.forkDetach)
        }))
        yield* TestClock.adjust("1 hour")
        assert.isFalse(yield* Ref.get(fired))
      }))
  })

  describe("generators", () => {
    it.effect("registered generators are interrupted by killGenerators, finalizers run", () =>
      Effect.gen(function*() {
        const state = yield* ExecutionState
        const finalized = yield* Ref.make(0)
        const gen = Effect.never.pipe(Effect.ensuring(Ref.update(finalized, (n) => n + 1)))
        const a = yield* Effect.forkChild(gen, { startImmediately: true })
        const b = yield* Effect.forkChild(gen, { startImmediately: true })
        yield* registerGenerator(a)
        yield* registerGenerator(b)
        assert.strictEqual(yield* state.generatorCount, 2)
        yield* killGenerators
        assert.strictEqual(yield* Ref.get(finalized), 2)
        assert.strictEqual(yield* state.generatorCount, 0)
        assert.isDefined(a.pollUnsafe())
        assert.isFalse(yield* isInterrupted)
      }).pipe(withState()))

    it.effect("registered generators are interrupted automatically on interrupt; unregistered ones are not", () =>
      Effect.gen(function*() {
        const state = yield* ExecutionState
        const a = yield* Effect.forkChild(Effect.never, { startImmediately: true })
        const b = yield* Effect.forkChild(Effect.never, { startImmediately: true })
        yield* registerGenerator(a)
        yield* registerGenerator(b)
        yield* state.unregisterGenerator(b)
        yield* requestInterrupt()
        assert.isDefined(a.pollUnsafe())
        assert.isUndefined(b.pollUnsafe())
        // a generator registered after the interrupt is interrupted at once
        const c = yield* Effect.forkChild(Effect.never, { startImmediately: true })
        yield* registerGenerator(c)
        assert.isDefined(c.pollUnsafe())
        yield* Fiber.interrupt(b)
      }).pipe(withState()))

    it.effect("with a drain policy generators live until the deadline", () =>
      Effect.gen(function*() {
        const a = yield* Effect.forkChild(Effect.never, { startImmediately: true })
        yield* registerGenerator(a)
        yield* requestInterrupt({ reason: "system_shutdown" })
        assert.isUndefined(a.pollUnsafe())
        yield* TestClock.adjust("10 seconds")
        assert.isDefined(a.pollUnsafe())
      }).pipe(withState()))
  })

  describe("the bus", () => {
    // seed test 11: InterruptEvent publishing to event bus
    it.effect("the stream sees the InterruptEvent and ends right after it", () =>
      Effect.gen(function*() {
        const bus = yield* EventBus
        const collected = yield* Effect.forkChild(Stream.runCollect(bus.stream), { startImmediately: true })
        yield* Effect.yieldNow
        yield* requestInterrupt({ reason: "custom", message: "done" })
        const events = yield* Fiber.join(collected)
        assert.strictEqual(events.length, 1)
        assert.strictEqual(events[0]!._tag, "InterruptEvent")
      }).pipe(withState()))
  })

  it.effect("an invalid state id is a defect with a clear message", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Effect.scoped(Layer.build(ExecutionState.layerWithBus({ stateId: "../x" }))))
      assert.strictEqual(exit._tag, "Failure")
      assert.include(String(exit), "Invalid state id \"../x\"")
    }))

  it.effect("two layers are two independent executions", () =>
    Effect.gen(function*() {
      const one = yield* Effect.gen(function*() {
        yield* requestInterrupt()
        return yield* isInterrupted
      }).pipe(withState({ stateId: "one" }))
      const two = yield* isInterrupted.pipe(withState({ stateId: "two" }))
      assert.isTrue(one)
      assert.isFalse(two)
    }))

  it.effect("a Deferred-based waiter sees the same signal as the checkpoint", () =>
    Effect.gen(function*() {
      const seen = yield* Deferred.make<string>()
      yield* Effect.forkChild(
        awaitInterrupt.pipe(Effect.flatMap((s) => Deferred.succeed(seen, s.reason))),
        { startImmediately: true }
      )
      yield* requestInterrupt({ reason: "priority_override" })
      assert.strictEqual(yield* Deferred.await(seen), "priority_override")
    }).pipe(withState()))
})
