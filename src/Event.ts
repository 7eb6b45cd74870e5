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
import { type ActorKind, EventBus, type ExecutionEvent, type TokenUsage } from "./EventBus.ts"
import { errorMessage as internalErrorMessage } from "./internal/text.ts"
import { isoOf } from "./internal/time.ts"
import { ExecutionState } from "./ExecutionState.ts"
import { ExecutionInterrupted, type InterruptSignal, type StopPolicies } from "./Interrupt.ts"
import { Journal, type JournalRecord, type StepCompleted, type StepInterrupted } from "./Journal.ts"
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
 * A member event a group may settle.
 *
 * @internal
 */
export type Member = Run<any, any, any, any>

/**
 * What the branches of one parallel group share: set by the group when the execution's interrupt
 * aborts it (the signal), and the abort controllers of its members' handlers, aborted with it.
 *
 * @internal
 */
export interface GroupStop {
  signal: InterruptSignal | undefined
  readonly controllers: Set<AbortController>
  /**
   * The member events running in their branch's own fiber: when a branch is stopped its fiber just
   * ends, and the group settles these (see `settleMembers`), rather than each unwinding a finalizer.
   */
  readonly members: Set<Member>
}

/**
 * A branch of a parallel group: a direct member event that completes marks it, so the group counts
 * what was kept even when the branch then stops (a drain).
 *
 * @internal
 */
export interface Branch {
  completed: boolean
  readonly group: GroupStop
  /** The fiber that runs the branch. */
  readonly fiber: Fiber.Fiber<unknown, unknown>
}

/**
 * The branch of a parallel group the current fiber runs, if any. Its direct member events run their
 * handler in the branch's own fiber, which the group stops (see `runEvent`).
 *
 * @internal
 */
