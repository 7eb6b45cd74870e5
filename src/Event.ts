/**
 * Execution events: running one actor call with the seed's four interrupt checkpoints, preemption,
 * stop policies and retries, announcing every step on the bus.
 *
 * This module holds `runEvent`, the fiber-local address (`CurrentPath`), `ExecutionResult` and
 * `toResult`.
 *
 * @since 0.1.0
 */
import { Cause, Clock, Context, Duration, Effect, Exit, Option, Schema } from "effect"
import { type Actor, ActorContractError, type Condition, type HandlerContext } from "./Actor.ts"
import { EventBus, ExecutionEvent } from "./EventBus.ts"
import { ExecutionState } from "./ExecutionState.ts"
import { ExecutionInterrupted, type InterruptSignal, type StopPolicies } from "./Interrupt.ts"
import * as Retry from "./Retry.ts"

// -----------------------------------------------------------------------------
// Fiber-local context
// -----------------------------------------------------------------------------

/**
 * The path of the actor the current fiber runs in (`["planner", "search"]`); empty at the top.
 * Fiber-local: parallel branches never see each other's path.
 *
 * @category references
 * @since 0.1.0
 */
export const CurrentPath = Context.Reference<ReadonlyArray<string>>("agent-interrupt/CurrentPath", {
  defaultValue: () => []
})

/**
 * The parallel group the current fiber is a direct branch of, if any; member events carry its id.
 *
 * @category references
 * @since 0.1.0
 */
export const CurrentGroup = Context.Reference<string | undefined>("agent-interrupt/CurrentGroup", {
  defaultValue: () => undefined
})

/**
 * Where the output of an interruptible stream is recorded while an event's handler runs, so the
 * `interrupted` event can carry the partial output.
 *
 * @category models
 * @since 0.1.0
 */
export interface PartialOutput {
  readonly record: (value: unknown) => void
}

/**
 * The partial-output recorder of the event whose handler the current fiber runs, if any.
 *
 * @category references
 * @since 0.1.0
 */
export const CurrentPartialOutput = Context.Reference<PartialOutput | undefined>(
  "agent-interrupt/CurrentPartialOutput",
  { defaultValue: () => undefined }
)

// -----------------------------------------------------------------------------
// Results
// -----------------------------------------------------------------------------

/**
 * The outcome of an effect as a value, as the seed's `ExecutionResult`: `executionTime` in
 * milliseconds, `errorMessage` when `ok` is false.
 *
 * @category models
 * @since 0.1.0
 */
export interface ExecutionResult<A> {
  readonly result?: A | undefined
  readonly executionTime: number
  readonly ok: boolean
  readonly errorMessage?: string | undefined
}

/**
 * The message of any failure: an error's `message` (or its `_tag`), or the text of anything else.
 *
 * @category utils
 * @since 0.1.0
 */
export const errorMessage = (error: unknown): string => {
  if (typeof error === "object" && error !== null) {
    const message = "message" in error && typeof error.message === "string" ? error.message : ""
    if (message !== "") return message
    if ("_tag" in error && typeof error._tag === "string") return error._tag
  }
  if (typeof error === "string") return error
  try {
    return JSON.stringify(error) ?? String(error)
  } catch {
    return String(error)
  }
}

/**
 * The tag of an error: its `_tag`, else its class name, else `Error`.
 *
 * @category utils
 * @since 0.1.0
 */
export const errorTag = (error: unknown): string => {
  if (typeof error === "object" && error !== null) {
    if ("_tag" in error && typeof error._tag === "string") return error._tag
    const name = error.constructor?.name
    if (typeof name === "string" && name !== "" && name !== "Object") return name
  }
  return "Error"
}

const causeMessage = <E>(cause: Cause.Cause<E>): string => {
  const error = Cause.findErrorOption(cause)
  if (Option.isSome(error)) return errorMessage(error.value)
  if (Cause.hasInterruptsOnly(cause)) return "Interrupted"
  return errorMessage(Cause.squash(cause))
}

