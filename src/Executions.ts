/**
 * The control plane: the executions a process can see and control — start registered workflows,
 * list them, read their status, follow their events, interrupt them (with a receipt), resume them
 * from their journal — whether they run here or, with a remote backend, in any process that shares
 * it.
 *
 * This module holds the control plane's vocabulary (the interrupt receipts, the errors), the
 * `Executions` service, and `Executions.layerLocal`, which runs executions in this process over a
 * `CheckpointStore`. What it says of an execution, `ExecutionInfo`, is one fold over the run's events
 * (`ExecutionInfo.ts`). A remote backend (`RedisExecutions.layer` in `agent-interrupt/redis`) plugs in
 * through {@link Remote}: it publishes the events of this process's runs and delivers requests to
 * the process that owns a run. `http/` and `cli/` only map their inputs to this service.
 *
 * @since 0.2.0
 */
import {
  Cause,
  Clock,
  Context,
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  FiberMap,
  FiberSet,
  Layer,
  Option,
  Ref,
  Schema,
  Scope,
  Stream
} from "effect"
import { type CheckpointError, CheckpointStore } from "./Checkpoint.ts"
import type { StateSnapshot } from "./Journal.ts"
import * as EventBus from "./EventBus.ts"
import {
  emptyView,
  eventsOfJournal,
  ExecutionInfo,
  foldEvent,
  type InterruptStage,
  type RunView,
  StageReached,
  toInfo
} from "./ExecutionInfo.ts"
import {
  type InterruptChecker,
  InterruptReason,
  InterruptSignal,
  isStateId,
  IsoTimestamp,
  RunStatus,
  STATE_ID_RULE,
  type StopPolicies
} from "./Interrupt.ts"
import { checkAnswer } from "./Input.ts"
import type { Durability, OfferedAnswer } from "./Journal.ts"
import { isoOf } from "./internal/time.ts"
import * as Run from "./Run.ts"
import * as Workflow from "./Workflow.ts"

// -----------------------------------------------------------------------------
// Models
// -----------------------------------------------------------------------------

const Count = Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))

/**
 * A workflow the control plane can start, for pickers and help texts.
 *
 * @category models
 * @since 0.1.0
 */
export class WorkflowSummary extends Schema.Class<WorkflowSummary>("agent-interrupt/WorkflowSummary")({
  name: Schema.String,
  description: Schema.String,
  example: Schema.Json,
  steps: Schema.optionalKey(Count)
}) {}

const receiptFields = {
  executionId: Schema.String,
  signal: InterruptSignal,
  stages: Schema.Array(StageReached),
  checkpointId: Schema.optionalKey(Schema.String)
}

/**
 * The receipt of an interrupt that won: its signal and the stages it reached when the answer was
 * made (HTTP 202).
 *
 * @category models
 * @since 0.1.0
 */
export class InterruptAccepted extends Schema.TaggedClass<InterruptAccepted>(
  "agent-interrupt/InterruptAccepted"
)("InterruptAccepted", receiptFields) {}

/**
 * The receipt of an interrupt that changed nothing: the attempt was already being interrupted, by
 * the signal shown (HTTP 200).
 *
 * @category models
 * @since 0.1.0
 */
export class AlreadyInterrupted extends Schema.TaggedClass<AlreadyInterrupted>(
  "agent-interrupt/AlreadyInterrupted"
)("AlreadyInterrupted", receiptFields) {}

/**
 * An interrupt receipt.
 *
 * @category models
 * @since 0.1.0
 */
export type InterruptReceipt = InterruptAccepted | AlreadyInterrupted

// -----------------------------------------------------------------------------
// Errors
// -----------------------------------------------------------------------------

/**
 * No execution with that id, here or in the store.
 *
 * @category errors
 * @since 0.1.0
 */
export class ExecutionNotFound extends Schema.TaggedError<ExecutionNotFound>("agent-interrupt/ExecutionNotFound")(
  "ExecutionNotFound",
  { executionId: Schema.String, message: Schema.String },
  { httpApiStatus: 404 }
) {
  constructor(props: { readonly executionId: string }) {
    super({ executionId: props.executionId, message: `No execution ${JSON.stringify(props.executionId)}` })
  }
}

/**
 * The execution is not running (it completed, failed, was interrupted or is lost): there is nothing
 * to interrupt, and nothing was left behind.
 *
 * @category errors
 * @since 0.1.0
 */
export class ExecutionNotRunning extends Schema.TaggedError<ExecutionNotRunning>(
  "agent-interrupt/ExecutionNotRunning"
)("ExecutionNotRunning", { executionId: Schema.String, status: RunStatus, message: Schema.String }, {
  httpApiStatus: 409
}) {
  constructor(props: { readonly executionId: string; readonly status: RunStatus }) {
    super({ ...props, message: `Execution ${props.executionId} is not running: it is ${props.status}` })
  }
}

/**
 * The execution cannot be resumed: it completed, runs (here or elsewhere), was interrupted asking for
 * no checkpoint, or its workflow is not known here.
 *
 * @category errors
 * @since 0.1.0
 */
export class NotResumable extends Schema.TaggedError<NotResumable>("agent-interrupt/NotResumable")(
  "NotResumable",
  { executionId: Schema.String, status: Schema.String, message: Schema.String },
  { httpApiStatus: 409 }
) {
  constructor(props: { readonly executionId: string; readonly status: string; readonly detail: string }) {
    super({
      executionId: props.executionId,
      status: props.status,
      message: `Execution ${props.executionId} cannot be resumed: ${props.detail}`
    })
  }
}

/**
 * An execution with that id exists already: resume it, or start over with `force`.
 *
 * @category errors
 * @since 0.2.0
 */
export class ExecutionExists extends Schema.TaggedError<ExecutionExists>("agent-interrupt/ExecutionExists")(
  "ExecutionExists",
  { executionId: Schema.String, status: Schema.String, message: Schema.String },
  { httpApiStatus: 409 }
) {
  constructor(props: { readonly executionId: string; readonly status: string }) {
    super({
      ...props,
      message: `Execution ${props.executionId} already exists (${props.status}): resume it, or start over with --force`
    })
  }
}

/**
 * An execution id that is not a valid state id (letters, digits, `.`, `_`, `-`, at most 128, not
 * starting with `.`): refused before anything is touched.
 *
 * @category errors
 * @since 0.2.0
 */
