/**
 * The event bus of one execution: a `PubSub` of everything that happens, with a bounded retained
 * history.
 *
 * This module holds the bus event union (`ExecutionEvent`, `OutputDelta`, `GroupEvent`, `LogEvent`
 * and the `InterruptEvent` from `Interrupt.ts`), the `EventBus` service and its layers. Publishing
 * never blocks; each subscriber runs in its own fiber, so a slow or failing one never slows or breaks
 * the run; `stream` replays the retained history and then follows live events until the interrupt.
 *
 * @since 0.1.0
 */
import { Cause, Context, Effect, Exit, Fiber, Layer, PubSub, Ref, Schema, Scope, Stream } from "effect"
import { makeRing } from "./internal/ring.ts"
import { ExecutionStatus, InterruptEvent, InterruptSignal, IsoTimestamp } from "./Interrupt.ts"

// -----------------------------------------------------------------------------
// Events
// -----------------------------------------------------------------------------

/**
 * What an actor is: an `agent` (plans and delegates), a `tool` (does one thing) or an `llm` call.
 *
 * @category models
 * @since 0.1.0
 */
export const ActorKind = Schema.Literals(["agent", "tool", "llm"])

/**
 * @category models
 * @since 0.1.0
 */
export type ActorKind = typeof ActorKind.Type

const Millis = Schema.Number.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))
const Count = Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))

/**
 * The tokens a language-model call used: what its prompt cost (`inputTokens`) and what it generated
 * (`outputTokens`). On an interrupted call, the usage known when it stopped.
 *
 * @category models
 * @since 0.3.0
 */
export const TokenUsage = Schema.Struct({
  inputTokens: Count,
  outputTokens: Count
})

/**
 * @category models
 * @since 0.3.0
 */
export interface TokenUsage extends Schema.Schema.Type<typeof TokenUsage> {}

/**
 * One step in the life of an execution event (an actor call): `started`, then one terminal status per
 * attempt (`completed`, `failed`, `interrupted`), with `retrying` between attempts and `recovered`
 * when a resumed run replays a stored result.
 *
 * `result` holds the JSON-encoded result of a `completed` event; `partialOutput` the output an
 * interrupted stream had produced; `stopLatency` how long the stop took (ms, request → handler ended);
 * `usage` the tokens a language-model call used (on an interrupted call, those known when it stopped).
 *
 * @category models
 * @since 0.1.0
 */
/**
 * A question a step asks a person (human in the loop), as journaled and as shown: its id (what an
 * answer names), where it is asked (the step's address and occurrence), the prompt, what kind of
 * answer it takes — `answer` is the answer's JSON form as an Effect Schema representation (what an
 * answer is checked against anywhere), `jsonSchema` the same as a JSON Schema (for forms) — the
 * choices when there are some, the deadline and the answer used when it passes. An `approval` asks
 * whether a tool may run (`tool`, `toolInput`); its answer is `{ approved, reason? }`.
 *
 * @category models
 * @since 0.2.0
 */
export const InputRequest = Schema.Struct({
  inputId: Schema.String,
  address: Schema.String,
  occurrence: Count,
  kind: Schema.Literals(["input", "approval"]),
  prompt: Schema.String,
  answer: Schema.Json,
  jsonSchema: Schema.Json,
  choices: Schema.optionalKey(Schema.Array(Schema.Json)),
  deadline: Schema.optionalKey(IsoTimestamp),
  default: Schema.optionalKey(Schema.Json),
  tool: Schema.optionalKey(Schema.String),
  toolInput: Schema.optionalKey(Schema.Json)
})

/**
 * @category models
 * @since 0.2.0
 */
export interface InputRequest extends Schema.Schema.Type<typeof InputRequest> {}

