import { Console, Effect, Fiber, Stream } from "effect"
import {
  checkInterrupt,
  EventBus,
  ExecutionState,
  requestInterrupt,
  setInterruptChecker,
  setTimeout
} from "agent-interrupt"

// A unit of work that stops at its checkpoint once the execution is interrupted.
const work = (batch: number) =>
  Effect.gen(function*() {
    yield* checkInterrupt // fails with ExecutionInterrupted once interrupted
    yield* Effect.sleep("10 millis")
    return batch * 2
  })

export const program = Effect.gen(function*() {
  const bus = yield* EventBus
  // Watch the bus: history, then live events; the stream ends right after the InterruptEvent.
  const watcher = yield* Effect.forkChild(Stream.runCollect(bus.stream), { startImmediately: true })

  // An external checker (a key in Redis, a budget...) answers true, a signal, or false/null/undefined.
  let budget = 3
  yield* setInterruptChecker(() => --budget < 0)
  // A timeout interrupts with reason "timeout" unless something else interrupts first.
  yield* setTimeout("30 seconds")

  const done: Array<number> = []
  yield* Effect.forEach([1, 2, 3, 4, 5], (batch) => Effect.map(work(batch), (n) => done.push(n))).pipe(
    Effect.catchTag("ExecutionInterrupted", (e) => Console.log(`stopped: ${e.message}`))
  )
  yield* requestInterrupt({ reason: "user_cancelled" }) // changes nothing: the first interrupt won
  const events = yield* Fiber.join(watcher)
  return { done, events: events.map((e) => e._tag) }
}).pipe(Effect.provide(ExecutionState.layerWithBus({ stateId: "quickstart" })))

// npm run example quickstart
if (import.meta.main) Effect.runPromise(program).then(console.log)
// stopped: Interrupt signal detected from external source
// => { done: [2, 4, 6], events: ["InterruptEvent"] }
