/**
 * Execution events: running one actor call with the seed's four interrupt checkpoints, preemption,
 * stop policies and retries, announcing every step on the bus.
 *
 * This module holds `runEvent`, the fiber-local address (`CurrentPath`), `ExecutionResult` and
 * `toResult`.
 *
 * @since 0.1.0
 */
import { Cause, Clock, Context, Duration, Effect, Exit, type Fiber, Option, Schema } from "effect"
import { type Actor, ActorContractError, type Condition, type HandlerContext } from "./Actor.ts"
import { type ActorKind, EventBus, ExecutionEvent, type TokenUsage } from "./EventBus.ts"
import { errorMessage as internalErrorMessage } from "./internal/text.ts"
import { ExecutionState } from "./ExecutionState.ts"
import { ExecutionInterrupted, type InterruptSignal, type StopPolicies } from "./Interrupt.ts"
import { Journal, type StepCompleted } from "./Journal.ts"
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
 * The branch of a parallel group the current fiber runs, if any: a direct member event that
 * completes marks it, so the group counts what was kept even when the branch then stops (a drain).
 *
 * @internal
 */
export const CurrentBranch = Context.Reference<{ completed: boolean } | undefined>("agent-interrupt/CurrentBranch", {
  defaultValue: () => undefined
})

/**
 * The step whose handler the current fiber runs: its address, actor, occurrence and attempt, and how
 * many questions it asked a person so far in this attempt (what numbers its inputs).
 *
 * @category references
 * @since 0.2.0
 */
export interface CurrentStepInfo {
  readonly address: string
  readonly actor: string
  readonly kind: ActorKind
  readonly occurrence: number
  readonly attempt: number
  inputs: number
}

/**
 * The step whose handler the current fiber runs, if any (`awaitInput` asks in its name).
 *
 * @category references
 * @since 0.2.0
 */
export const CurrentStep = Context.Reference<CurrentStepInfo | undefined>("agent-interrupt/CurrentStep", {
  defaultValue: () => undefined
})

/**
 * Where the output of an interruptible stream is recorded while an event's handler runs, so the
 * `interrupted` event can carry the partial output; and, for a language-model call, the tokens used
 * so far, so that its final event (and journal record) carries them.
 *
 * @category models
 * @since 0.1.0
 */
export interface PartialOutput {
  readonly record: (value: unknown) => void
  /** Replaces the usage known so far (the latest total of the attempt, not an increment). */
  readonly recordUsage?: ((usage: TokenUsage) => void) | undefined
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
export const errorMessage: (error: unknown) => string = internalErrorMessage

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

type EventFields = Partial<Omit<ExecutionEvent, "_tag" | "status">>

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
): Effect.Effect<A, E | ExecutionInterrupted | ActorContractError, R | ExecutionState | EventBus | Journal> =>
  Effect.withFiber((fiber) => {
    const context = fiber.context as Context.Context<ExecutionState | EventBus | Journal>
    const state = Context.get(context, ExecutionState)
    // checkpoint 1: before anything (an interrupted execution starts nothing, publishes nothing)
    return Effect.andThen(state.checkInterrupt, Effect.suspend(() => makeRun(actor, input, options, fiber, state)))
  })

type Failure<E> = E | ExecutionInterrupted | ActorContractError