export const ExecutionEvent = Schema.TaggedStruct("ExecutionEvent", {
    stateId: Schema.String,
    address: Schema.String,
    actor: Schema.String,
    kind: ActorKind,
    status: ExecutionStatus,
    occurrence: Count,
    attempt: Count,
    timestamp: IsoTimestamp,
    message: Schema.optionalKey(Schema.String),
    detail: Schema.optionalKey(Schema.String),
    executionTime: Schema.optionalKey(Millis),
    result: Schema.optionalKey(Schema.Json),
    errorTag: Schema.optionalKey(Schema.String),
    groupId: Schema.optionalKey(Schema.String),
    stopLatency: Schema.optionalKey(Millis),
    partialOutput: Schema.optionalKey(Schema.Json),
    usage: Schema.optionalKey(TokenUsage),
    /** What an `awaiting` / `human_intervention` event asks. */
    input: Schema.optionalKey(InputRequest)
})

/**
 * @category models
 * @since 0.1.0
 */
export interface ExecutionEvent extends Schema.Schema.Type<typeof ExecutionEvent> {}

/**
 * A piece of an event's output as it streams (a language model's text delta), published the moment
 * it arrives so that watchers (the printer, the page) show it live. The event's final status carries
 * the whole: the result of a `completed` event, the `partialOutput` of an `interrupted` one.
 *
 * **Gotchas**
 *
 * Deltas are live only: the bus does not retain them in its history (a long answer would push the
 * lifecycle events out), so a stream started later, a reconnecting reader or a resume never sees them.
 *
 * @category models
 * @since 0.3.0
 */
export const OutputDelta = Schema.TaggedStruct("OutputDelta", {
  stateId: Schema.String,
  address: Schema.String,
  occurrence: Count,
  attempt: Count,
  timestamp: IsoTimestamp,
  delta: Schema.String
})

/**
 * @category models
 * @since 0.3.0
 */
export interface OutputDelta extends Schema.Schema.Type<typeof OutputDelta> {}

/**
 * How deep an event is nested: `planner::search::tool_call` has depth 1, `planner::agent_call` 0.
 *
 * @category utils
 * @since 0.1.0
 */
export const eventDepth = (event: { readonly address: string }): number =>
  Math.max(0, event.address.split("::").length - 2)

/**
 * The lifecycle of a parallel group.
 *
 * @category models
 * @since 0.1.0
 */
export const GroupStatus = Schema.Literals(["pending", "running", "completed", "failed", "cancelled"])

/**
 * @category models
 * @since 0.1.0
 */
export type GroupStatus = typeof GroupStatus.Type

/**
 * A parallel group changed state: `pending → running → completed | failed | cancelled`, with its
 * branch counts.
 *
 * @category models
 * @since 0.1.0
 */
export const GroupEvent = Schema.TaggedStruct("GroupEvent", {
  stateId: Schema.String,
  groupId: Schema.String,
  name: Schema.String,
  address: Schema.String,
  status: GroupStatus,
  total: Count,
  completed: Count,
  failed: Count,
  timestamp: IsoTimestamp,
  detail: Schema.optionalKey(Schema.String)
})

/**
 * @category models
 * @since 0.1.0
 */
export interface GroupEvent extends Schema.Schema.Type<typeof GroupEvent> {}

/**
 * The level of a {@link LogEvent}.
 *
 * @category models
 * @since 0.1.0
 */
export const LogLevel = Schema.Literals(["debug", "info", "warning", "error"])

/**
 * A message the library wants the watchers of a run to see, such as a checker failure.
 *
 * @category models
 * @since 0.1.0
 */
export const LogEvent = Schema.TaggedStruct("LogEvent", {
  stateId: Schema.String,
  level: LogLevel,
  message: Schema.String,
  timestamp: IsoTimestamp,
  address: Schema.optionalKey(Schema.String)
})

/**
 * @category models
 * @since 0.1.0
 */
export interface LogEvent extends Schema.Schema.Type<typeof LogEvent> {}

/**
 * What happened to the journal of a run that ended: `saved` (everything is in the store; resume with
 * the checkpoint id), `not_saved` (no store, or the interrupt asked for no checkpoint) or `failed`
 * (the store was unavailable until the deadline).
 *
 * @category models
 * @since 0.2.0
 */
export const CheckpointOutcome = Schema.Literals(["saved", "not_saved", "failed"])