/**
 * Runs an effect and turns its outcome into an `ExecutionResult` (an interruption of the fiber itself
 * still propagates).
 *
 * **Example** (A failure as a value)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { toResult } from "agent-interrupt"
 *
 * const result = toResult(Effect.fail(new Error("boom")))
 * // => Effect<{ ok: false, errorMessage: "boom", executionTime: 0 }>
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const toResult = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<ExecutionResult<A>, never, R> =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeNanos
    const exit = yield* Effect.exit(self)
    const executionTime = Number((yield* Clock.currentTimeNanos) - start) / 1e6
    if (Exit.isSuccess(exit)) return { result: exit.value, executionTime, ok: true }
    if (Cause.hasInterruptsOnly(exit.cause)) return yield* Effect.failCause(exit.cause as Cause.Cause<never>)
    return { executionTime, ok: false, errorMessage: causeMessage(exit.cause) }
  })

// -----------------------------------------------------------------------------
// runEvent
// -----------------------------------------------------------------------------

/**
 * Options of {@link runEvent}.
 *
 * **Details**
 *
 * - `tag`: appended to the actor's path segment (`search::web`), to tell calls apart.
 * - `retry`: retry options for this call (win over the actor's and the execution's).
 * - `stopPolicy`: stop policies for this call (win over the execution layer's).
 *
 * @category options
 * @since 0.1.0
 */
export interface RunEventOptions {
  readonly tag?: string | undefined
  readonly retry?: Retry.RetryOptions | undefined
  readonly stopPolicy?: StopPolicies | undefined
}

const DETAIL_LIMIT = 200

const truncate = (text: string): string =>
  text.length <= DETAIL_LIMIT ? text : `${text.slice(0, DETAIL_LIMIT - 1)}…`