export class InvalidExecutionId extends Schema.TaggedError<InvalidExecutionId>("agent-interrupt/InvalidExecutionId")(
  "InvalidExecutionId",
  { executionId: Schema.String, message: Schema.String },
  { httpApiStatus: 400 }
) {
  constructor(props: { readonly executionId: string }) {
    super({ executionId: props.executionId, message: `Invalid state id ${JSON.stringify(props.executionId)}: ${STATE_ID_RULE}` })
  }
}

/**
 * The process is shutting down: it starts and resumes nothing.
 *
 * @category errors
 * @since 0.1.0
 */
export class ShuttingDown extends Schema.TaggedError<ShuttingDown>("agent-interrupt/ShuttingDown")(
  "ShuttingDown",
  { message: Schema.String },
  { httpApiStatus: 503 }
) {
  constructor() {
    super({ message: "The server is shutting down; try again on another instance" })
  }
}

/**
 * The store behind the executions (a directory, Redis) did not answer: nothing was changed, try
 * again.
 *
 * @category errors
 * @since 0.1.0
 */
export class BackendUnavailable extends Schema.TaggedError<BackendUnavailable>(
  "agent-interrupt/BackendUnavailable"
)("BackendUnavailable", { operation: Schema.String, message: Schema.String }, { httpApiStatus: 503 }) {
  constructor(props: { readonly operation: string; readonly detail: string }) {
    super({ operation: props.operation, message: `Cannot ${props.operation}: ${props.detail}; try again` })
  }
}

/**
 * The execution's journal exists but cannot be read: it is corrupt, or was written by a newer version
 * of this library. Nothing was changed.
 *
 * @category errors
 * @since 0.2.0
 */
export class JournalUnreadable extends Schema.TaggedError<JournalUnreadable>("agent-interrupt/JournalUnreadable")(
  "JournalUnreadable",
  { executionId: Schema.String, message: Schema.String },
  { httpApiStatus: 409 }
) {}

/**
 * The execution asks no question of that id (or none at all), now or before.
 *
 * @category errors
 * @since 0.2.0
 */
export class InputNotFound extends Schema.TaggedError<InputNotFound>("agent-interrupt/InputNotFound")(
  "InputNotFound",
  { executionId: Schema.String, inputId: Schema.optionalKey(Schema.String), message: Schema.String },
  { httpApiStatus: 404 }
) {
  constructor(props: { readonly executionId: string; readonly inputId?: string | undefined }) {
    super({
      executionId: props.executionId,
      ...(props.inputId === undefined ? {} : { inputId: props.inputId }),
      message: props.inputId === undefined
        ? `Execution ${props.executionId} waits for no answer`
        : `Execution ${props.executionId} has no input ${props.inputId}`
    })
  }
}

/**
 * The question was answered already: the first answer stands (`answer` is it).
 *
 * @category errors
 * @since 0.2.0
 */
export class InputAlreadyAnswered extends Schema.TaggedError<InputAlreadyAnswered>(
  "agent-interrupt/InputAlreadyAnswered"
)("InputAlreadyAnswered", {
  executionId: Schema.String,
  inputId: Schema.String,
  answer: Schema.Json,
  message: Schema.String
}, { httpApiStatus: 409 }) {
  constructor(props: { readonly executionId: string; readonly inputId: string; readonly answer: Schema.Json }) {
    super({
      ...props,
      message: `Input ${props.inputId} of ${props.executionId} was answered already: the first answer stands`
    })
  }
}

/**
 * The value is not an answer to the question (its Schema or its choices refuse it): nothing changed.
 * Also when no input id was named and several questions wait (`message` lists them).
 *
 * @category errors
 * @since 0.2.0
 */
export class InvalidAnswer extends Schema.TaggedError<InvalidAnswer>("agent-interrupt/InvalidAnswer")(
  "InvalidAnswer",
  { executionId: Schema.String, inputId: Schema.optionalKey(Schema.String), message: Schema.String },
  { httpApiStatus: 400 }
) {}

/**
 * The receipt of an answer: journaled and handed to the step that asked, which goes on (the run's
 * status when the answer was taken).
 *
 * @category models
 * @since 0.2.0
 */
export class AnswerAccepted extends Schema.TaggedClass<AnswerAccepted>("agent-interrupt/AnswerAccepted")("AnswerAccepted", {
  executionId: Schema.String,
  inputId: Schema.String,
  value: Schema.Json,
  answeredBy: Schema.optionalKey(Schema.String),
  answeredAt: IsoTimestamp,
  status: RunStatus
}) {}

/**
 * Options of `answer`: who answers (recorded; default `api-client`), and how long to wait for the run
 * to take the answer (default 30 s).
 *
 * @category options
 * @since 0.2.0
 */
export interface AnswerOptions {
  readonly answeredBy?: string | undefined
  readonly awaitTimeout?: Duration.Input | undefined
}

const unavailable = (operation: string) => (error: CheckpointError) =>
  new BackendUnavailable({ operation, detail: error.message })

// A store failure reading one execution: the store was away, or the journal cannot be read.
const unreadable = (operation: string) => (error: CheckpointError): BackendUnavailable | JournalUnreadable =>
  error.reason === "corrupt" || error.reason === "unsupported_version"
    ? new JournalUnreadable({ executionId: error.stateId, message: error.message })
    : unavailable(operation)(error)

// -----------------------------------------------------------------------------
// Service
// -----------------------------------------------------------------------------

/**
 * Why one execution could not be read: there is none, its journal is unreadable, or the store is away.
 *
 * @category errors
 * @since 0.2.0
 */
export type ReadError = ExecutionNotFound | InvalidExecutionId | JournalUnreadable | BackendUnavailable

/**
 * Options of `start`: who starts it, under which id, and how the run behaves.
 *
 * **Details**
 *
 * - `stateId`: the execution's id (default: the workflow's name, the time and a random part).
 * - `startedBy`: who started it (recorded; default `api-client`).
 * - `force`: start over an existing execution of that id (its journal is deleted).
 * - `timeout`, `checker`, `checkerInterval`, `durability`: as for `Run.run`.
 *
 * @category options
 * @since 0.2.0
 */
export interface StartOptions {
  readonly stateId?: string | undefined
  readonly startedBy?: string | undefined
  readonly force?: boolean | undefined
  readonly timeout?: Duration.Input | undefined
  readonly checker?: InterruptChecker | undefined
  readonly checkerInterval?: Duration.Input | undefined
  readonly durability?: Durability | undefined
}

/**
 * Options of `resume`.
 *
 * @category options
 * @since 0.2.0
 */
