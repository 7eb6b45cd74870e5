import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Logger, Ref, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import { EventBus } from "../src/index.ts"
import { interrupt, log, messages } from "./utils/events.ts"

const withBus = Effect.provide(EventBus.layer)

describe("EventBus", () => {
  it.effect("history keeps published events in order", () =>
    Effect.gen(function*() {
      const bus = yield* EventBus
      yield* bus.publish(log(1))
      yield* bus.publish(log(2))
      assert.deepStrictEqual(messages(yield* bus.history), ["m1", "m2"])
    }).pipe(withBus))

  it.effect("subscribe runs the handler for every later event, in order", () =>
    Effect.gen(function*() {
      const bus = yield* EventBus
      const seen = yield* Ref.make<Array<string>>([])
      const done = yield* Deferred.make<void>()
      yield* bus.publish(log(0))
      yield* bus.subscribe((event) =>
        Effect.gen(function*() {
          const all = yield* Ref.updateAndGet(seen, (xs) => [...xs, ...messages([event])])
          if (all.length === 3) yield* Deferred.succeed(done, undefined)
        })
      )
      yield* bus.publish(log(1))
      yield* bus.publish(log(2))
      yield* bus.publish(interrupt())
      yield* Deferred.await(done)
      assert.deepStrictEqual(yield* Ref.get(seen), ["m1", "m2", "InterruptEvent"])
    }).pipe(withBus))

  it.effect("a failing subscriber is logged and dropped; others and the publisher go on", () => {
    const warnings: Array<string> = []
    return Effect.gen(function*() {
      const bus = yield* EventBus
      const good = yield* Ref.make(0)
      const bad = yield* Ref.make(0)
      const goodDone = yield* Deferred.make<void>()
      yield* bus.subscribe(() =>
        Effect.andThen(Ref.update(bad, (n) => n + 1), Effect.fail(new Error("subscriber bug")))
      )
      yield* bus.subscribe(() =>
        Effect.flatMap(Ref.updateAndGet(good, (n) => n + 1), (n) => n === 3 ? Deferred.succeed(goodDone, undefined) : Effect.void)
      )
      assert.strictEqual(yield* bus.subscriberCount, 2)
      yield* bus.publish(log(1))
      yield* bus.publish(log(2))
      yield* bus.publish(log(3))
      yield* Deferred.await(goodDone)
      assert.strictEqual(yield* Ref.get(good), 3)
      assert.strictEqual(yield* Ref.get(bad), 1)
      assert.deepStrictEqual(warnings, ["Event bus subscriber failed; it is dropped"])
    }).pipe(
      withBus,
      Effect.provide(Logger.layer([Logger.make(({ logLevel, message }) => {
        if (logLevel === "Warn") warnings.push(String((message as Array<unknown>)[0]))
      })]))
    )
  })

  it.effect("a subscriber that throws synchronously is dropped too", () =>
    Effect.gen(function*() {
      const bus = yield* EventBus
      yield* bus.subscribe((): Effect.Effect<void> => {
        throw new Error("sync throw")
      })
      yield* bus.publish(log(1))
      yield* Effect.yieldNow
      yield* bus.publish(log(2))
      assert.strictEqual((yield* bus.history).length, 2)
    }).pipe(withBus, Effect.provide(Logger.layer([]))))

  it.effect("a slow subscriber never blocks publishing", () =>
    Effect.gen(function*() {
      const bus = yield* EventBus
      const gate = yield* Deferred.make<void>()
      const handled = yield* Ref.make(0)
      yield* bus.subscribe(() => Effect.andThen(Deferred.await(gate), Ref.update(handled, (n) => n + 1)))
      for (let i = 0; i < 1000; i++) yield* bus.publish(log(i))
      // all published while the subscriber is stuck on its first event
      assert.strictEqual((yield* bus.history).length, 1000)
      assert.strictEqual(yield* Ref.get(handled), 0)
      yield* Deferred.succeed(gate, undefined)
    }).pipe(withBus))

  it.effect("events queued when the subscriber's scope closes are still handled", () =>
    Effect.gen(function*() {
      const seen = yield* Ref.make<Array<string>>([])
      yield* Effect.scoped(Effect.gen(function*() {
        const bus = yield* EventBus
        yield* bus.subscribe((e) => Ref.update(seen, (xs) => [...xs, ...messages([e])]))
        yield* bus.publish(log(1))
        yield* bus.publish(log(2))
      }).pipe(withBus))
      assert.deepStrictEqual(yield* Ref.get(seen), ["m1", "m2"])
    }))

  it.effect("slow subscribers drain concurrently under one deadline, not one after another", () =>
    Effect.gen(function*() {
      const handled = yield* Ref.make(0)
      const bus = yield* EventBus
      const scope = yield* Scope.make()
      // three subscribers that each take 900 ms per event; the drain deadline is 1 s
      for (let i = 0; i < 3; i++) {
        yield* Scope.provide(
          bus.subscribe(() => Effect.andThen(Effect.sleep("900 millis"), Ref.update(handled, (n) => n + 1))),
          scope
        )
      }
      yield* bus.publish(log(1))
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void), { startImmediately: true })
      yield* TestClock.adjust("900 millis")
      // all three handled the queued event within the one deadline (sequentially it would take 2.7 s)
      assert.isDefined(closing.pollUnsafe())
      assert.strictEqual(yield* Ref.get(handled), 3)
    }).pipe(withBus))

  it.effect("past the deadline the drain gives up on all of them at once", () =>
    Effect.gen(function*() {
      const bus = yield* EventBus
      const scope = yield* Scope.make()
      for (let i = 0; i < 3; i++) yield* Scope.provide(bus.subscribe(() => Effect.never), scope)
      yield* bus.publish(log(1))
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void), { startImmediately: true })
      yield* TestClock.adjust("999 millis")
      assert.isUndefined(closing.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(closing)
    }).pipe(withBus))

  it.effect("stream replays history, then follows live events, and ends right after the InterruptEvent", () =>
    Effect.gen(function*() {
      const bus = yield* EventBus
      yield* bus.publish(log(1))
      yield* bus.publish(log(2))
      const collected = yield* Effect.forkChild(Stream.runCollect(bus.stream), { startImmediately: true })
      yield* Effect.yieldNow
      yield* bus.publish(log(3))
      yield* bus.publish(interrupt())
      yield* bus.publish(log(4))
      assert.deepStrictEqual(messages(yield* Fiber.join(collected)), ["m1", "m2", "m3", "InterruptEvent"])
      // a stream started after the interrupt replays up to it and ends
      assert.deepStrictEqual(messages(yield* Stream.runCollect(bus.stream)), ["m1", "m2", "m3", "InterruptEvent"])
      assert.strictEqual(yield* bus.subscriberCount, 0)
    }).pipe(withBus))

  it.effect("no event published while a stream attaches is lost or duplicated", () =>
    Effect.gen(function*() {
      const bus = yield* EventBus
      // a publisher racing with 20 readers attaching at different moments
      const publisher = yield* Effect.forkChild(
        Effect.gen(function*() {
          for (let i = 1; i <= 200; i++) {
            yield* bus.publish(log(i))
            if (i % 7 === 0) yield* Effect.yieldNow
          }
          yield* bus.publish(interrupt())
        })
      )
      const readers = yield* Effect.forEach(
        Array.from({ length: 20 }, (_, i) => i),
        (i) =>
          Effect.forkChild(
            Effect.andThen(Effect.repeat(Effect.yieldNow, { times: i }), Stream.runCollect(bus.stream))
          )
      )
      yield* Fiber.join(publisher)
      const expected = [...Array.from({ length: 200 }, (_, i) => `m${i + 1}`), "InterruptEvent"]
      for (const reader of readers) assert.deepStrictEqual(messages(yield* Fiber.join(reader)), expected)
    }).pipe(withBus))

  it.effect("streamWith resumes after a sequence number and can outlive the interrupt", () =>
    Effect.gen(function*() {
      const bus = yield* EventBus
      yield* bus.publish(log(1))
      yield* bus.publish(log(2))
      yield* bus.publish(interrupt())
      yield* bus.publish(log(3))
      const resumed = yield* Stream.runCollect(bus.streamWith({ after: 1 }))
      assert.deepStrictEqual(resumed.map((e) => e.sequence), [2, 3])
      const all = yield* Effect.forkChild(
        Stream.runCollect(bus.streamWith({ untilInterrupt: false }).pipe(Stream.take(5))),
        { startImmediately: true }
      )
      yield* bus.publish(log(5))
      assert.deepStrictEqual(messages((yield* Fiber.join(all)).map((e) => e.event)), ["m1", "m2", "InterruptEvent", "m3", "m5"])
    }).pipe(withBus))

  it.effect("the bounded history drops the oldest events, counts them and warns once", () => {
    const warnings: Array<string> = []
    return Effect.gen(function*() {
      const bus = yield* EventBus
      for (let i = 1; i <= 5; i++) yield* bus.publish(log(i))
      assert.deepStrictEqual(messages(yield* bus.history), ["m3", "m4", "m5"])
      assert.strictEqual(yield* bus.dropped, 2)
      assert.deepStrictEqual(warnings, ["Event bus history is full (3 events): older events are being dropped"])
    }).pipe(
      Effect.provide(EventBus.layerWith({ historyLimit: 3 })),
      Effect.provide(Logger.layer([Logger.make(({ logLevel, message }) => {
        if (logLevel === "Warn") warnings.push(String((message as Array<unknown>)[0]))
      })]))
    )
  })

  it.effect("output deltas are live only: followers get them in order, the history does not keep them", () =>
    Effect.gen(function*() {
      const bus = yield* EventBus
      const delta = (text: string) => ({
        _tag: "OutputDelta" as const,
        stateId: "test",
        address: "summarise::llm_call",
        occurrence: 1,
        attempt: 1,
        timestamp: "2026-11-24T10:00:00.000Z",
        delta: text
      })
      const live = yield* Effect.forkChild(
        Stream.runCollect(bus.streamWith({ untilInterrupt: false }).pipe(Stream.take(4))),
        { startImmediately: true }
      )
      yield* bus.publish(log(1))
      yield* bus.publish(delta("Hello, "))
      yield* bus.publish(delta("world"))
      yield* bus.publish(log(2))
      const seen = yield* Fiber.join(live)
      assert.deepStrictEqual(seen.map((e) => [e.sequence, e.event._tag === "OutputDelta" ? e.event.delta : e.event._tag]), [
        [1, "LogEvent"],
        [2, "Hello, "],
        [3, "world"],
        [4, "LogEvent"]
      ])
      assert.deepStrictEqual(messages(yield* bus.history), ["m1", "m2"])
      assert.deepStrictEqual((yield* Stream.runCollect(bus.streamWith({ live: false }))).map((e) => e.sequence), [1, 4])
    }).pipe(withBus))

  it.effect("stream subscriptions are released when the reader stops", () =>
    Effect.gen(function*() {
      const bus = yield* EventBus
      const reader = yield* Effect.forkChild(Stream.runDrain(bus.stream), { startImmediately: true })
      yield* Effect.yieldNow
      assert.strictEqual(yield* bus.subscriberCount, 1)
      yield* Fiber.interrupt(reader)
      assert.strictEqual(yield* bus.subscriberCount, 0)
      yield* TestClock.adjust("1 second")
    }).pipe(withBus))

  it.effect("two layers are two buses", () =>
    Effect.gen(function*() {
      const a = yield* Effect.gen(function*() {
        const bus = yield* EventBus
        yield* bus.publish(log(1))
        return (yield* bus.history).length
      }).pipe(withBus)
      const b = yield* EventBus.pipe(Effect.flatMap((bus) => bus.history), withBus)
      assert.strictEqual(a, 1)
      assert.strictEqual(b.length, 0)
    }))
})
