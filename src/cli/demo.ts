/**
 * The foundation demo: a small workflow of timed steps with an external checker and a timeout,
 * printing every bus event as it happens. The timeout interrupts it; the program exits 0 with a
 * one-line summary.
 */
import { Clock, Console, Effect, Option, Ref } from "effect"
import {
  checkInterrupt,
  EventBus,
  ExecutionState,
  interruptSignal,
  setInterruptChecker,
  setTimeout
} from "../index.ts"

const step = (n: number, steps: Ref.Ref<number>) =>
  Effect.gen(function*() {
    yield* checkInterrupt
    const bus = yield* EventBus
    const state = yield* ExecutionState
    // a step's work; the timeout cuts it short the moment it fires
    yield* Effect.raceFirst(Effect.sleep("400 millis"), state.awaitInterrupt)
    yield* checkInterrupt
    yield* Ref.update(steps, (s) => s + 1)
    const now = yield* Clock.currentTimeMillis
    yield* bus.publish({
      _tag: "LogEvent",
      stateId: state.stateId,
      level: "info",
      message: `step ${n} done`,
      timestamp: new Date(now).toISOString()
    })
  })

export const program = Effect.gen(function*() {
  const bus = yield* EventBus
  const start = yield* Clock.currentTimeMillis
  yield* bus.subscribe((event) =>
    Console.log(
      event._tag === "InterruptEvent"
        ? `! interrupted: ${event.signal.reason} (${event.signal.message ?? ""}) by ${event.signal.triggeredBy ?? "?"}`
        : event._tag === "LogEvent"
        ? `· ${event.message}`
        : `· ${event._tag}`
    )
  )
  // an external checker, as a remote controller would install: here it never fires
  yield* setInterruptChecker(() => false)
  yield* setTimeout("1500 millis")
  const steps = yield* Ref.make(0)
  const outcome = yield* Effect.forEach([1, 2, 3, 4, 5, 6], (n) => step(n, steps), { discard: true }).pipe(
    Effect.as("completed" as const),
    Effect.catchTag("ExecutionInterrupted", () => Effect.succeed("interrupted" as const))
  )
  const end = yield* Clock.currentTimeMillis
  const signal = yield* interruptSignal
  const stoppedAfter = Option.match(signal, {
    onNone: () => "",
    onSome: (s) => `, stopped ${end - Date.parse(s.triggeredAt)} ms after the request`
  })
  yield* Console.log(
    `${outcome}: reason=${Option.match(signal, { onNone: () => "none", onSome: (s) => s.reason })}, ` +
      `steps completed=${yield* Ref.get(steps)}/6, ran ${end - start} ms${stoppedAfter}`
  )
}).pipe(Effect.scoped, Effect.provide(ExecutionState.layerWithBus({ stateId: "demo" })))