/**
 * @category models
 * @since 0.2.0
 */
export type CheckpointOutcome = typeof CheckpointOutcome.Type

/**
 * The end of a run, published by `Run.run` / `Run.resume` once the outcome is known and the journal's
 * last record is stored: `checkpoint` says whether it was saved (`checkpointId`), not saved, or
 * failed to save (`checkpointDetail` says why); `detail` is the error of a failed run.
 *
 * @category models
 * @since 0.1.0
 */
export const ExecutionFinished = Schema.TaggedStruct("ExecutionFinished", {
  stateId: Schema.String,
  /** `awaiting`: the attempt ended while a step waits for a person (parked); an answer resumes it. */
  status: Schema.Literals(["completed", "failed", "interrupted", "awaiting"]),
  timestamp: IsoTimestamp,
  signal: Schema.optionalKey(InterruptSignal),
  checkpoint: CheckpointOutcome,
  checkpointId: Schema.optionalKey(Schema.String),
  checkpointDetail: Schema.optionalKey(Schema.String),
  detail: Schema.optionalKey(Schema.String),
  /** The value of a completed run, when it is JSON. */
  result: Schema.optionalKey(Schema.Json)
})

/**
 * @category models
 * @since 0.1.0
 */
export interface ExecutionFinished extends Schema.Schema.Type<typeof ExecutionFinished> {}

/**
 * An attempt of a run began: the first run (attempt 1) or a resume, published by `Run.run` /
 * `Run.resume` once the attempt is journaled. With `ExecutionFinished` it frames each attempt on the
 * bus, so that a run's events alone say what it is (workflow, input, who started it, which attempt).
 *
 * @category models
 * @since 0.2.0
 */
export const ExecutionStarted = Schema.TaggedStruct("ExecutionStarted", {
  stateId: Schema.String,
  attempt: Count,
  timestamp: IsoTimestamp,
  workflow: Schema.optionalKey(Schema.String),
  input: Schema.optionalKey(Schema.Json),
  startedBy: Schema.optionalKey(Schema.String),
  owner: Schema.optionalKey(Schema.String),
  /** Steps completed by earlier attempts (replayed, not run again). */
  recoverable: Schema.optionalKey(Count),
  /** How many steps the workflow expects, when it says. */
  expectedSteps: Schema.optionalKey(Count)
})

/**
 * @category models
 * @since 0.2.0
 */
export interface ExecutionStarted extends Schema.Schema.Type<typeof ExecutionStarted> {}

/**
 * What became of a question a step asked: `answered` (the value, who answered, `defaulted` when the
 * deadline passed and the default was used) — journaled before it is published — or `rejected` (the
 * value did not decode: `message` says why; the step still waits).
 *
 * @category models
 * @since 0.2.0
 */
export const InputEvent = Schema.TaggedStruct("InputEvent", {
  stateId: Schema.String,
  inputId: Schema.String,
  address: Schema.String,
  status: Schema.Literals(["answered", "rejected"]),
  timestamp: IsoTimestamp,
  value: Schema.optionalKey(Schema.Json),
  answeredBy: Schema.optionalKey(Schema.String),
  defaulted: Schema.optionalKey(Schema.Boolean),
  message: Schema.optionalKey(Schema.String)
})

/**
 * @category models
 * @since 0.2.0
 */
export interface InputEvent extends Schema.Schema.Type<typeof InputEvent> {}

/**
 * Everything that goes on the bus.
 *
 * @category models
 * @since 0.1.0
 */
export const BusEvent = Schema.Union([
  ExecutionEvent,
  OutputDelta,
  GroupEvent,
  LogEvent,
  InterruptEvent,
  ExecutionStarted,
  ExecutionFinished,
  InputEvent
])

/**
 * @category models
 * @since 0.1.0
 */
export type BusEvent = typeof BusEvent.Type

/**
 * `BusEvent` as a JSON string (NDJSON lines, SSE data, Redis messages).
 *
 * @category codecs
 * @since 0.1.0
 */