export interface ResumeOptions {
  readonly resumedBy?: string | undefined
  /** Take over a run whose owner is still alive. */
  readonly force?: boolean | undefined
  readonly timeout?: Duration.Input | undefined
  readonly checker?: InterruptChecker | undefined
  readonly checkerInterval?: Duration.Input | undefined
  /** Answers to questions an earlier attempt asked (what `answer` brings to a parked run). */
  readonly answers?: ReadonlyArray<OfferedAnswer> | undefined
}

/**
 * What `interrupt` takes: the signal's fields (`reason` defaults to `user_cancelled`), and whether to
 * wait for a later stage before answering.
 *
 * @category options
 * @since 0.1.0
 */
export interface InterruptOptions {
  readonly reason?: InterruptReason | undefined
  readonly message?: string | undefined
  readonly triggeredBy?: string | undefined
  readonly saveCheckpoint?: boolean | undefined
  /** Answer once the run has `stopped` (or `checkpointed`), up to `awaitTimeout` (default 30 s). */
  readonly await?: "stopped" | "checkpointed" | undefined
  readonly awaitTimeout?: Duration.Input | undefined
}

/**
 * Which executions `list` returns.
 *
 * @category options
 * @since 0.2.0
 */
export interface ListFilter {
  readonly status?: ReadonlyArray<RunStatus> | undefined
}

/**
 * The control plane.
 *
 * @category services
 * @since 0.1.0
 */
export class Executions extends Context.Service<Executions, {
  /** The workflows `start` accepts. */
  readonly workflows: ReadonlyArray<WorkflowSummary>
  /**
   * Starts a workflow (`input` decoded with its Schema; its example when `undefined`). Succeeds with
   * the execution's id once it runs, so an interrupt right after finds it.
   */
  readonly start: (
    workflow: string,
    input: unknown,
    options?: StartOptions
  ) => Effect.Effect<
    string,
    | Workflow.UnknownWorkflow
    | Workflow.InvalidWorkflowInput
    | InvalidExecutionId
    | ExecutionExists
    | ShuttingDown
    | BackendUnavailable
  >
  /** Every known execution (running here, elsewhere, or in the store), newest first. */
  readonly list: (filter?: ListFilter) => Effect.Effect<ReadonlyArray<ExecutionInfo>, BackendUnavailable>
  /** One execution's status. */
  readonly get: (executionId: string) => Effect.Effect<ExecutionInfo, ReadError>
  /** The state its journal folds into: every completed step with its result, the storage, the attempts. */
  readonly snapshot: (executionId: string) => Effect.Effect<StateSnapshot, ReadError>
  /** Journals in the store that cannot be read (corrupt, foreign, newer): `list` leaves them out. */
  readonly unreadable: Effect.Effect<
    ReadonlyArray<{ readonly executionId: string; readonly error: string }>,
    BackendUnavailable
  >
  /**
   * The execution's events with their sequence numbers: its history after `after`, then live events;
   * ends right after the `ExecutionFinished` of its current attempt (at once when it is not running).
   * Sequence numbers keep growing across resumes, so a reader reconnects with the last it saw.
   */
  readonly events: (
    executionId: string,
    options?: { readonly after?: number | undefined }
  ) => Stream.Stream<EventBus.Sequenced, ReadError>
  /**
   * Interrupts the current attempt of a running (or starting) execution. The first interrupt wins
   * (`InterruptAccepted`); another one while the attempt drains answers `AlreadyInterrupted`. An
   * execution that is not running fails with `ExecutionNotRunning` and nothing is left behind.
   */
  readonly interrupt: (
    executionId: string,
    options?: InterruptOptions
  ) => Effect.Effect<InterruptReceipt, ReadError | ExecutionNotRunning>
  /** Resumes an execution from its journal, under the same id, in this process. */
  readonly resume: (
    executionId: string,
    options?: ResumeOptions
  ) => Effect.Effect<string, ReadError | NotResumable | ShuttingDown>
  /** Waits until the current attempt of an execution has ended and says how. */
  readonly awaitEnd: (executionId: string) => Effect.Effect<ExecutionInfo, ReadError>
  /**
   * Answers a question a step of the execution asked (`awaitInput`, `requireApproval`): `inputId`
   * names it (optional when exactly one waits). The value is checked against the question's Schema
   * and choices first (`InvalidAnswer`, nothing changes); the first answer stands
   * (`InputAlreadyAnswered`). The answer is journaled and the run goes on: here if it runs here, in
   * its process if another holds it (through the remote backend), else resumed in this process.
   * Succeeds once the step has taken it.
   */
  readonly answer: (
    executionId: string,
    inputId: string | undefined,
    value: unknown,
    options?: AnswerOptions
  ) => Effect.Effect<
    AnswerAccepted,
    ReadError | InputNotFound | InputAlreadyAnswered | InvalidAnswer | NotResumable | ShuttingDown
  >
  /**
   * Parks an execution running here whose steps wait for a person: its steps stop (they run again
   * when it continues), its journal is saved, its lease released, its status stays `awaiting`; an
   * answer from any process continues it. `false` when it does not wait here.
   */
  readonly park: (executionId: string) => Effect.Effect<boolean, ReadError>
  /**
   * Stops starting and resuming, parks every execution running here that waits for a person, and
   * interrupts the others with `system_shutdown` (drained per its stop policy, 10 s by default), then
   * waits for their journals. Returns the executions it stopped. Idempotent.
   */
  readonly shutdown: Effect.Effect<ReadonlyArray<ExecutionInfo>>
}>()("agent-interrupt/Executions") {
  /**
   * Runs executions in this process over the `CheckpointStore` in context (see {@link LocalOptions});
   * on close it runs `shutdown`.
   */
  static readonly layerLocal = (options: LocalOptions = {}): Layer.Layer<Executions, never, CheckpointStore> =>
    Layer.effect(Executions, make(options))
}

/**
 * Options of {@link Executions.layerLocal} (and of the remote layers built on it).
 *
 * **Details**
 *
 * - `workflows`: what can be started and resumed (default: none — give the server its workflows).
 * - `retention`: how long a finished execution's events stay in memory (default 1 hour); after that
 *   they are read back from its journal when asked for.
 * - `historyLimit`: events retained per execution (default 10,000).
 * - `stopPolicy`: stop policies per interrupt reason for every run (default: `system_shutdown` drains
 *   10 s, other reasons abort at once).
 * - `shutdownTimeout`: how long `shutdown` waits for the runs to end (default 30 s).
 * - `durability`: how runs are journaled (default `sync`).
 *
 * @category options
 * @since 0.1.0
 */