export const CurrentBranch = Context.Reference<Branch | undefined>("agent-interrupt/CurrentBranch", {
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
  /** The step the recording handler runs for (what `CurrentStep` reads). */
  readonly step?: CurrentStepInfo | undefined
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

/**
 * The step whose handler the current fiber runs, if any (`awaitInput` asks in its name). It travels
 * with the handler's recorder, so a handler's context carries no second entry for it.
 *
 * @category accessors
 * @since 0.2.0
 */
export const CurrentStep: Effect.Effect<CurrentStepInfo | undefined> = Effect.withFiber((fiber) =>
  Effect.succeed(fiber.getRef(CurrentPartialOutput)?.step)
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

// An event under construction: the final object goes on the bus as is (no copies, no spreads), its
// keys in the order they were always published in.
type MutableEvent = { -readonly [K in keyof ExecutionEvent]: ExecutionEvent[K] }

const DETAIL_LIMIT = 200

const truncate = (text: string): string =>
  text.length <= DETAIL_LIMIT ? text : `${text.slice(0, DETAIL_LIMIT - 1)}…`

const show = (value: unknown): string => {
  if (typeof value === "string") return value
  // what JSON.stringify gives them, without its set-up
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "null"
  if (typeof value === "boolean") return value ? "true" : "false"
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

const isJson = Schema.is(Schema.Json)

// What the history records of a result: JSON, or nothing when the value is not JSON. Scalars answer
// at once, as `Schema.Json` answers them (finite numbers only); objects and arrays are walked by it.
const toJson = (value: unknown): Schema.Json | undefined => {
  switch (typeof value) {
    case "undefined":
      return null
    case "string":
    case "boolean":
      return value
    case "number":
      return Number.isFinite(value) ? value : undefined
    case "object":
      return value === null || isJson(value) ? value as Schema.Json : undefined
    default:
      return undefined
  }
}

const joinPartial = (items: ReadonlyArray<unknown> | undefined): Schema.Json | undefined => {
  if (items === undefined || items.length === 0) return undefined
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
  options: RunEventOptions = noOptions
): Effect.Effect<A, E | ExecutionInterrupted | ActorContractError, R | ExecutionState | EventBus | Journal> =>
  Effect.withFiber((fiber) => {
    const state = Context.get(fiber.context as Context.Context<ExecutionState>, ExecutionState)
    // checkpoint 1: before anything (an interrupted execution starts nothing, publishes nothing)
    const check = state.checkInterruptUnsafe()
    return check === Effect.void
      ? start(actor, input, options, fiber, state)
      : Effect.andThen(check, Effect.suspend(() => start(actor, input, options, fiber, state)))
  })

const noOptions: RunEventOptions = {}

type Failure<E> = E | ExecutionInterrupted | ActorContractError

// One event, from its first `started` to its final status: a plain record the steps below share, so
// that an event costs one object and a few effects rather than a closure per step. The success path
// runs synchronously from step to step; failures, retries and interrupts take the plainer paths.
interface Run<I, A, E, R> {
  readonly actor: Actor<I, A, E, R>
  readonly input: I
  readonly options: RunEventOptions
  /** The caller's fiber and its context: the handler's is built on it. */
  readonly fiber: Fiber.Fiber<unknown, unknown>
  readonly context: Context.Context<never>
  readonly state: ExecutionState["Service"]
  readonly bus: EventBus["Service"]
  readonly journal: Journal["Service"]
  readonly clock: Clock.Clock
  readonly groupId: string | undefined
  readonly branch: Branch | undefined
  /**
   * A direct member of a parallel group without a stop policy of its own runs its handler in the
   * branch's fiber: the group, stopped by the interrupt, stops it (no fiber of its own to stop).
   */
  readonly inline: boolean
  /**
   * An inline member in the branch's own fiber (not in a fiber the branch forked): a stop of the
   * branch ends that fiber, and its group settles the event (`settleMembers`).
   */
  readonly swept: boolean
  readonly path: ReadonlyArray<string>
  readonly address: string
  /** When the first attempt started (Clock milliseconds). */
  firstStart: number
  readonly occurrence: number
  /** `stateId::address#occurrence`: the handler's and the journal's. */
  readonly idempotencyKey: string
  attempt: number
  /** Set once the event published its final status. */
  settled: boolean
  /** Set once the event published `started`. */
  begun: boolean
  /** What an interruptible stream in the handler produced (this attempt). */
  partial: Array<unknown> | undefined
  /** The tokens a language-model call used so far (this attempt). */
  usage: TokenUsage | undefined
  controller: AbortController | undefined
  /** When this attempt started (the Clock's monotonic nanoseconds: durations only). */
  attemptStart: bigint
  /** The output as the output Schema encoded it. */
  encoded: unknown
  /** Resolved at the first failure: most events never need it. */
  policy: Retry.RetryPolicy | undefined
}

// Where an actor's calls sit under a parent path: computed once per parent path and actor, both of
// which the calls of one handler (or of the top of a run) share. A memo of a pure function.
interface Place {
  readonly path: ReadonlyArray<string>
  readonly address: string
}
const places = new WeakMap<ReadonlyArray<string>, WeakMap<Actor<any, any, any, any>, Place>>()

const makePlace = (parent: ReadonlyArray<string>, segment: string, kind: ActorKind): Place => ({
  path: [...parent, segment],
  address: `${parent.length === 0 ? segment : `${parent.join("::")}::${segment}`}::${kind}_call`
})

const placeOf = (parent: ReadonlyArray<string>, actor: Actor<any, any, any, any>, tag: string | undefined): Place => {
  if (tag !== undefined) return makePlace(parent, `${actor.name}::${tag}`, actor.kind)
  let byActor = places.get(parent)
  if (byActor === undefined) places.set(parent, byActor = new WeakMap())
  let place = byActor.get(actor)
  if (place === undefined) byActor.set(actor, place = makePlace(parent, actor.name, actor.kind))
  return place
}

const start = <I, A, E, R>(
  actor: Actor<I, A, E, R>,
  input: I,
  options: RunEventOptions,
  fiber: Fiber.Fiber<unknown, unknown>,
  state: ExecutionState["Service"]
): Effect.Effect<A, Failure<E>, R> => {
  const context = fiber.context
  const groupId = fiber.getRef(CurrentGroup)
  const branch = groupId === undefined ? undefined : fiber.getRef(CurrentBranch)
  const clock = fiber.getRef(Clock.Clock)
  const journal = Context.get(context as Context.Context<Journal>, Journal)
  const { address, path } = placeOf(fiber.getRef(CurrentPath), actor, options.tag)
  const occurrence = journal.nextOccurrence(address)
  const run: Run<I, A, E, R> = {
    actor,
    input,
    options,
    fiber,
    context,
    state,
    bus: Context.get(context as Context.Context<EventBus>, EventBus),
    journal,
    clock,
    groupId,
    branch,
    inline: branch !== undefined && options.stopPolicy === undefined,
    swept: branch !== undefined && options.stopPolicy === undefined && branch.fiber === fiber,
    path,
    address,
    firstStart: 0,
    occurrence,
    idempotencyKey: `${state.stateId}::${address}#${occurrence}`,
    attempt: 1,
    settled: false,
    begun: false,
    partial: undefined,
    usage: undefined,
    controller: undefined,
    attemptStart: 0n,
    encoded: undefined,
    policy: undefined
  }
  // Resuming: a call that completed in an earlier attempt returns its stored result and is not run.
  const restored = journal.restored(address, occurrence)
  return restored === undefined
    ? guarded(run)
    : Effect.flatMap(replay(run, restored), (value) => Option.isSome(value) ? Effect.succeed(value.value) : guarded(run))
}

// The first attempt begins at once (this runs as the caller's step). If the caller is stopped from
// outside, `onExit` settles the event; a swept member's group does (no finalizer to unwind).
const guarded = <I, A, E, R>(run: Run<I, A, E, R>): Effect.Effect<A, Failure<E>, R> => {
  if (!run.swept) return Effect.onExitPrimitive(attempt(run, beginAttempt(run)), (exit) => onExit(run, exit))
  run.branch!.group.members.add(run)
  return attempt(run, beginAttempt(run))
}

// An attempt, then its final status or a retry.
const attempt = <I, A, E, R>(run: Run<I, A, E, R>, body: Effect.Effect<A, Failure<E>, R>): Effect.Effect<A, Failure<E>, R> =>
  Effect.matchCauseEffect(body, {
    onSuccess: (output) => succeeded(run, output),
    onFailure: (cause) => failed(run, cause)
  })

// -----------------------------------------------------------------------------
// Events
// -----------------------------------------------------------------------------

// The Clock's monotonic time (ms, with a fraction): what durations are measured on, and cheaper to
// read than the wall clock's nanoseconds.
const monotonicMillis = (run: Run<any, any, any, any>) => Number(run.clock.monotonicTimeNanosUnsafe()) / 1e6

// How long this attempt has run (ms, with a fraction).
const attemptMillis = (run: Run<any, any, any, any>) =>
  Number(run.clock.monotonicTimeNanosUnsafe() - run.attemptStart) / 1e6

// The keys every event starts with; the caller adds its own fields after them.
const makeEvent = (
  run: Run<any, any, any, any>,
  status: ExecutionEvent["status"],
  now: number = run.clock.currentTimeMillisUnsafe()
): MutableEvent => {
  const event: MutableEvent = {
    _tag: "ExecutionEvent",
    stateId: run.state.stateId,
    address: run.address,
    actor: run.actor.name,
    kind: run.actor.kind,
    status,
    occurrence: run.occurrence,
    attempt: run.attempt,
    timestamp: isoOf(now)
  }
  if (run.groupId !== undefined) event.groupId = run.groupId
  return event
}

// How long the stop took, and what an interrupted stream had produced.
const addStopFields = (run: Run<any, any, any, any>, event: MutableEvent, monotonic = monotonicMillis(run)): void => {
  const interrupt = run.state.currentInterrupt()
  if (interrupt !== undefined) event.stopLatency = Math.max(0, monotonic - interrupt.monotonicAt)
  const partialOutput = joinPartial(run.partial)
  if (partialOutput !== undefined) event.partialOutput = partialOutput
  if (run.usage !== undefined) event.usage = run.usage
}

// The record of a completed step (what a resume replays), journaled before its event is published.
const stepRecord = (run: Run<any, any, any, any>, event: MutableEvent): StepCompleted => {
  const record: { -readonly [K in keyof StepCompleted]: StepCompleted[K] } = {
    _tag: "StepCompleted",
    address: run.address,
    occurrence: run.occurrence,
    actor: run.actor.name,
    kind: run.actor.kind,
    attempt: run.attempt,
    idempotencyKey: run.idempotencyKey,
    timestamp: event.timestamp,
    result: event.result!
  }
  if (event.executionTime !== undefined) record.executionTime = event.executionTime
  if (event.detail !== undefined) record.detail = event.detail
  if (event.usage !== undefined) record.usage = event.usage
  return record
}

const partialRecord = (run: Run<any, any, any, any>, event: MutableEvent): StepInterrupted => ({
  _tag: "StepInterrupted",
  address: run.address,
  occurrence: run.occurrence,
  actor: run.actor.name,
  kind: run.actor.kind,
  attempt: run.attempt,
  timestamp: event.timestamp,
  partialOutput: event.partialOutput!,
  ...(event.usage === undefined ? {} : { usage: event.usage })
})

// What the journal keeps of a final event: a completed step with a JSON result, or what an
// interrupted stream had produced.
const recordOf = (run: Run<any, any, any, any>, event: MutableEvent): JournalRecord | undefined =>
  event.status === "completed" && event.result !== undefined
    ? stepRecord(run, event)
    : event.status === "interrupted" && event.partialOutput !== undefined
    ? partialRecord(run, event)
    : undefined

// Publishes a final event the caller has just settled, its record journaled first (with `sync`
// durability, stored) so that whoever sees the event can count on it. When the journal takes the
// record at once, all of it happens here, synchronously: what is left to run, if anything, is
// returned.
const publishFinal = (run: Run<any, any, any, any>, event: MutableEvent): Effect.Effect<void> | undefined => {
  releaseController(run)
  if (run.swept) run.branch!.group.members.delete(run)
  if (event.status === "completed" && run.branch !== undefined && event.result !== undefined) {
    run.branch.completed = true
  }
  const record = recordOf(run, event)
  if (record === undefined || run.journal.appendUnsafe(record)) return run.bus.publishUnsafe(event)
  return Effect.andThen(run.journal.append(record), run.bus.publish(event))
}

// Whether publishing a final event can wait for the store (an effect) or happens at once.
const waitsForStore = (run: Run<any, any, any, any>, event: MutableEvent): boolean =>
  run.journal.persistent && run.journal.durability !== "exit" &&
  (event.status === "completed" ? event.result !== undefined : event.partialOutput !== undefined)

// The final status of the event, published exactly once, then `next`. When nothing waits for the
// store, settling and publishing are one synchronous step, which no interrupt can split; otherwise
// they run uninterruptibly, and an interrupt landing before that leaves the event unsettled, for
// `onExit` (or a swept member's group) to settle.
const finish = <X, EX, RX>(
  run: Run<any, any, any, any>,
  event: MutableEvent,
  next: () => Effect.Effect<X, EX, RX>
): Effect.Effect<X, EX, RX> => {
  if (!waitsForStore(run, event)) {
    if (run.settled) return next()
    run.settled = true
    const rest = publishFinal(run, event)
    return rest === undefined ? next() : Effect.andThen(rest, Effect.suspend(next))
  }
  return Effect.andThen(
    Effect.uninterruptible(Effect.suspend(() => {
      if (run.settled) return Effect.void
      run.settled = true
      return publishFinal(run, event) ?? Effect.void
    })),
    Effect.suspend(next)
  )
}

const interrupted = <E>(
  run: Run<any, any, E, any>,
  signal: InterruptSignal,
  detail: string
): Effect.Effect<never, Failure<E>> => {
  const event = makeEvent(run, "interrupted")
  event.detail = detail
  event.message = textsOf(signal).message
  addStopFields(run, event)
  // the execution's prebuilt error; a new one only for an error thrown while not interrupted
  return finish(run, event, () => {
    const interrupt = run.state.currentInterrupt()
    return interrupt !== undefined
      ? interrupt.failure
      : Effect.andThen(run.state.checkInterrupt, Effect.suspend(() => Effect.fail(ExecutionInterrupted.fromSignal(signal))))
  })
}

// -----------------------------------------------------------------------------
// One attempt
// -----------------------------------------------------------------------------

// `started`, checkpoint 2, input, preconditions, checkpoint 3, the handler, output. The checkpoints
// of the fast path (not interrupted, no checker) are the shared `Effect.void`: the next step runs
// in the same one.
const beginAttempt = <I, A, E, R>(run: Run<I, A, E, R>): Effect.Effect<A, Failure<E>, R> => {
  run.begun = true
  run.partial = undefined
  run.usage = undefined
  releaseController(run)
  run.attemptStart = run.clock.monotonicTimeNanosUnsafe()
  const now = run.clock.currentTimeMillisUnsafe()
  if (run.attempt === 1) run.firstStart = now
  const event = makeEvent(run, "started", now)
  event.detail = truncate(show(run.input))
  const warning = run.bus.publishUnsafe(event)
  return warning === undefined ? afterStarted(run) : Effect.andThen(warning, Effect.suspend(() => afterStarted(run)))
}

const afterStarted = <I, A, E, R>(run: Run<I, A, E, R>): Effect.Effect<A, Failure<E>, R> => {
  const check = run.state.checkInterruptUnsafe() // checkpoint 2: before the preconditions
  return check === Effect.void ? input(run) : Effect.andThen(check, Effect.suspend(() => input(run)))
}

const input = <I, A, E, R>(run: Run<I, A, E, R>): Effect.Effect<A, Failure<E>, R> =>
  run.actor.input === undefined ? checked(run, run.input) : decoded(run)

const contract = (run: Run<any, any, any, any>, which: ActorContractError["which"]) => (detail: string) =>
  new ActorContractError({ actor: run.actor.name, address: run.address, which, detail })

const decoded = <I, A, E, R>(run: Run<I, A, E, R>): Effect.Effect<A, Failure<E>, R> =>
  Effect.flatMap(
    Effect.mapError(
      Schema.decodeUnknownEffect(run.actor.input!)(run.input),
      (error) => contract(run, "input")(error.message)
    ),
    (input) => checked(run, input)
  )

// The preconditions, checkpoint 3, then the handler and its output.
const checked = <I, A, E, R>(run: Run<I, A, E, R>, input: I): Effect.Effect<A, Failure<E>, R> => {
  const preconditions = run.actor.preconditions
  const handled = preconditions === undefined || preconditions.length === 0
    ? afterPreconditions(run, input)
    : checkConditions(preconditions, input, contract(run, "precondition")).pipe(
      Effect.andThen(run.state.checkInterrupt), // checkpoint 3: after the preconditions
      Effect.andThen(Effect.suspend(() => runHandler(run, input)))
    )
  const { output, postconditions } = run.actor
  return output === undefined && (postconditions === undefined || postconditions.length === 0)
    ? handled
    : Effect.flatMap(handled, (value) => {
      callerContext(run)
      return validateOutput(run, value)
    })
}

const afterPreconditions = <I, A, E, R>(run: Run<I, A, E, R>, input: I): Effect.Effect<A, Failure<E>, R> => {
  const check = run.state.checkInterruptUnsafe() // checkpoint 3: after the preconditions
  return check === Effect.void ? runHandler(run, input) : Effect.andThen(check, Effect.suspend(() => runHandler(run, input)))
}

// What handlers run with (one per attempt): their path, no group (their own calls are not
// members), a recorder, the step they run for.
const handlerContext = <R>(run: Run<any, any, any, R>): Context.Context<R> => {
  let context = Context.add(run.context, CurrentPath, run.path)
  if (run.groupId !== undefined) context = Context.add(context, CurrentGroup, undefined)
  if (run.branch !== undefined) context = Context.add(context, CurrentBranch, undefined)
  return Context.add(context, CurrentPartialOutput, new Recorder(run)) as Context.Context<R>
}

// Where an interruptible stream records what the handler's stream produced (and a language-model
// call the tokens it used); one per attempt, it is also the step the handler runs for (`awaitInput`
// asks in its name and counts its questions per attempt).
class Recorder implements PartialOutput, CurrentStepInfo {
  readonly #run: Run<any, any, any, any>
  readonly attempt: number
  inputs = 0
  constructor(run: Run<any, any, any, any>) {
    this.#run = run
    this.attempt = run.attempt
  }
  record(value: unknown): void {
    ;(this.#run.partial ??= []).push(value)
  }
  recordUsage(usage: TokenUsage): void {
    this.#run.usage = usage
  }
  get step(): CurrentStepInfo {
    return this
  }
  get address(): string {
    return this.#run.address
  }
  get actor(): string {
    return this.#run.actor.name
  }
  get kind(): ActorKind {
    return this.#run.actor.kind
  }
  get occurrence(): number {
    return this.#run.occurrence
  }
}

// What a handler gets besides its input. `signal` is a getter on the prototype: an object literal
// with a getter costs a closure and a slow shape per event.
class HandlerCtx implements HandlerContext {
  readonly address: string
  readonly path: ReadonlyArray<string>
  readonly occurrence: number
  readonly attempt: number
  readonly stateId: string
  readonly idempotencyKey: string
  readonly #run: Run<any, any, any, any>
  constructor(run: Run<any, any, any, any>) {
    this.address = run.address
    this.path = run.path
    this.occurrence = run.occurrence
    this.attempt = run.attempt
    this.stateId = run.state.stateId
    this.idempotencyKey = run.idempotencyKey
    this.#run = run
  }
  get signal(): AbortSignal {
    const run = this.#run
    if (run.controller === undefined) {
      run.controller = new AbortController()
      // an inline member's controller is aborted by its group, as the group is stopped
      if (run.inline) run.branch!.group.controllers.add(run.controller)
    }
    return run.controller.signal
  }
}

const releaseController = (run: Run<any, any, any, any>): void => {
  if (run.controller === undefined) return
  if (run.inline) run.branch!.group.controllers.delete(run.controller)
  run.controller = undefined
}

// The handler, stopped by the interrupt per its stop policy: in a fiber of its own, or (an inline
// member) in the branch's fiber, which its group stops.
const runHandler = <I, A, E, R>(run: Run<I, A, E, R>, input: I): Effect.Effect<A, Failure<E>, R> => {
  // the handler's context is the caller's plus up to four references: set, not merged (a merge
  // copies it)
  const context = handlerContext(run)
  if (run.inline) {
    // The handler's context is set on the caller's fiber and put back by the steps that follow the
    // handler (`callerContext`), rather than provided: a provided context is put back by a
    // finalizer, one more frame for every member a group's stop unwinds.
    return Effect.withFiber((fiber) => {
      fiber.setContext(context)
      return run.actor.handler(input, new HandlerCtx(run))
    })
  }
  // a fiber of its own takes the handler's context for good: nothing to restore
  const handler = Effect.withFiber((fiber) => {
    fiber.setContext(context)
    return run.actor.handler(input, new HandlerCtx(run))
  })
  return Effect.flatMap(Effect.forkChild(handler, startNow), (fiber) => {
    // a handler that did not suspend is done already: nothing to register, nothing to stop
    const done = fiber.pollUnsafe()
    return done !== undefined
      ? handled(run, done)
      : Effect.flatMap(
        run.state.awaitStoppable(fiber, {
          stopPolicy: run.options.stopPolicy,
          onAbort: (signal) => run.controller?.abort(signal)
        }),
        (exit) => handled(run, exit)
      )
  })
}

const startNow = { startImmediately: true } as const

// Puts the caller's context back after an inline member's handler, whichever way it ended: what
// follows the handler (the output's validation, the final status, or the stop) starts with it.
const callerContext = (run: Run<any, any, any, any>): void => {
  if (run.inline && run.fiber.context !== run.context) run.fiber.setContext(run.context)
}

const handled = <A, E>(run: Run<any, A, E, any>, exit: Exit.Exit<A, E>): Effect.Effect<A, Failure<E>> => {
  if (Exit.isSuccess(exit)) return exit
  const interrupt = run.state.currentInterrupt()
  run.controller?.abort(interrupt?.signal ?? "stopped")
  // stopped by the interrupt: report it as the interrupt
  return interrupt !== undefined && Cause.hasInterruptsOnly(exit.cause) ? interrupt.failure : exit
}

// The output Schema validates by encoding: the encoded value is what the history records.
const validateOutput = <I, A, E, R>(run: Run<I, A, E, R>, output: A): Effect.Effect<A, Failure<E>, R> => {
  const { actor } = run
  const encoded: Effect.Effect<unknown, ActorContractError> = actor.output === undefined
    ? Effect.succeed(output)
    : Effect.mapError(Schema.encodeUnknownEffect(actor.output)(output), (error) => contract(run, "output")(error.message))
  const postconditions = actor.postconditions
  return Effect.flatMap(encoded, (value) => {
    run.encoded = value
    return postconditions === undefined || postconditions.length === 0
      ? Effect.succeed(output)
      : Effect.as(checkConditions(postconditions, output, contract(run, "postcondition")), output)
  })
}

const succeeded = <I, A, E, R>(run: Run<I, A, E, R>, output: A): Effect.Effect<A, Failure<E>, R> => {
  callerContext(run)
  const encoded = run.actor.output === undefined ? output : run.encoded
  const result = toJson(encoded)
  const event = makeEvent(run, "completed")
  event.executionTime = attemptMillis(run)
  event.detail = truncate(show(encoded))
  if (result !== undefined) event.result = result
  if (run.usage !== undefined) event.usage = run.usage
  return finish(run, event, () => {
    // checkpoint 4: after the handler
    const check = run.state.checkInterruptUnsafe()
    return check === Effect.void ? Effect.succeed(output) : Effect.as(check, output)
  })
}

const failed = <I, A, E, R>(run: Run<I, A, E, R>, cause: Cause.Cause<Failure<E>>): Effect.Effect<A, Failure<E>, R> => {
  callerContext(run)
  if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause)
  // An interrupt ends the event one way, whatever the handler failed with meanwhile.
  const interrupt = run.state.currentInterrupt()
  if (interrupt !== undefined) return interrupted(run, interrupt.signal, textsOf(interrupt.signal).detail)
  const failure = Cause.findErrorOption(cause)
  if (Option.isSome(failure) && failure.value instanceof ExecutionInterrupted) {
    return interrupted(run, failure.value.signal, `Interrupted: ${failure.value.reason}`)
  }
  return retryOrFail(run, cause, failure, attemptMillis(run))
}

const retryOrFail = <I, A, E, R>(
  run: Run<I, A, E, R>,
  cause: Cause.Cause<Failure<E>>,
  failure: Option.Option<Failure<E>>,
  executionTime: number
): Effect.Effect<A, Failure<E>, R> =>
  Effect.gen(function*() {
    const { actor, clock } = run
    const policy = run.policy ??= Retry.resolve(
      actor.kind,
      run.options.retry,
      actor.retry,
      Context.get(run.context, Retry.RetryDefaults)
    )
    const error = Option.isSome(failure) ? failure.value : Cause.squash(cause)
    const message = causeMessage(cause)
    const tag = errorTag(error)
    const isFinal = Option.isNone(failure) || !policy.isRetryable(error) || run.attempt >= policy.maxAttempts
    const delay = isFinal ? Option.none<Duration.Duration>() : yield* policy.nextDelay(run.attempt, error)
    const tooLate = Option.isSome(delay) && Option.isSome(policy.maxRetryTime) &&
      clock.currentTimeMillisUnsafe() + Duration.toMillis(delay.value) - run.firstStart >
        Duration.toMillis(policy.maxRetryTime.value)
    const failedEvent = makeEvent(run, "failed")
    failedEvent.executionTime = executionTime
    failedEvent.message = message
    failedEvent.errorTag = tag
    if (Option.isNone(delay) || tooLate) return yield* finish(run, failedEvent, () => Effect.failCause(cause))
    yield* run.bus.publish(failedEvent)
    const retrying = makeEvent(run, "retrying")
    retrying.message = `Retrying after ${tag}: ${message}`
    retrying.detail = `Attempt ${run.attempt + 1}/${policy.maxAttempts} in ${Duration.format(delay.value)}`
    yield* run.bus.publish(retrying)
    run.attempt++
    // The backoff ends the moment the execution is interrupted: nothing new starts after that.
    const woken = yield* Effect.raceFirst(
      Effect.as(Effect.sleep(delay.value), Option.none<InterruptSignal>()),
      Effect.map(run.state.awaitInterrupt, Option.some)
    )
    if (Option.isSome(woken)) {
      run.partial = undefined
      return yield* interrupted(run, woken.value, `Interrupted during retry backoff: ${woken.value.reason}`)
    }
    return yield* attempt(run, Effect.suspend(() => beginAttempt(run)))
  })

// The final event of an event stopped from outside (a cancelled group, an interrupted parent):
// `interrupted`, reported as the interrupt when the interrupt stopped it through its group (as a
// handler fiber of its own would be), else `Cancelled`.
const stoppedEvent = (
  run: Run<any, any, any, any>,
  now = run.clock.currentTimeMillisUnsafe(),
  monotonic = monotonicMillis(run)
): MutableEvent => {
  const interrupt = run.state.currentInterrupt()
  run.controller?.abort(interrupt?.signal ?? "stopped")
  const event = makeEvent(run, "interrupted", now)
  const stoppedBy = run.inline ? run.branch!.group.signal : undefined
  if (stoppedBy !== undefined) {
    const texts = textsOf(stoppedBy)
    event.detail = texts.detail
    event.message = texts.message
  } else {
    event.detail = interrupt !== undefined ? textsOf(interrupt.signal).detail : "Cancelled"
    if (interrupt?.signal.message !== undefined) event.message = interrupt.signal.message
  }
  addStopFields(run, event, monotonic)
  return event
}

// The detail and message of the events a signal stops: the same for all of them (a group's members
// stopped together), made once. A memo of a pure function: the last signal's texts (a WeakMap entry
// costs more to make than the texts, for the one event of a single stop).
let lastSignal: InterruptSignal | undefined
let lastTexts: { readonly detail: string; readonly message: string } = { detail: "", message: "" }
const textsOf = (signal: InterruptSignal): { readonly detail: string; readonly message: string } => {
  if (signal !== lastSignal) {
    lastTexts = {
      detail: `Interrupted: ${signal.reason}`,
      message: signal.message ?? `Execution interrupted: ${signal.reason}`
    }
    lastSignal = signal
  }
  return lastTexts
}

// Stopped from outside: still exactly one final event. Runs as the event's exit finalizer
// (uninterruptible).
const onExit = (run: Run<any, any, any, any>, exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> | undefined => {
  callerContext(run)
  if (run.settled || !run.begun || Exit.isSuccess(exit) || !Cause.hasInterruptsOnly(exit.cause)) return undefined
  // Parked (the run waits for a person and its process lets go of it): nothing ended, it runs again
  // on resume.
  if (run.journal.parking) return undefined
  run.settled = true
  return publishFinal(run, stoppedEvent(run))
}

/**
 * Settles the member events of a group whose branches were stopped (their fibers ended without
 * them): exactly one `interrupted` event each, as `onExit` would publish it, published together. A
 * group runs it once its branches have ended, before its own final status.
 *
 * @internal
 */
export const settleMembers = (group: GroupStop): Effect.Effect<void> => {
  if (group.members.size === 0) return Effect.void
  const stopped = Array.from(group.members)
  group.members.clear()
  const events: Array<ExecutionEvent> = []
  const later: Array<Effect.Effect<void>> = []
  // settled together, at one moment: their time and stop latency are read once
  const first = stopped[0]!
  const now = first.clock.currentTimeMillisUnsafe()
  const monotonic = monotonicMillis(first)
  for (const run of stopped) {
    if (run.settled || !run.begun || run.journal.parking) continue
    run.settled = true
    const event = stoppedEvent(run, now, monotonic)
    if (waitsForStore(run, event)) {
      // its partial output is journaled (and stored) before its event is published
      later.push(publishFinal(run, event) ?? Effect.void)
    } else {
      releaseController(run)
      events.push(event)
    }
  }
  const warning = events.length === 0 ? undefined : first.bus.publishAllUnsafe(events)
  if (warning === undefined && later.length === 0) return Effect.void
  return Effect.uninterruptible(Effect.andThen(warning ?? Effect.void, Effect.all(later, { discard: true })))
}

// Resuming: a call that completed in an earlier attempt returns its stored result and is not run.
const replay = <A>(run: Run<any, A, any, any>, step: StepCompleted): Effect.Effect<Option.Option<A>> => {
  const output = run.actor.output
  const decodedResult: Effect.Effect<A, unknown> = output === undefined
    ? Effect.succeed(step.result as A)
    : Schema.decodeUnknownEffect(output)(step.result) as Effect.Effect<A, unknown>
  return decodedResult.pipe(
    Effect.flatMap((value) => {
      const event = makeEvent(run, "recovered")
      event.message = "Recovered from restored state"
      event.detail = step.detail ?? truncate(show(step.result))
      event.result = step.result
      if (step.executionTime !== undefined) event.executionTime = step.executionTime
      return finish(run, event, () => Effect.succeed(Option.some(value)))
    }),
    Effect.catch((error) =>
      Effect.as(
        Effect.logWarning(`Stored result of ${run.address}#${run.occurrence} no longer decodes; running it again`, error),
        Option.none<A>()
      )
    )
  )
}