export const BusEventJson = Schema.fromJsonString(BusEvent)

/**
 * A bus event with its position on the bus (1, 2, 3, ...): the id a reconnecting reader resumes from.
 *
 * @category models
 * @since 0.1.0
 */
export interface Sequenced {
  readonly sequence: number
  readonly event: BusEvent
}

/**
 * Tells whether a bus event is the interrupt announcement.
 *
 * @category guards
 * @since 0.1.0
 */
export const isInterruptEvent = (event: BusEvent): event is InterruptEvent => event._tag === "InterruptEvent"

// -----------------------------------------------------------------------------
// Service
// -----------------------------------------------------------------------------

/**
 * Options of {@link EventBus.layerWith}.
 *
 * **Details**
 *
 * - `historyLimit`: how many events `history` and `stream` retain (default 10,000); older ones are
 *   dropped, counted by `dropped`, and a warning is logged once. `OutputDelta`s are never retained.
 * - `drainTimeout`: how long subscribers may take to handle the events still queued when their
 *   scope closes (default 1 second, for all of them together: they drain concurrently).
 * - `startSequence`: the sequence number of the event before the first one (default 0): a run that
 *   continues an earlier log numbers its events after it.
 * - `observe`: told of every event synchronously, as it is published (a fold that must never lag
 *   behind the bus, such as the control plane's view of a run). It must be cheap and never throw.
 *
 * @category options
 * @since 0.1.0
 */
export interface EventBusOptions {
  readonly historyLimit?: number | undefined
  readonly drainTimeout?: number | undefined
  readonly startSequence?: number | undefined
  readonly observe?: ((entry: Sequenced) => void) | undefined
}

/**
 * Options of {@link EventBus.streamWith}.
 *
 * @category options
 * @since 0.1.0
 */
export interface StreamOptions {
  /** Replay only retained events after this sequence number (a reconnecting reader's last id). */
  readonly after?: number | undefined
  /** End right after the `InterruptEvent` (default `true`). */
  readonly untilInterrupt?: boolean | undefined
  /** Follow live events after the history (default `true`); `false`: only the retained history. */
  readonly live?: boolean | undefined
}

/**
 * The bus of one execution.
 *
 * @category services
 * @since 0.1.0
 */
export class EventBus extends Context.Service<EventBus, {
  /** Publishes an event: never blocks, never fails. */
  readonly publish: (event: BusEvent) => Effect.Effect<void>
  /**
   * Publishes an event of another bus under the number it has there (a copy of another process's
   * log keeps its numbers, gaps included): ignored when it is not after the last event here.
   */
  readonly publishAt: (sequence: number, event: BusEvent) => Effect.Effect<void>
  /**
   * Publishes an event at once, as `publish` does, for callers on a hot path that are already inside
   * an effect. Returns what is left to run, if anything: the warning logged once when the history
   * starts dropping events.
   *
   * @internal
   */
  readonly publishUnsafe: (event: BusEvent) => Effect.Effect<void> | undefined
  /**
   * Publishes events at once, in order: `publishUnsafe` of each, in one pass, for a group's members
   * stopped together.
   *
   * @internal
   */
  readonly publishAllUnsafe: (events: ReadonlyArray<BusEvent>) => Effect.Effect<void> | undefined
  /**
   * Runs `handler` for every event published from now on, in its own fiber that lives as long as the
   * scope. A handler that fails or dies is logged and dropped; events still queued when the scope
   * closes are handled first — by all the scope's subscribers at once, up to `drainTimeout`.
   */
  readonly subscribe: <R>(
    handler: (event: BusEvent) => Effect.Effect<void, unknown, R>
  ) => Effect.Effect<void, never, Scope.Scope | R>
  /** The retained history, then live events; ends right after the first `InterruptEvent`. */
  readonly stream: Stream.Stream<BusEvent>
  /** `stream` with sequence numbers, resuming after a given one, optionally not ending on interrupt. */
  readonly streamWith: (options?: StreamOptions) => Stream.Stream<Sequenced>
  /** The retained history, oldest first. */
  readonly history: Effect.Effect<ReadonlyArray<BusEvent>>
  /** How many events the bounded history has dropped so far. */
  readonly dropped: Effect.Effect<number>
  /** How many subscribers and streams are attached right now. */
  readonly subscriberCount: Effect.Effect<number>
}>()("agent-interrupt/EventBus") {
  /**
   * A bus with the default options. Each build is an independent bus.
   */
  static readonly layer: Layer.Layer<EventBus> = Layer.effect(EventBus, Effect.suspend(() => make()))

  /**
   * A bus with options.
   */
  static readonly layerWith = (options: EventBusOptions): Layer.Layer<EventBus> =>
    Layer.effect(EventBus, make(options))
}