export interface LocalOptions {
  readonly workflows?: ReadonlyArray<Workflow.Registered> | undefined
  readonly retention?: Duration.Input | undefined
  readonly historyLimit?: number | undefined
  readonly stopPolicy?: StopPolicies | undefined
  readonly shutdownTimeout?: Duration.Input | undefined
  readonly durability?: Durability | undefined
}

/**
 * What a remote backend adds to the control plane: the events of this process's runs go where other
 * processes can read them, and requests reach the process that owns a run.
 *
 * @category models
 * @since 0.2.0
 */
export interface Remote {
  /** Where, for messages (`redis://…`). */
  readonly location: string
  /**
   * Makes a run of this process reachable for as long as the scope lives (the run): its events are
   * published, and requests addressed to its owner are delivered to it.
   */
  readonly attach: (run: {
    readonly stateId: string
    readonly owner: string
    readonly state: Run.RunningExecution["state"]
    readonly bus: EventBus.EventBus["Service"]
    readonly journal: Run.RunningExecution["journal"]
  }) => Effect.Effect<void, never, Scope.Scope>
  /**
   * A run's published events after `after`: the history, then (with `live`) what comes, until its
   * current attempt ends or nobody holds its lease any more. Empty when it published nothing.
   */
  readonly follow: (
    stateId: string,
    after: number,
    live: boolean
  ) => Stream.Stream<EventBus.Sequenced, BackendUnavailable>
  /**
   * Sends an interrupt to the owner of a running execution: `sent`, `duplicate` (a request of the
   * current owner's attempt is already on its way; the first one wins), or `not_running` when nobody
   * holds its lease (and nothing is left behind).
   */
  readonly interrupt: (
    stateId: string,
    signal: InterruptSignal
  ) => Effect.Effect<"sent" | "duplicate" | "not_running", BackendUnavailable>
  /**
   * Sends an answer to the owner of a running execution (which journals it and hands it to its
   * step): `sent`, or `not_running` when nobody holds its lease (nothing is left behind).
   */
  readonly answer: (
    stateId: string,
    answer: { readonly inputId: string; readonly value: Schema.Json; readonly answeredBy?: string | undefined }
  ) => Effect.Effect<"sent" | "not_running", BackendUnavailable>
}

/** One execution in memory: its bus (its log across attempts), its view, its run in this process. */
interface Entry {
  readonly id: string
  readonly view: RunView
  readonly bus: EventBus.EventBus["Service"]
  readonly scope: Scope.Closeable
  /** The attempt running in this process, if any. */
  current: (Run.RunningExecution & { readonly ended: Deferred.Deferred<void> }) | undefined
  watchers: number
  /** The journal's stamp when the view was last in step with it (for runs that other processes change). */
  stamp: string | undefined
}

const isJson = Schema.is(Schema.Json)

const sameSignal = (a: InterruptSignal, b: InterruptSignal) =>
  a.reason === b.reason && a.triggeredAt === b.triggeredAt && a.message === b.message && a.triggeredBy === b.triggeredBy

const isActive = (status: RunStatus) => status === "running" || status === "cancelling"

// -----------------------------------------------------------------------------
// The executions in memory
// -----------------------------------------------------------------------------

/**
 * The executions this process holds in memory (its runs, and the runs it read), each with its bus:
 * read back on demand (another process's published events, else the journal), kept up to date with
 * what other processes do to them, and forgotten `retention` after their last use.
 */
