/**
 * Streams tied to an execution: the seed's "generator kill", done with fibers.
 *
 * `interruptible(stream)` runs the stream's producer in its own fiber, registered as a generator of
 * the execution, so the stream ends the moment the execution is interrupted (or `killGenerators`
 * runs). What was already emitted stays with the consumer, and inside `runEvent` it is recorded as
 * the event's partial output.
 *
 * @since 0.1.0
 */
import { Cause, Effect, Exit, Queue, Stream } from "effect"
import { CurrentPartialOutput } from "./Event.ts"
import { ExecutionState } from "./ExecutionState.ts"

/**
 * Options of {@link interruptible}.
 *
 * @category options
 * @since 0.1.0
 */
export interface InterruptibleOptions {
  /** How many elements the producer may run ahead of the consumer (default 16). */
  readonly bufferSize?: number | undefined
}

/**
 * Ties a stream to the current execution: it ends (successfully, keeping what it emitted) the moment
 * the execution is interrupted — per the stop policy, at once for `abort` — or its generators are
 * killed. While it runs its producer fiber is a registered generator; it is unregistered when the
 * stream ends. Elements are recorded as the partial output of the enclosing event.
 *
 * **Example** (Tokens up to the interrupt)
 *
 * ```ts
 * import { Effect, Schedule, Stream } from "effect"
 * import { interruptible } from "agent-interrupt"
 *
 * const tokens = Stream.fromSchedule(Schedule.spaced("50 millis")).pipe(Stream.map((n) => `t${n} `))
 * const collected = Stream.runCollect(interruptible(tokens))
 * // => the tokens produced before the execution was interrupted
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const interruptible = <A, E, R>(
  stream: Stream.Stream<A, E, R>,
  options: InterruptibleOptions = {}
): Stream.Stream<A, E, R | ExecutionState> =>
  Stream.unwrap(Effect.gen(function*() {
    const state = yield* ExecutionState
    const recorder = yield* CurrentPartialOutput
    const queue = yield* Queue.bounded<A, E | Cause.Done>(options.bufferSize ?? 16)
    const producer = yield* Stream.runForEach(stream, (a) => Queue.offer(queue, a)).pipe(
      // Killed (or done): end the queue, so the consumer sees the end of the stream, not an
      // interruption; a failure of the stream itself passes through.
      Effect.onExit((exit) =>
        Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)
          ? Queue.failCause(queue, exit.cause)
          : Queue.end(queue)
      ),
      Effect.forkScoped({ startImmediately: true })
    )
    yield* Effect.addFinalizer(() => state.unregisterGenerator(producer))
    yield* state.registerGenerator(producer)
    const out = Stream.fromQueue(queue)
    return recorder === undefined ? out : Stream.tap(out, (a) => Effect.sync(() => recorder.record(a)))
  }))
