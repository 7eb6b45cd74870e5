import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Ref, Schedule, Stream } from "effect"
import { TestClock } from "effect/testing"
import {
  Actor,
  ExecutionInterrupted,
  ExecutionState,
  interruptible,
  killGenerators,
  parallel,
  requestInterrupt,
  runEvent
} from "../src/index.ts"
import { executionEvents } from "./utils/bus.ts"

const withState = Effect.provide(ExecutionState.layerWithBus({ stateId: "test" }))

/** One token every 100 ms, the first at 100 ms: "t0 ", "t1 ", ... forever. */
const tokens = Stream.fromSchedule(Schedule.spaced("100 millis")).pipe(Stream.map((n) => `t${n} `))

const generatorCount = Effect.flatMap(ExecutionState, (s) => s.generatorCount)

describe("interruptible streams", () => {
  // seed: generator registry + generator auto-cleanup
  it.effect("the producer is a registered generator while the stream runs, and unregistered after", () =>
    Effect.gen(function*() {
      const seen = yield* Ref.make<Array<number>>([])
      const collected = yield* Stream.runCollect(
        interruptible(Stream.make(1, 2, 3)).pipe(
          Stream.tap(() => Effect.flatMap(generatorCount, (n) => Ref.update(seen, (xs) => [...xs, n])))
        )
      )
      assert.deepStrictEqual(collected, [1, 2, 3])
      assert.deepStrictEqual(yield* Ref.get(seen), [1, 1, 1])
      assert.strictEqual(yield* generatorCount, 0)
    }).pipe(withState))

  // seed: stream termination
  it.effect("the stream ends the moment the execution is interrupted and keeps what it emitted", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(Stream.runCollect(interruptible(tokens)), { startImmediately: true })
      yield* TestClock.adjust("250 millis")
      yield* requestInterrupt({ reason: "user_cancelled" })
      assert.deepStrictEqual(yield* Fiber.join(fiber), ["t0 ", "t1 "])
      assert.strictEqual(yield* generatorCount, 0)
    }).pipe(withState))

  it.effect("a stream started after the interrupt ends at once", () =>
    Effect.gen(function*() {
      yield* requestInterrupt()
      assert.deepStrictEqual(yield* Stream.runCollect(interruptible(tokens)), [])
    }).pipe(withState))

  // seed: several generators
  it.effect("several generators all end on interrupt; killGenerators alone ends them too", () =>
    Effect.gen(function*() {
      const fibers = yield* Effect.forEach([1, 2, 3], () =>
        Effect.forkChild(Stream.runCollect(interruptible(tokens)), { startImmediately: true }))
      yield* TestClock.adjust("250 millis")
      assert.strictEqual(yield* generatorCount, 3)
      yield* killGenerators
      for (const fiber of fibers) assert.deepStrictEqual(yield* Fiber.join(fiber), ["t0 ", "t1 "])
      assert.strictEqual(yield* generatorCount, 0)
      // killGenerators is not an interrupt
      assert.isFalse(yield* Effect.flatMap(ExecutionState, (s) => s.isInterrupted))
    }).pipe(withState))

  it.effect("stream failures pass through", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Stream.runCollect(interruptible(Stream.fail("broken"))))
      assert.strictEqual(error, "broken")
      assert.strictEqual(yield* generatorCount, 0)
    }).pipe(withState))

  it.effect("an LLM token stream interrupted mid-way records its partial output on the interrupted event", () =>
    Effect.gen(function*() {
      const third = yield* Deferred.make<void>()
      const summarise = Actor.llm("summarise", (_: string) =>
        interruptible(tokens).pipe(
          Stream.tap((t) => t === "t2 " ? Deferred.succeed(third, undefined) : Effect.void),
          Stream.runCollect,
          Effect.map((ts) => ts.join(""))
        ))
      const fiber = yield* Effect.forkChild(runEvent(summarise, "text"), { startImmediately: true })
      yield* TestClock.adjust("300 millis")
      yield* Deferred.await(third)
      yield* requestInterrupt({ reason: "user_cancelled" })
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert.instanceOf(error, ExecutionInterrupted)
      const interrupted = (yield* executionEvents).find((e) => e.status === "interrupted")!
      assert.strictEqual(interrupted.partialOutput, "t0 t1 t2 ")
      assert.strictEqual(yield* generatorCount, 0)
    }).pipe(withState))

  it.effect("streams in parallel branches all end when the group is interrupted", () =>
    Effect.gen(function*() {
      const llm = Actor.llm("answer", (_: number) => Stream.runCollect(interruptible(tokens)))
      const fiber = yield* Effect.forkChild(
        parallel([1, 2, 3].map((n) => runEvent(llm, n)), { concurrency: "unbounded" }),
        { startImmediately: true }
      )
      yield* TestClock.adjust("200 millis")
      yield* requestInterrupt()
      yield* Effect.flip(Fiber.join(fiber))
      const partials = (yield* executionEvents).filter((e) => e.status === "interrupted").map((e) => e.partialOutput)
      assert.deepStrictEqual(partials, ["t0 t1 ", "t0 t1 ", "t0 t1 "])
      assert.strictEqual(yield* generatorCount, 0)
    }).pipe(withState))
})