const makeEntries = Effect.fnUntraced(function*(
  store: CheckpointStore["Service"],
  remote: Remote | undefined,
  options: { readonly historyLimit: number; readonly retention: Duration.Input }
) {
  const entries = new Map<string, Entry>()
  const forgetters = yield* FiberMap.make<string>()
  const materializing = new Map<string, Deferred.Deferred<Entry | undefined, BackendUnavailable | JournalUnreadable>>()
  // entries read back just now: already up to date for the `fresh` that read them
  const justRead = new WeakSet<Entry>()

  // A new entry whose bus holds `history` under its own numbers.
  const create = (id: string, history: ReadonlyArray<EventBus.Sequenced>) =>
    Effect.gen(function*() {
      const view = emptyView(id)
      const scope = yield* Scope.make()
      const bus = yield* EventBus.make({ historyLimit: options.historyLimit, observe: (item) => foldEvent(view, item) }).pipe(
        Scope.provide(scope)
      )
      for (const item of history) yield* bus.publishAt(item.sequence, item.event)
      const entry: Entry = { id, view, bus, scope, current: undefined, watchers: 0, stamp: undefined }
      entries.set(id, entry)
      return entry
    })

  const forget = (entry: Entry) =>
    Effect.suspend(() => {
      if (entry.current !== undefined || entry.watchers > 0) return Effect.void
      entries.delete(entry.id)
      return Scope.close(entry.scope, Exit.void)
    })

  const scheduleForget = (entry: Entry) =>
    FiberMap.run(forgetters, entry.id, Effect.andThen(Effect.sleep(options.retention), forget(entry)))

  const keep = (entry: Entry) => FiberMap.remove(forgetters, entry.id)

  /** Drops the entry of `id` from memory now (a new run of that id starts over). */
  const discard = (id: string) =>
    Effect.suspend(() => {
      const entry = entries.get(id)
      if (entry === undefined) return Effect.void
      entries.delete(id)
      return Effect.andThen(FiberMap.remove(forgetters, id), Scope.close(entry.scope, Exit.void))
    })

  // The history of a run no bus here holds: what it published (remote, under its numbers), else its
  // journal (numbered from 1).
  const historyOf = (id: string): Effect.Effect<
    Option.Option<ReadonlyArray<EventBus.Sequenced>>,
    BackendUnavailable | JournalUnreadable
  > =>
    Effect.gen(function*() {
      if (remote !== undefined) {
        const published = yield* Stream.runCollect(remote.follow(id, 0, false))
        if (published.length > 0) return Option.some(published)
      }
      const records = yield* store.read(id).pipe(Effect.mapError(unreadable("read the journal")))
      return Option.map(records, (r) => eventsOfJournal(id, r).map((event, i) => ({ sequence: i + 1, event })))
    })

  /** The entry of an execution: in memory, or read back (its published events, else its journal). */
  const lookup = (id: string): Effect.Effect<Entry, ReadError> =>
    Effect.suspend((): Effect.Effect<Entry, ReadError> => {
      if (!isStateId(id)) return Effect.fail(new InvalidExecutionId({ executionId: id }))
      const known = entries.get(id)
      if (known !== undefined) return Effect.succeed(known)
      const pending = materializing.get(id)
      const loaded: Effect.Effect<Entry | undefined, BackendUnavailable | JournalUnreadable> = pending !== undefined
        ? Deferred.await(pending)
        : Effect.gen(function*() {
          const done = yield* Deferred.make<Entry | undefined, BackendUnavailable | JournalUnreadable>()
          materializing.set(id, done)
          const exit = yield* Effect.exit(Effect.gen(function*() {
            const stamp = Option.getOrUndefined(yield* store.stamp(id).pipe(Effect.mapError(unreadable("read the journal"))))
            const history = yield* historyOf(id)
            if (Option.isNone(history)) return undefined
            const again = entries.get(id)
            if (again !== undefined) return again
            const entry = yield* create(id, history.value)
            entry.stamp = stamp
            justRead.add(entry)
            yield* scheduleForget(entry)
            return entry
          }))
          materializing.delete(id)
          yield* Deferred.done(done, exit)
          return yield* exit
        })
      return Effect.flatMap(loaded, (entry) =>
        entry === undefined ? Effect.fail(new ExecutionNotFound({ executionId: id })) : Effect.succeed(entry))
    })

  /** What another process published of `entry`'s run since this process last looked, kept here. */
  const follow = (entry: Entry, live: boolean) =>
    remote === undefined
      ? Stream.empty
      : remote.follow(entry.id, entry.view.lastSequence, live).pipe(
        Stream.tap((item) => entry.bus.publishAt(item.sequence, item.event))
      )

  // The entry of an execution, up to date with what other processes did to it: with a remote, what
  // they published since; without one, its journal read again when it changed.
  const fresh = (id: string): Effect.Effect<Entry, ReadError> =>
    Effect.flatMap(lookup(id), (entry) => {
      if (entry.current !== undefined || justRead.delete(entry)) return Effect.succeed(entry)
      if (remote !== undefined) return Effect.as(Stream.runDrain(follow(entry, false)), entry)
      return Effect.flatMap(store.stamp(id).pipe(Effect.mapError(unreadable("read the journal"))), (stamp) => {
        if (Option.getOrUndefined(stamp) === entry.stamp || entry.watchers > 0) return Effect.succeed(entry)
        return Effect.andThen(Effect.andThen(keep(entry), forget(entry)), lookup(id))
      })
    })

  // A run that says it runs but runs nowhere here: lost when nobody holds its lease.
  const statusOf = (entry: Entry): Effect.Effect<RunStatus, BackendUnavailable> => {
    if (entry.current !== undefined || !isActive(entry.view.status)) return Effect.succeed(entry.view.status)
    return Effect.map(
      store.lease(entry.id).pipe(Effect.mapError(unavailable("read a lease"))),
      (lease) => Option.isSome(lease) && lease.value.alive ? entry.view.status : "lost"
    )
  }

  const infoOf = (entry: Entry) =>
    Effect.map(statusOf(entry), (status) => toInfo(entry.view, { watchers: entry.watchers, status }))

  return {
    /** Every entry in memory. */
    all: () => Array.from(entries.values()),
    ids: () => Array.from(entries.keys()),
    get: (id: string) => entries.get(id),
    create: (id: string) => create(id, []),
    discard,
    keep,
    scheduleForget,
    lookup,
    fresh,
    follow,
    statusOf,
    infoOf
  }
})

/**
 * Builds the control plane: runs in this process over the `CheckpointStore` in context, and sees and
 * reaches the runs of other processes through `remote` when given.
 *
 * @category constructors
 * @since 0.2.0
 */