/**
 * Builds a bus. Its PubSub is shut down when the scope closes.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(options: EventBusOptions = {}) {
  const historyLimit = options.historyLimit ?? 10_000
  const drainTimeout = options.drainTimeout ?? 1_000
  const observe = options.observe
  const pubsub = yield* PubSub.unbounded<Sequenced>()
  yield* Effect.addFinalizer(() => PubSub.shutdown(pubsub))
  const ring = makeRing<Sequenced>(historyLimit)
  const subscribers = yield* Ref.make(0)
  let sequence = options.startSequence ?? 0
  let warnedDrop = false

  const warnDrop = Effect.suspend(() => {
    if (warnedDrop) return Effect.void
    warnedDrop = true
    return Effect.logWarning(`Event bus history is full (${historyLimit} events): older events are being dropped`)
  })

  const publishUnsafe = (event: BusEvent): Effect.Effect<void> | undefined => {
    const entry: Sequenced = { sequence: ++sequence, event }
    // output deltas are live only: a long answer must not push the lifecycle out of the history
    if (event._tag !== "OutputDelta") ring.push(entry)
    if (observe !== undefined) observe(entry)
    PubSub.publishUnsafe(pubsub, entry)
    return warnedDrop || ring.dropped() === 0 ? undefined : warnDrop
  }

  const publishAllUnsafe = (events: ReadonlyArray<BusEvent>): Effect.Effect<void> | undefined => {
    for (let i = 0; i < events.length; i++) {
      const entry: Sequenced = { sequence: ++sequence, event: events[i]! }
      if (entry.event._tag !== "OutputDelta") ring.push(entry)
      if (observe !== undefined) observe(entry)
      PubSub.publishUnsafe(pubsub, entry)
    }
    return warnedDrop || ring.dropped() === 0 ? undefined : warnDrop
  }

  const publish = (event: BusEvent): Effect.Effect<void> => Effect.suspend(() => publishUnsafe(event) ?? Effect.void)

  const publishAt = (at: number, event: BusEvent): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (at <= sequence) return Effect.void
      sequence = at - 1
      return publish(event)
    })

  const attach = Effect.acquireRelease(
    Effect.andThen(Ref.update(subscribers, (n) => n + 1), PubSub.subscribe(pubsub)),
    () => Ref.update(subscribers, (n) => n - 1)
  )

  // Subscribers are grouped by the scope they subscribed in: when that scope closes (or the bus
  // itself), the group's subscribers handle what is still queued concurrently, under one deadline —
  // so slow subscribers do not add up.
  const groups = new Map<Scope.Scope, Set<Effect.Effect<void>>>()
  const drainGroup = (group: Set<Effect.Effect<void>>): Effect.Effect<void> =>
    Effect.suspend(() => {
      const drains = Array.from(group)
      group.clear()
      return Effect.forEach(drains, (drain) => drain, { concurrency: "unbounded", discard: true }).pipe(
        Effect.timeoutOption(drainTimeout),
        Effect.asVoid
      )
    })
  yield* Effect.addFinalizer(() =>
    Effect.suspend(() => {
      const all = new Set(Array.from(groups.values()).flatMap((group) => Array.from(group)))
      groups.clear()
      return drainGroup(all)
    })
  )

  const subscribe = <R>(
    handler: (event: BusEvent) => Effect.Effect<void, unknown, R>
  ): Effect.Effect<void, never, Scope.Scope | R> =>
    Effect.gen(function*() {
      const context = yield* Effect.context<R>()
      const caller = yield* Effect.scope
      // The subscription and its fiber live in their own scope, closed by the drain: never before
      // the events still queued for it are handled.
      const own = yield* Scope.make()
      const subscription = yield* Scope.provide(attach, own)
      const handle = (entry: Sequenced): Effect.Effect<void, unknown> =>
        Effect.suspend(() => handler(entry.event)).pipe(
          // the subscriber's context as a whole (a merge would copy it for every event)
          Effect.setContext(context),
          Effect.catchCause((cause) =>
            Cause.hasInterruptsOnly(cause)
              ? Effect.failCause(cause)
              : Effect.logWarning("Event bus subscriber failed; it is dropped", cause).pipe(
                Effect.andThen(Effect.failCause(cause))
              )
          )
        )
      const handleAll = (entries: Iterable<Sequenced>) => Effect.forEach(entries, handle, { discard: true })
      const rest = Effect.flatMap(PubSub.takeUpTo(subscription, Number.POSITIVE_INFINITY), handleAll)
      // `busy` while handling an event; once `closing`, the loop handles what is queued and ends.
      let busy = false
      let closing = false
      const loop: Effect.Effect<void, unknown> = Effect.flatMap(PubSub.take(subscription), (entry) => {
        busy = true
        return Effect.andThen(handle(entry), Effect.suspend(() => closing ? rest : (busy = false, loop)))
      })
      const fiber = yield* Effect.forkIn(Effect.exit(loop), own, { startImmediately: true })
      // On close: a subscriber in the middle of an event finishes it and what is queued after it; an
      // idle one stops waiting and handles what is queued. No published event goes unseen.
      const drain: Effect.Effect<void> = Effect.suspend(() => {
        closing = true
        if (fiber.pollUnsafe() !== undefined) return Effect.void
        return busy
          ? Effect.asVoid(Fiber.await(fiber))
          : Effect.andThen(Fiber.interrupt(fiber), Effect.exit(rest))
      }).pipe(Effect.ensuring(Scope.close(own, Exit.void)))
      let group = groups.get(caller)
      if (group === undefined) {
        const created = new Set<Effect.Effect<void>>()
        group = created
        groups.set(caller, created)
        yield* Scope.addFinalizer(
          caller,
          Effect.suspend(() => {
            groups.delete(caller)
            return drainGroup(created)
          })
        )
      }
      group.add(drain)
    })

  const streamWith = (streamOptions: StreamOptions = {}): Stream.Stream<Sequenced> => {
    const after = streamOptions.after ?? 0
    const untilInterrupt = streamOptions.untilInterrupt ?? true
    if (streamOptions.live === false) {
      return Stream.suspend(() => Stream.fromIterable(ring.toArray().filter((entry) => entry.sequence > after)))
    }
    const live = Stream.unwrap(Effect.gen(function*() {
      // Subscribe first, then read the history: sequence numbers remove the overlap, so an event
      // published in between is neither lost nor seen twice.
      const subscription = yield* attach
      const past = ring.toArray().filter((entry) => entry.sequence > after)
      const last = past.length > 0 ? past[past.length - 1]!.sequence : after
      return Stream.concat(
        Stream.fromIterable(past),
        Stream.fromSubscription(subscription).pipe(Stream.filter((entry) => entry.sequence > last))
      )
    }))
    return untilInterrupt ? live.pipe(Stream.takeUntil((entry) => isInterruptEvent(entry.event))) : live
  }

  return EventBus.of({
    publish,
    publishAt,
    publishUnsafe,
    publishAllUnsafe,
    subscribe,
    stream: Stream.suspend(() => Stream.map(streamWith(), (entry) => entry.event)),
    streamWith,
    history: Effect.sync(() => ring.toArray().map((entry) => entry.event)),
    dropped: Effect.sync(() => ring.dropped()),
    subscriberCount: Ref.get(subscribers)
  })
})