// One event, from its first `started` to its final status. The success path is a chain of prebuilt
// steps (it runs for every event); failures, retries and interrupts take the slower, plainer paths.
const makeRun = <I, A, E, R>(
  actor: Actor<I, A, E, R>,
  input: I,
  options: RunEventOptions,
  fiber: Fiber.Fiber<unknown, unknown>,
  state: ExecutionState["Service"]
): Effect.Effect<A, Failure<E>, R> => {
  const bus = Context.get(fiber.context as Context.Context<EventBus>, EventBus)
  const journal = Context.get(fiber.context as Context.Context<Journal>, Journal)
  const clock = fiber.getRef(Clock.Clock)
  const groupId = fiber.getRef(CurrentGroup)
  const branch = groupId === undefined ? undefined : fiber.getRef(CurrentBranch)
  const path = [...fiber.getRef(CurrentPath), options.tag === undefined ? actor.name : `${actor.name}::${options.tag}`]
  const address = `${path.join("::")}::${actor.kind}_call`
  const stateId = state.stateId
  const firstStart = clock.currentTimeMillisUnsafe()
  const nowMillis = () => Number(clock.currentTimeNanosUnsafe()) / 1e6

  let occurrence = 0
  let attempt = 1
  // `settled` once the event published its final status; `begun` once it published `started`
  let settled = false
  let begun = false
  let partial: Array<unknown> = []
  let usage: TokenUsage | undefined
  let controller: AbortController | undefined
  let attemptStart = 0

  const makeEvent = (status: ExecutionEvent["status"], fields?: EventFields): ExecutionEvent => ({
    _tag: "ExecutionEvent",
      stateId,
      address,
      actor: actor.name,
      kind: actor.kind,
      status,
      occurrence,
      attempt,
      timestamp: new Date(clock.currentTimeMillisUnsafe()).toISOString(),
      ...(groupId === undefined ? {} : { groupId }),
      ...fields
    })
  const publish = (status: ExecutionEvent["status"], fields?: EventFields): Effect.Effect<void> =>
    bus.publish(makeEvent(status, fields))

  // The final status of the event: published exactly once, even while the fiber is interrupted.
  // A completed step (with a JSON result) and the partial output of an interrupted one are journaled
  // first — with `sync` durability, stored — so whoever sees the event can count on them.
  const finish = (status: "completed" | "failed" | "interrupted" | "recovered", fields: EventFields) =>
    Effect.uninterruptible(Effect.suspend(() => {
      if (settled) return Effect.void
      settled = true
      const event = makeEvent(status, fields)
      if (status === "completed" && event.result !== undefined) {
        const record: StepCompleted = {
          _tag: "StepCompleted",
          address,
          occurrence,
          actor: actor.name,
          kind: actor.kind,
          attempt,
          idempotencyKey: `${stateId}::${address}#${occurrence}`,
          timestamp: event.timestamp,
          result: event.result,
          ...(event.executionTime === undefined ? {} : { executionTime: event.executionTime }),
          ...(event.detail === undefined ? {} : { detail: event.detail }),
          ...(event.usage === undefined ? {} : { usage: event.usage })
        }
        if (branch !== undefined) branch.completed = true
        return Effect.andThen(journal.append(record), bus.publish(event))
      }
      if (status === "interrupted" && event.partialOutput !== undefined) {
        return Effect.andThen(
          journal.append({
            _tag: "StepInterrupted",
            address,
            occurrence,
            actor: actor.name,
            kind: actor.kind,
            attempt,
            timestamp: event.timestamp,
            partialOutput: event.partialOutput,
            ...(event.usage === undefined ? {} : { usage: event.usage })
          }),
          bus.publish(event)
        )
      }
      return bus.publish(event)
    }))

  // How long the stop took, and what an interrupted stream had produced (and used).
  const stopFields: Effect.Effect<EventFields> = Effect.map(state.interruptedAt, (at) => {
    const partialOutput = joinPartial(partial)
    return {
      ...(Option.isNone(at) ? {} : { stopLatency: Math.max(0, nowMillis() - at.value) }),
      ...(partialOutput === undefined ? {} : { partialOutput }),
      ...(usage === undefined ? {} : { usage })
    }
  })

  const interrupted = (signal: InterruptSignal, detail: string): Effect.Effect<never, ExecutionInterrupted> =>
    Effect.flatMap(stopFields, (fields) =>
      finish("interrupted", { detail, message: signal.message ?? `Execution interrupted: ${signal.reason}`, ...fields })).pipe(
        // the execution's prebuilt error; a new one only for an error thrown while not interrupted
        Effect.andThen(state.checkInterrupt),
        Effect.andThen(Effect.suspend(() => Effect.fail(ExecutionInterrupted.fromSignal(signal))))
      )

  // What handlers run with: their path, no group (their own calls are not members), a recorder, the
  // step they run for.
  const step: CurrentStepInfo = {
    address,
    actor: actor.name,
    kind: actor.kind,
    get occurrence() {
      return occurrence
    },
    get attempt() {
      return attempt
    },
    inputs: 0
  }
  const handlerContext = Context.add(
    Context.add(
      Context.add(Context.add(Context.add(fiber.context, CurrentPath, path), CurrentGroup, undefined), CurrentBranch, undefined),
      CurrentPartialOutput,
      {
        record: (value: unknown) => partial.push(value),
        recordUsage: (value: TokenUsage) => void (usage = value)
      }
    ),
    CurrentStep,
    step
  ) as Context.Context<R>

  const contract = (which: ActorContractError["which"]) => (detail: string) =>
    new ActorContractError({ actor: actor.name, address, which, detail })

  const decodeInput: Effect.Effect<I, ActorContractError> = actor.input === undefined
    ? Effect.succeed(input)
    : Effect.mapError(Schema.decodeUnknownEffect(actor.input)(input), (error) => contract("input")(error.message))

  const ctx = (): HandlerContext => ({
    address,
    path,
    occurrence,
    attempt,
    stateId,
    idempotencyKey: `${stateId}::${address}#${occurrence}`,
    get signal() {
      controller ??= new AbortController()
      return controller.signal
    }
  })
  const stoppable = { stopPolicy: options.stopPolicy, onAbort: (signal: InterruptSignal) => controller?.abort(signal) }

  // The handler in its own fiber, stopped by the interrupt per its stop policy.
  const runHandler = (decoded: I): Effect.Effect<A, Failure<E>, R> =>
    Effect.flatMap(
      state.runStoppable(Effect.provideContext(Effect.suspend(() => actor.handler(decoded, ctx())), handlerContext), stoppable),
      (exit): Effect.Effect<A, Failure<E>> => {
        if (Exit.isSuccess(exit)) return exit
        return Effect.flatMap(state.interruptSignal, (signal): Effect.Effect<never, Failure<E>> => {
          controller?.abort(Option.getOrUndefined(signal) ?? "stopped")
          // stopped by the interrupt: report it as the interrupt
          return Option.isSome(signal) && Cause.hasInterruptsOnly(exit.cause)
            ? Effect.andThen(state.checkInterrupt, Effect.never)
            : Effect.failCause(exit.cause)
        })
      }
    )

  // The output Schema validates by encoding: the encoded value is what the history records.
  const validateOutput = (output: A): Effect.Effect<{ readonly output: A; readonly encoded: unknown }, Failure<E>, R> => {
    const encoded: Effect.Effect<unknown, ActorContractError> = actor.output === undefined
      ? Effect.succeed(output)
      : Effect.mapError(Schema.encodeUnknownEffect(actor.output)(output), (error) => contract("output")(error.message))
    return actor.postconditions === undefined || actor.postconditions.length === 0
      ? Effect.map(encoded, (e) => ({ output, encoded: e }))
      : Effect.flatMap(encoded, (e) =>
        Effect.as(checkConditions(actor.postconditions, output, contract("postcondition")), { output, encoded: e }))
  }

  const afterPreconditions = (decoded: I) =>
    actor.preconditions === undefined || actor.preconditions.length === 0
      ? Effect.andThen(state.checkInterrupt, runHandler(decoded))
      : checkConditions(actor.preconditions, decoded, contract("precondition")).pipe(
        Effect.andThen(state.checkInterrupt), // checkpoint 3: after the preconditions
        Effect.andThen(runHandler(decoded))
      )

  // One attempt: `started`, checkpoint 2, input, preconditions, checkpoint 3, the handler, output.
  const runAttempt: Effect.Effect<{ readonly output: A; readonly encoded: unknown }, Failure<E>, R> = Effect.suspend(
    () => {
      begun = true
      partial = []
      usage = undefined
      step.inputs = 0
      controller = undefined
      attemptStart = nowMillis()
      return publish("started", { detail: truncate(show(input)) })
    }
  ).pipe(
    Effect.andThen(state.checkInterrupt), // checkpoint 2: before the preconditions
    Effect.andThen(decodeInput),
    Effect.flatMap(afterPreconditions),
    Effect.flatMap(validateOutput)
  )

  const onSuccess = ({ encoded, output }: { readonly output: A; readonly encoded: unknown }) => {
    const result = toJson(encoded)
    return finish("completed", {
      executionTime: nowMillis() - attemptStart,
      detail: truncate(show(encoded)),
      ...(result === undefined ? {} : { result }),
      ...(usage === undefined ? {} : { usage })
    }).pipe(
      Effect.andThen(state.checkInterrupt), // checkpoint 4: after the handler
      Effect.as(output)
    )
  }

  // resolved at the first failure: most events never need it
  let policy: Retry.RetryPolicy | undefined
  const onFailure = (cause: Cause.Cause<Failure<E>>): Effect.Effect<A, Failure<E>, R> =>
    Effect.gen(function*() {
      const executionTime = nowMillis() - attemptStart
      if (Cause.hasInterruptsOnly(cause)) return yield* Effect.failCause(cause)
      // An interrupt ends the event one way, whatever the handler failed with meanwhile.
      const signal = yield* state.interruptSignal
      const failure = Cause.findErrorOption(cause)
      if (Option.isSome(signal)) return yield* interrupted(signal.value, `Interrupted: ${signal.value.reason}`)
      if (Option.isSome(failure) && failure.value instanceof ExecutionInterrupted) {
        return yield* interrupted(failure.value.signal, `Interrupted: ${failure.value.reason}`)
      }
      policy ??= Retry.resolve(actor.kind, options.retry, actor.retry, fiber.getRef(Retry.RetryDefaults))
      const error = Option.isSome(failure) ? failure.value : Cause.squash(cause)
      const message = causeMessage(cause)
      const tag = errorTag(error)
      const isFinal = Option.isNone(failure) || !policy.isRetryable(error) || attempt >= policy.maxAttempts
      const delay = isFinal ? Option.none<Duration.Duration>() : yield* policy.nextDelay(attempt, error)
      const tooLate = Option.isSome(delay) && Option.isSome(policy.maxRetryTime) &&
        clock.currentTimeMillisUnsafe() + Duration.toMillis(delay.value) - firstStart >
          Duration.toMillis(policy.maxRetryTime.value)
      if (Option.isNone(delay) || tooLate) {
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
        partial = []
        return yield* interrupted(woken.value, `Interrupted during retry backoff: ${woken.value.reason}`)
      }
      return yield* attemptLoop
    })

  const attemptLoop: Effect.Effect<A, Failure<E>, R> = Effect.matchCauseEffect(runAttempt, {
    onSuccess,
    onFailure
  })

  // Stopped from outside (a cancelled group, an interrupted parent): still exactly one final event.
  // Parked (the run waits for a person and its process lets go of it): nothing ended, it runs again
  // on resume.
  const onExit = (exit: Exit.Exit<A, Failure<E>>) => {
    if (settled || !begun || !Exit.isFailure(exit) || !Cause.hasInterruptsOnly(exit.cause) || journal.parking) return Effect.void
    return Effect.flatMap(Effect.zip(state.interruptSignal, stopFields), ([signal, fields]) =>
      finish("interrupted", {
        detail: Option.isSome(signal) ? `Interrupted: ${signal.value.reason}` : "Cancelled",
        ...(Option.isSome(signal) && signal.value.message !== undefined ? { message: signal.value.message } : {}),
        ...fields
      }))
  }

  // Resuming: a call that completed in an earlier attempt returns its stored result and is not run.
  const replay = (event: StepCompleted): Effect.Effect<Option.Option<A>> => {
    const decoded: Effect.Effect<A, unknown> = actor.output === undefined
      ? Effect.succeed(event.result as A)
      : Schema.decodeUnknownEffect(actor.output)(event.result)
    return decoded.pipe(
      Effect.flatMap((value) =>
        Effect.as(
          finish("recovered", {
            message: "Recovered from restored state",
            detail: event.detail ?? truncate(show(event.result)),
            result: event.result,
            ...(event.executionTime === undefined ? {} : { executionTime: event.executionTime })
          }),
          Option.some(value)
        )
      ),
      Effect.catch((error) =>
        Effect.as(
          Effect.logWarning(`Stored result of ${address}#${occurrence} no longer decodes; running it again`, error),
          Option.none<A>()
        )
      )
    )
  }

  return Effect.suspend(() => {
    occurrence = journal.nextOccurrence(address)
    const restored = journal.restored(address, occurrence)
    return restored === undefined
      ? Effect.onExit(attemptLoop, onExit)
      : Effect.flatMap(replay(restored), (value) =>
        Option.isSome(value) ? Effect.succeed(value.value) : Effect.onExit(attemptLoop, onExit))
  })
}