export const make = Effect.fnUntraced(function*(
  options: LocalOptions = {},
  remote?: Remote | undefined
): Effect.fn.Return<Executions["Service"], never, CheckpointStore | Scope.Scope> {
  const store = yield* CheckpointStore
  const registered = options.workflows ?? []
  const retention = options.retention ?? "1 hour"
  const historyLimit = options.historyLimit ?? 10_000
  const shutdownTimeout = options.shutdownTimeout ?? "30 seconds"
  const stopPolicy = options.stopPolicy
  const durability = options.durability

  const known = yield* makeEntries(store, remote, { historyLimit, retention })
  const { fresh, follow, infoOf, statusOf } = known
  const closing = yield* Ref.make(false)
  const runs = yield* FiberSet.make()

  // --- running -----------------------------------------------------------------------

  // Forks a run of `entry` in the service's scope, and resumes once it runs (or failed to start).
  const launch = (
    entry: Entry,
    runWith: (runOptions: Run.RunOptions) => Effect.Effect<Run.Outcome<unknown, unknown>, CheckpointError, CheckpointStore>
  ): Effect.Effect<void, CheckpointError> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        const ready = yield* Deferred.make<void>()
        const ended = yield* Deferred.make<void>()
        const owner = Run.makeOwner()
        const runOptions: Run.RunOptions = {
          bus: entry.bus,
          owner,
          ...(stopPolicy === undefined ? {} : { stopPolicy }),
          ...(durability === undefined ? {} : { durability }),
          onStart: (execution) =>
            Effect.gen(function*() {
              entry.current = { ...execution, ended }
              yield* known.keep(entry)
              if (remote !== undefined) {
                yield* remote.attach({
                  stateId: entry.id,
                  owner,
                  state: execution.state,
                  bus: execution.bus,
                  journal: execution.journal
                })
              }
              yield* Deferred.succeed(ready, undefined)
            })
        }
        const settle = (exit: Exit.Exit<unknown, unknown>) =>
          Effect.gen(function*() {
            entry.stamp = Option.getOrUndefined(yield* store.stamp(entry.id).pipe(Effect.orElseSucceed(() => Option.none<string>())))
            entry.current = undefined
            if (Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)) {
              yield* Effect.logError("Execution could not run", exit.cause)
            }
            yield* Deferred.succeed(ended, undefined)
            yield* known.scheduleForget(entry)
          })
        const fiber = yield* runWith(runOptions).pipe(
          Effect.provideService(CheckpointStore, store),
          Effect.exit,
          Effect.tap(settle),
          Effect.interruptible,
          Effect.annotateLogs({ module: "agent-interrupt/Executions", executionId: entry.id }),
          FiberSet.run(runs, { startImmediately: true })
        )
        const first = yield* restore(Effect.raceFirst(
          Effect.as(Deferred.await(ready), Option.none<Exit.Exit<Run.Outcome<unknown, unknown>, CheckpointError>>()),
          Effect.map(Fiber.join(fiber), Option.some)
        ))
        // the run ended before it started (its id exists, it runs elsewhere, the store failed)
        if (Option.isSome(first) && Exit.isFailure(first.value) && entry.current === undefined) {
          const error = Cause.findErrorOption(first.value.cause)
          if (Option.isSome(error)) return yield* Effect.fail(error.value)
        }
      })
    )

  const failIfClosing = Effect.suspend(() => Ref.getUnsafe(closing) ? Effect.fail(new ShuttingDown()) : Effect.void)

  const start = (workflowName: string, input: unknown, startOptions: StartOptions = {}) =>
    Effect.gen(function*() {
      yield* failIfClosing
      const workflow = yield* Workflow.find(registered, workflowName)
      const prepared = yield* workflow.prepare(input === undefined ? workflow.example : input)
      const millis = yield* Clock.currentTimeMillis
      const id = startOptions.stateId ?? Workflow.newStateId(workflow.name, millis)
      if (!isStateId(id)) return yield* new InvalidExecutionId({ executionId: id })
      const running = known.get(id)
      if (running?.current !== undefined) {
        return yield* new ExecutionExists({ executionId: id, status: running.view.status })
      }
      yield* known.discard(id)
      const entry = yield* known.create(id)
      yield* launch(entry, (runOptions) =>
        Run.run(prepared.program, {
          ...runOptions,
          stateId: id,
          workflow: workflow.name,
          input: prepared.input,
          startedBy: startOptions.startedBy ?? "api-client",
          ...(workflow.steps === undefined ? {} : { expectedSteps: workflow.steps }),
          ...(startOptions.force === undefined ? {} : { force: startOptions.force }),
          ...(startOptions.timeout === undefined ? {} : { timeout: startOptions.timeout }),
          ...(startOptions.checker === undefined ? {} : { checker: startOptions.checker }),
          ...(startOptions.checkerInterval === undefined ? {} : { checkerInterval: startOptions.checkerInterval }),
          ...(startOptions.durability === undefined ? {} : { durability: startOptions.durability })
        })).pipe(
          Effect.tapError(() => known.discard(id)),
          Effect.catchTag("CheckpointError", (error): Effect.Effect<never, ExecutionExists | BackendUnavailable> =>
            error.reason === "exists" || error.reason === "owned"
              ? Effect.fail(
                new ExecutionExists({
                  executionId: id,
                  status: error.reason === "owned" ? `running on ${error.detail}` : error.detail
                })
              )
              : Effect.fail(unavailable("start the execution")(error)))
        )
      return id
    })

  const resume = (id: string, resumeOptions: ResumeOptions = {}) =>
    Effect.gen(function*() {
      yield* failIfClosing
      const entry = yield* fresh(id)
      if (entry.current !== undefined) {
        return yield* new NotResumable({ executionId: id, status: entry.view.status, detail: "it is running here" })
      }
      const snapshot = yield* Run.loadResumable(id, { force: resumeOptions.force }).pipe(
        Effect.provideService(CheckpointStore, store),
        Effect.mapError((error) =>
          error.reason === "not_found"
            ? new ExecutionNotFound({ executionId: id })
            : error.reason === "io" || error.reason === "corrupt" || error.reason === "unsupported_version"
            ? unreadable("read the journal")(error)
            : new NotResumable({
              executionId: id,
              status: entry.view.status,
              detail: error.reason === "owned" ? `it is still running on ${error.detail}` : error.detail
            })
        )
      )
      const { program, workflow } = yield* Run.workflowOf(registered, snapshot).pipe(
        Effect.mapError((error) => new NotResumable({ executionId: id, status: snapshot.status, detail: error.message }))
      )
      yield* launch(entry, (runOptions) =>
        Run.resume(id, program, {
          ...runOptions,
          ...(resumeOptions.resumedBy === undefined ? {} : { startedBy: resumeOptions.resumedBy }),
          ...(workflow.steps === undefined ? {} : { expectedSteps: workflow.steps }),
          ...(resumeOptions.force === undefined ? {} : { force: resumeOptions.force }),
          ...(resumeOptions.timeout === undefined ? {} : { timeout: resumeOptions.timeout }),
          ...(resumeOptions.checker === undefined ? {} : { checker: resumeOptions.checker }),
          ...(resumeOptions.checkerInterval === undefined ? {} : { checkerInterval: resumeOptions.checkerInterval }),
          ...(resumeOptions.answers === undefined ? {} : { answers: resumeOptions.answers })
        })).pipe(
          Effect.catchTag("CheckpointError", (error): Effect.Effect<never, NotResumable | BackendUnavailable> =>
            error.reason === "io"
              ? Effect.fail(unavailable("resume the execution")(error))
              : Effect.fail(
                new NotResumable({
                  executionId: id,
                  status: entry.view.status,
                  detail: error.reason === "owned" ? `it is still running on ${error.detail}` : error.detail
                })
              ))
        )
      return id
    })

  // --- reading -----------------------------------------------------------------------

  const get = (id: string) => Effect.flatMap(fresh(id), infoOf)

  const list = (filter: ListFilter = {}) =>
    Effect.gen(function*() {
      const stored = yield* store.list.pipe(Effect.mapError(unavailable("list the executions")))
      const ids = new Set([...known.ids(), ...stored.flatMap((s) => s.status === "corrupt" ? [] : [s.stateId])])
      const infos: Array<ExecutionInfo> = []
      for (const id of ids) {
        // gone meanwhile, or unreadable (listed by `unreadable`): left out
        const info = yield* get(id).pipe(
          Effect.catchTags({
            ExecutionNotFound: () => Effect.succeed(undefined),
            InvalidExecutionId: () => Effect.succeed(undefined),
            JournalUnreadable: () => Effect.succeed(undefined)
          })
        )
        if (info === undefined) continue
        if (filter.status !== undefined && !filter.status.includes(info.status)) continue
        infos.push(info)
      }
      return infos.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || a.executionId.localeCompare(b.executionId))
    })

  const events = (id: string, eventOptions: { readonly after?: number | undefined } = {}) =>
    Stream.unwrap(Effect.gen(function*() {
      const entry = yield* fresh(id)
      const after = eventOptions.after ?? 0
      const watch = Effect.acquireRelease(
        Effect.sync(() => void entry.watchers++),
        () => Effect.sync(() => void entry.watchers--)
      )
      yield* watch
      if (entry.current !== undefined) {
        // a live attempt here: its end is the first ExecutionFinished after its ExecutionStarted
        const isEnd = (item: EventBus.Sequenced) =>
          item.event._tag === "ExecutionFinished" && item.sequence > entry.view.attemptStart
        return entry.bus.streamWith({ after, untilInterrupt: false }).pipe(Stream.takeUntil(isEnd))
      }
      if (remote !== undefined && (isActive(entry.view.status) || entry.view.status === "awaiting")) {
        // another process runs it: what it publishes, kept in this log (and its view) as it comes
        return Stream.concat(
          entry.bus.streamWith({ after, live: false }),
          follow(entry, true).pipe(Stream.filter((item) => item.sequence > after))
        )
      }
      return entry.bus.streamWith({ after, live: false })
    }))

  const awaitEnd = (id: string) =>
    Effect.gen(function*() {
      const entry = yield* fresh(id)
      const current = entry.current
      if (current !== undefined) yield* Deferred.await(current.ended)
      else if (remote !== undefined && isActive(entry.view.status)) yield* Stream.runDrain(events(id, { after: entry.view.lastSequence }))
      return yield* infoOf(entry)
    })

  // --- interrupting ------------------------------------------------------------------

  const interrupt = (id: string, request: InterruptOptions = {}) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const signal = new InterruptSignal({
        reason: request.reason ?? "user_cancelled",
        triggeredAt: isoOf(now),
        saveCheckpoint: request.saveCheckpoint ?? true,
        ...(request.message === undefined ? {} : { message: request.message }),
        ...(request.triggeredBy === undefined ? {} : { triggeredBy: request.triggeredBy })
      })
      // A run this process does not run: the request goes out first (its owner's lease is checked
      // where it is delivered), and the run is read while it travels — the stop does not wait for
      // this process to catch up with the run.
      const sentFirst = remote !== undefined && isStateId(id) && known.get(id)?.current === undefined
        ? yield* remote.interrupt(id, signal)
        : undefined
      const entry = yield* fresh(id)
      let won: boolean
      const current = entry.current
      if (current !== undefined) {
        won = yield* current.state.requestInterrupt(signal)
      } else if (sentFirst !== undefined) {
        if (sentFirst === "not_running") {
          const status = yield* statusOf(entry)
          return yield* new ExecutionNotRunning({ executionId: id, status: isActive(status) ? "lost" : status })
        }
        // decided below, once the winner is known: ours, or one already on its way
        won = sentFirst === "sent"
      } else {
        return yield* new ExecutionNotRunning({ executionId: id, status: yield* statusOf(entry) })
      }
      // the receipt: the stages the run reached by now, or by the stage asked for
      const wanted: InterruptStage = request.await ?? (current === undefined ? "delivered" : "requested")
      const reached = () => entry.view.stages.some((s) => s.stage === wanted) || !isActive(entry.view.status)
      if (!reached()) {
        const until = events(id, { after: entry.view.lastSequence }).pipe(
          Stream.takeUntil(() => reached()),
          Stream.runDrain
        )
        yield* until.pipe(
          Effect.timeoutOption(request.awaitTimeout ?? (request.await === undefined ? "1 second" : "30 seconds")),
          Effect.catchTags({
            ExecutionNotFound: () => Effect.void,
            InvalidExecutionId: () => Effect.void,
            JournalUnreadable: () => Effect.void
          })
        )
      }
      const winner = entry.view.interrupt ?? signal
      if (sentFirst !== undefined) won = won && sameSignal(winner, signal)
      const receipt = {
        executionId: id,
        signal: winner,
        stages: entry.view.stages.length > 0 ? entry.view.stages.slice() : [{ stage: "requested" as const, at: signal.triggeredAt }],
        ...(entry.view.checkpointId === undefined || entry.view.status !== "interrupted"
          ? {}
          : { checkpointId: entry.view.checkpointId })
      }
      return won ? new InterruptAccepted(receipt) : new AlreadyInterrupted(receipt)
    })

  // --- answering (human in the loop) -----------------------------------------------

  // The question `inputId` names (the only one waiting when it names none).
  const questionOf = (entry: Entry, inputId: string | undefined) =>
    Effect.suspend((): Effect.Effect<EventBus.InputRequest, InputNotFound | InvalidAnswer | InputAlreadyAnswered> => {
      const id = entry.id
      if (inputId === undefined) {
        const waiting = Array.from(entry.view.inputs.values())
        if (waiting.length === 1) return Effect.succeed(waiting[0]!)
        return waiting.length === 0
          ? Effect.fail(new InputNotFound({ executionId: id }))
          : Effect.fail(
            new InvalidAnswer({
              executionId: id,
              message: `Execution ${id} waits for ${waiting.length} answers: name one (${
                waiting.map((i) => i.inputId).join(", ")
              })`
            })
          )
      }
      const request = entry.view.inputs.get(inputId)
      if (request !== undefined) return Effect.succeed(request)
      return entry.view.answered.has(inputId)
        ? Effect.fail(new InputAlreadyAnswered({ executionId: id, inputId, answer: null }))
        : Effect.fail(new InputNotFound({ executionId: id, inputId }))
    })

  // What the run made of an answer sent to it: the step took it (`answered`), or refused it.
  const outcomeOf = (entry: Entry, inputId: string, after: number, timeout: Duration.Input) =>
    events(entry.id, { after }).pipe(
      Stream.filter((item) =>
        (item.event._tag === "InputEvent" && item.event.inputId === inputId) || item.event._tag === "ExecutionFinished"
      ),
      Stream.runHead,
      Effect.timeoutOption(timeout),
      Effect.map(Option.flatten),
      Effect.catchTags({
        ExecutionNotFound: () => Effect.succeedNone,
        InvalidExecutionId: () => Effect.succeedNone,
        JournalUnreadable: () => Effect.succeedNone
      })
    )

  const answer = (id: string, inputId: string | undefined, value: unknown, answerOptions: AnswerOptions = {}) =>
    Effect.gen(function*() {
      const entry = yield* fresh(id)
      const request = yield* questionOf(entry, inputId)
      // checked here against the question (any process can); a run of this process checks it with
      // the Schema itself, when its step takes it
      const refused = !isJson(value) ? "Expected a JSON value" : entry.current === undefined ? checkAnswer(request, value) : undefined
      if (refused !== undefined) {
        return yield* new InvalidAnswer({ executionId: id, inputId: request.inputId, message: refused })
      }
      const json = value as Schema.Json
      const answeredBy = answerOptions.answeredBy ?? "api-client"
      const timeout = answerOptions.awaitTimeout ?? "30 seconds"
      const after = entry.view.lastSequence
      const current = entry.current
      let outcome: Option.Option<EventBus.Sequenced>
      if (current !== undefined) {
        const result = yield* current.journal.answer(request.inputId, json, { answeredBy })
        switch (result._tag) {
          case "Unknown":
            return yield* new InputNotFound({ executionId: id, inputId: request.inputId })
          case "AlreadyAnswered":
            return yield* new InputAlreadyAnswered({ executionId: id, inputId: request.inputId, answer: result.answer.value })
          case "Rejected":
            return yield* new InvalidAnswer({ executionId: id, inputId: request.inputId, message: result.message })
          case "Answered":
            return new AnswerAccepted({
              executionId: id,
              inputId: request.inputId,
              value: json,
              answeredBy,
              answeredAt: result.answer.timestamp,
              status: entry.view.status
            })
        }
      }
      const lease = yield* store.lease(id).pipe(Effect.mapError(unavailable("read a lease")))
      if (Option.isSome(lease) && lease.value.alive) {
        // another process holds it: the answer goes to that process
        const sent = remote === undefined
          ? "not_reachable" as const
          : yield* remote.answer(id, { inputId: request.inputId, value: json, answeredBy })
        if (sent === "not_reachable") {
          return yield* new NotResumable({
            executionId: id,
            status: entry.view.status,
            detail: `it waits in another process (${lease.value.owner}): answer it there`
          })
        }
        outcome = sent === "sent" ? yield* outcomeOf(entry, request.inputId, after, timeout) : Option.none()
        if (sent === "not_running") outcome = yield* resumeWith(entry, request, json, answeredBy, after, timeout)
      } else {
        // nobody holds it (parked, or its process died): it continues here, with the answer
        outcome = yield* resumeWith(entry, request, json, answeredBy, after, timeout)
      }
      const event = Option.getOrUndefined(outcome)?.event
      if (event?._tag === "InputEvent" && event.status === "rejected") {
        return yield* new InvalidAnswer({
          executionId: id,
          inputId: request.inputId,
          message: event.message ?? "refused"
        })
      }
      if (event?._tag === "InputEvent") {
        return new AnswerAccepted({
          executionId: id,
          inputId: request.inputId,
          value: json,
          answeredBy,
          answeredAt: event.timestamp,
          status: entry.view.status
        })
      }
      return yield* new NotResumable({
        executionId: id,
        status: entry.view.status,
        detail: `the run did not take the answer to ${request.inputId} within ${Duration.format(Duration.fromInputUnsafe(timeout))}`
      })
    })

  const resumeWith = (
    entry: Entry,
    request: EventBus.InputRequest,
    value: Schema.Json,
    answeredBy: string,
    after: number,
    timeout: Duration.Input
  ) =>
    Effect.andThen(
      resume(entry.id, { resumedBy: answeredBy, answers: [{ inputId: request.inputId, value, answeredBy }] }),
      outcomeOf(entry, request.inputId, after, timeout)
    )

  const park = (id: string) =>
    Effect.flatMap(fresh(id), (entry) => {
      const current = entry.current
      if (current === undefined) return Effect.succeed(false)
      return Effect.flatMap(current.park, (parked) => parked ? Effect.as(Deferred.await(current.ended), true) : Effect.succeed(false))
    })

  // --- shutting down -----------------------------------------------------------------

  const shutdown: Effect.Effect<ReadonlyArray<ExecutionInfo>> = Effect.gen(function*() {
    yield* Ref.set(closing, true)
    const running = known.all().filter((entry) => entry.current !== undefined)
    if (running.length === 0) return []
    yield* Effect.logInfo(`Shutting down: interrupting ${running.length} running execution(s)`)
    yield* Effect.forEach(running, (entry) =>
      entry.current === undefined ? Effect.void : Effect.flatMap(entry.current.park, (parked) =>
        parked ? Effect.void : Effect.asVoid(entry.current!.state.requestInterrupt({
          reason: "system_shutdown",
          message: "The server is shutting down",
          triggeredBy: "server"
        }))), { discard: true })
    yield* Effect.forEach(running, (entry) => entry.current === undefined ? Effect.void : Deferred.await(entry.current.ended), {
      concurrency: "unbounded",
      discard: true
    }).pipe(Effect.timeoutOption(shutdownTimeout))
    return running.map((entry) => toInfo(entry.view, { watchers: entry.watchers }))
  })

  yield* Effect.addFinalizer(() => shutdown)

  return Executions.of({
    workflows: registered.map((w) =>
      new WorkflowSummary({
        name: w.name,
        description: w.description,
        example: w.example,
        ...(w.steps === undefined ? {} : { steps: w.steps })
      })
    ),
    start,
    list,
    get,
    snapshot: (id) =>
      Effect.flatMap(
        store.load(id).pipe(Effect.mapError(unreadable("read the journal"))),
        (found) => Option.isNone(found) ? Effect.fail(new ExecutionNotFound({ executionId: id })) : Effect.succeed(found.value)
      ),
    unreadable: Effect.map(
      store.list.pipe(Effect.mapError(unavailable("list the executions"))),
      (rows) => rows.flatMap((r) => r.status === "corrupt" ? [{ executionId: r.stateId, error: r.error ?? "unreadable" }] : [])
    ),
    events,
    interrupt,
    resume: (id, resumeOptions) => resume(id, resumeOptions),
    awaitEnd,
    answer,
    park,
    shutdown
  })
})

/**
 * A `Stream` of an execution's `ExecutionInfo`, one per event, for as long as `events` goes.
 *
 * @category combinators
 * @since 0.2.0
 */
export const watch = (
  executions: Executions["Service"],
  executionId: string
): Stream.Stream<ExecutionInfo, ReadError> =>
  Stream.unwrap(Effect.map(executions.get(executionId), (first) => {
    const view = emptyView(executionId)
    return Stream.concat(
      Stream.make(first),
      executions.events(executionId).pipe(
        Stream.map((item) => {
          foldEvent(view, item)
          return toInfo(view)
        })
      )
    )
  }))

/** Interrupt reasons, re-exported for adapters that offer them. */
export const interruptReasons = InterruptReason.literals