const show = (value: unknown): string => {
  if (typeof value === "string") return value
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

const isJson = Schema.is(Schema.Json)

// What the history records of a result: JSON, or nothing when the value is not JSON.
const toJson = (value: unknown): Schema.Json | undefined => {
  if (value === undefined) return null
  return isJson(value) ? value : undefined
}

const joinPartial = (items: ReadonlyArray<unknown>): Schema.Json | undefined => {
  if (items.length === 0) return undefined
  if (items.every((item) => typeof item === "string")) return items.join("")
  return items.filter(isJson) as Array<Schema.Json>
}

const checkConditions = <A, E, R>(
  conditions: ReadonlyArray<Condition<A, E, R>> | undefined,
  value: A,
  fail: (detail: string) => ActorContractError
): Effect.Effect<void, E | ActorContractError, R> =>
  conditions === undefined || conditions.length === 0
    ? Effect.void
    : Effect.forEach(conditions, (condition, index) =>
      Effect.flatMap(
        Effect.suspend(() => {
          const answer = condition(value)
          return Effect.isEffect(answer) ? answer : Effect.succeed(answer)
        }),
        (answer) =>
          answer === true
            ? Effect.void
            : Effect.fail(fail(typeof answer === "string" ? answer : `condition #${index + 1} returned false`))
      ), { discard: true })

/**
 * Runs one actor call as an execution event.
 *
 * **Details**
 *
 * - Checkpoints (`checkInterrupt`): 1. before anything, 2. before the preconditions, 3. after them,
 *   4. after the handler. Nothing starts once the execution is interrupted.
 * - The handler is raced against the interrupt: per the stop policy of its reason (`abort` after a
 *   grace period, default at once; `drain` up to a deadline) its fiber is interrupted (finalizers run;
 *   `Effect.uninterruptible` work finishes first) and the event ends `interrupted`, detail
 *   `Interrupted: {reason}`, with the stop latency and any partial stream output.
 * - Events: `started` per attempt, then exactly one of `completed`, `failed` (followed by `retrying`
 *   when retried) or `interrupted`; exactly one `interrupted` per event, whatever stopped it.
 * - A handler that completes while the execution is being interrupted (a drain) keeps its result as
 *   `completed`; checkpoint 4 then fails the call with `ExecutionInterrupted` so the caller stops.
 * - Fails with `ExecutionInterrupted`, the handler's `E`, or `ActorContractError`.
 *
 * **Example** (A tool inside an agent)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Actor, runEvent } from "agent-interrupt"
 *
 * const search = Actor.tool("search", (q: string) => Effect.succeed([`hit for ${q}`]))
 * const planner = Actor.agent("planner", (topic: string) => runEvent(search, topic))
 * // runEvent(planner, "effect") publishes events at planner::agent_call and planner::search::tool_call
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const runEvent = <I, A, E, R>(
  actor: Actor<I, A, E, R>,
  input: I,
  options: RunEventOptions = {}
): Effect.Effect<A, E | ExecutionInterrupted | ActorContractError, R | ExecutionState | EventBus> =>
  Effect.gen(function*() {
    const state = yield* ExecutionState
    // checkpoint 1: before anything (an interrupted execution starts nothing, publishes nothing)
    yield* state.checkInterrupt
    const bus = yield* EventBus
    const parentPath = yield* CurrentPath
    const groupId = yield* CurrentGroup
    const path = [...parentPath, options.tag === undefined ? actor.name : `${actor.name}::${options.tag}`]
    const address = `${path.join("::")}::${actor.kind}_call`
    const occurrence = yield* state.nextOccurrence(address)
    const stateId = state.stateId
    const idempotencyKey = `${stateId}::${address}#${occurrence}`
    const policy = Retry.resolve(actor.kind, options.retry, actor.retry, yield* Retry.RetryDefaults)
    const firstStart = yield* Clock.currentTimeMillis
    const inputDetail = truncate(show(input))

    let attempt = 1
    // Set once the event has published its final status; the partial output of the running attempt.
    let settled = false
    let begun = false
    let partial: Array<unknown> = []

    const publish = (
      status: ExecutionEvent["status"],
      fields: Partial<Omit<ExecutionEvent, "_tag" | "status">> = {}
    ) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        bus.publish(
          new ExecutionEvent({
            stateId,
            address,
            actor: actor.name,
            kind: actor.kind,
            status,
            occurrence,
            attempt,
            timestamp: new Date(now).toISOString(),
            ...(groupId === undefined ? {} : { groupId }),
            ...fields
          }, { disableChecks: true })
        ))

    // The final status of the event: published exactly once, even if the fiber is being interrupted.
    const finish = (
      status: "completed" | "failed" | "interrupted",
      fields: Partial<Omit<ExecutionEvent, "_tag" | "status">>
    ) =>
      Effect.uninterruptible(Effect.suspend(() => {
        if (settled) return Effect.void
        settled = true
        return publish(status, fields)
      }))

    const latency = Effect.gen(function*() {
      const at = yield* state.interruptedAt
      if (Option.isNone(at)) return {}
      const now = Number(yield* Clock.currentTimeNanos) / 1e6
      return { stopLatency: Math.max(0, now - at.value) }
    })

    const interrupted = (
      signal: InterruptSignal,
      detail: string,
      partial: ReadonlyArray<unknown>
    ): Effect.Effect<never, ExecutionInterrupted> =>
      Effect.gen(function*() {
        const partialOutput = joinPartial(partial)
        yield* finish("interrupted", {
          detail,
          message: signal.message ?? `Execution interrupted: ${signal.reason}`,
          ...(yield* latency),
          ...(partialOutput === undefined ? {} : { partialOutput })
        })
        return yield* state.checkInterrupt.pipe(
          Effect.andThen(Effect.fail(ExecutionInterrupted.fromSignal(signal)))
        )
      }).pipe(Effect.uninterruptible)

    // One attempt: checkpoints 2 and 3, the handler raced against the interrupt, checkpoint 4.
    const runAttempt = Effect.gen(function*() {
      const attemptStart = Number(yield* Clock.currentTimeNanos) / 1e6
      begun = true
      yield* publish("started", { detail: inputDetail })
      partial = []
      let controller: AbortController | undefined
      const abortHandler = (reason: unknown) => controller?.abort(reason)

      const body = Effect.gen(function*() {
        yield* state.checkInterrupt // checkpoint 2: before the preconditions
        const decoded = actor.input === undefined
          ? input
          : yield* Schema.decodeUnknownEffect(actor.input)(input).pipe(
            Effect.mapError((error) =>
              new ActorContractError({ actor: actor.name, address, which: "input", detail: error.message })
            )
          )
        yield* checkConditions(actor.preconditions, decoded, (detail) =>
          new ActorContractError({ actor: actor.name, address, which: "precondition", detail }))
        yield* state.checkInterrupt // checkpoint 3: after the preconditions

        const ctx: HandlerContext = {
          address,
          path,
          occurrence,
          attempt,
          stateId,
          idempotencyKey,
          get signal() {
            controller ??= new AbortController()
            return controller.signal
          }
        }
        // The stop watcher: fails the race per the stop policy of the interrupt's reason.
        const watcher = Effect.flatMap(state.awaitInterrupt, (signal) => {
          const resolved = state.stopPolicy(signal.reason, options.stopPolicy)
          const fail = Effect.fail(ExecutionInterrupted.fromSignal(signal))
          if (resolved._tag === "abort") {
            abortHandler(signal)
            return Duration.isZero(resolved.grace) ? fail : Effect.andThen(Effect.sleep(resolved.grace), fail)
          }
          return Effect.sleep(resolved.deadline).pipe(
            Effect.andThen(Effect.sync(() => abortHandler(signal))),
            Effect.andThen(fail)
          )
        })
        const handler = Effect.suspend(() => actor.handler(decoded, ctx)).pipe(
          Effect.provideService(CurrentPath, path),
          Effect.provideService(CurrentGroup, undefined),
          Effect.provideService(CurrentPartialOutput, { record: (value) => partial.push(value) }),
          Effect.onInterrupt(() => Effect.sync(() => abortHandler("interrupted")))
        )
        const output = yield* Effect.raceFirst(handler, watcher)

        // The output Schema validates by encoding: the encoded value is what the history records.
        const encoded = actor.output === undefined
          ? Option.none<unknown>()
          : Option.some(
            yield* Schema.encodeUnknownEffect(actor.output)(output).pipe(
              Effect.mapError((error) =>
                new ActorContractError({ actor: actor.name, address, which: "output", detail: error.message })
              )
            )
          )
        yield* checkConditions(actor.postconditions, output, (detail) =>
          new ActorContractError({ actor: actor.name, address, which: "postcondition", detail }))
        return { output, encoded }
      })

      const exit = yield* Effect.exit(body)
      const executionTime = Number(yield* Clock.currentTimeNanos) / 1e6 - attemptStart
      return { exit, executionTime }
    })

    const loop: Effect.Effect<A, E | ExecutionInterrupted | ActorContractError, R> = Effect.gen(function*() {
      while (true) {
        const { executionTime, exit } = yield* runAttempt
        if (Exit.isSuccess(exit)) {
          const { encoded, output: value } = exit.value
          const result = toJson(Option.isSome(encoded) ? encoded.value : value)
          yield* finish("completed", {
            executionTime,
            detail: truncate(show(value)),
            ...(result === undefined ? {} : { result })
          })
          yield* state.checkInterrupt // checkpoint 4: after the handler
          return value
        }
        const cause = exit.cause
        if (Cause.hasInterruptsOnly(cause)) return yield* Effect.failCause(cause as Cause.Cause<never>)
        // An interrupt ends the event one way, whatever the handler failed with meanwhile.
        const signal = yield* state.interruptSignal
        const failure = Cause.findErrorOption(cause)
        if (Option.isSome(signal)) {
          return yield* interrupted(signal.value, `Interrupted: ${signal.value.reason}`, partial)
        }
        if (Option.isSome(failure) && failure.value instanceof ExecutionInterrupted) {
          return yield* interrupted(failure.value.signal, `Interrupted: ${failure.value.reason}`, partial)
        }
        const error = Option.isSome(failure) ? failure.value : Cause.squash(cause)
        const message = causeMessage(cause)
        const tag = errorTag(error)
        const isFinal = Option.isNone(failure) || !policy.isRetryable(error) || attempt >= policy.maxAttempts
        const delay = isFinal ? Option.none<Duration.Duration>() : yield* policy.nextDelay(attempt, error)
        const now = yield* Clock.currentTimeMillis
        const tooLate = Option.isSome(delay) && Option.isSome(policy.maxRetryTime) &&
          now + Duration.toMillis(delay.value) - firstStart > Duration.toMillis(policy.maxRetryTime.value)
        if (isFinal || Option.isNone(delay) || tooLate) {
          yield* finish("failed", { executionTime, message, errorTag: tag })
          return yield* Effect.failCause(cause)
        }
        yield* publish("failed", { executionTime, message, errorTag: tag })
        yield* publish("retrying", {
          message: `Retrying after ${tag}: ${message}`,
          detail: `Attempt ${attempt + 1}/${policy.maxAttempts} in ${Duration.format(delay.value)}`
        })
        attempt++
        // The backoff ends the moment the execution is interrupted: nothing new starts after that.
        const woken = yield* Effect.raceFirst(
          Effect.as(Effect.sleep(delay.value), Option.none<InterruptSignal>()),
          Effect.map(state.awaitInterrupt, Option.some)
        )
        if (Option.isSome(woken)) {
          return yield* interrupted(woken.value, `Interrupted during retry backoff: ${woken.value.reason}`, [])
        }
      }
    })

    // Stopped from outside (a cancelled group, an interrupted parent): still exactly one terminal event.
    return yield* loop.pipe(
      Effect.onExit((exit) => {
        if (settled || !begun || !Exit.isFailure(exit) || !Cause.hasInterruptsOnly(exit.cause)) return Effect.void
        return Effect.gen(function*() {
          const signal = yield* state.interruptSignal
          const detail = Option.isSome(signal) ? `Interrupted: ${signal.value.reason}` : "Cancelled"
          const partialOutput = joinPartial(partial)
          yield* finish("interrupted", {
            detail,
            ...(partialOutput === undefined ? {} : { partialOutput }),
            ...(Option.isSome(signal) && signal.value.message !== undefined ? { message: signal.value.message } : {}),
            ...(yield* latency)
          })
        })
      })
    )
  })
