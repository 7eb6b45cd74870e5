/**
 * The executions a server controls: start registered workflows, list them, read their status,
 * interrupt them (with a receipt), follow their events, resume them from their checkpoint.
 *
 * This module holds the wire models of the control API (`ExecutionInfo`, the interrupt receipts,
 * the request bodies), its typed errors, the `Executions` service interface and its in-process
 * implementation `Executions.layerLocal`, which runs workflows with `Run.run` / `Run.resume` in the
 * server process, relays each run's bus into a per-execution event log that outlives the run (so
 * finished runs and reconnecting readers are served), forgets finished executions after a retention
 * time, and interrupts every running execution with `system_shutdown` when it closes.
 *
 * The distributed implementation, `RedisExecutions.layerRedis`, builds on this one through internal
 * hooks (`makeEngine`): its runs execute the same way, attached to Redis, and its receipts fill the
 * same stages.
 *
 * @since 0.1.0
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
  PubSub,
  Ref,
  Schema,
  Scope,
  Stream
} from "effect"
import { HttpServerRespondable, HttpServerResponse } from "effect/http"
import { type CheckpointError, CheckpointStore, type SnapshotStatus } from "../Checkpoint.ts"
import { research } from "../demo/Research.ts"
import { errorMessage } from "../Event.ts"
import { type BusEvent, type ExecutionFinished, type Sequenced } from "../EventBus.ts"
import type { ExecutionState } from "../ExecutionState.ts"
import { InterruptReason, InterruptSignal, IsoTimestamp, type StopPolicies } from "../Interrupt.ts"
import { makeRing, type Ring } from "../internal/ring.ts"
import * as Run from "../Run.ts"
import * as Workflow from "../Workflow.ts"
import { isoNow, isoOf } from "../internal/time.ts"

// -----------------------------------------------------------------------------
// Models
// -----------------------------------------------------------------------------

const Count = Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))

/**
 * Where an execution is: `running`, `stopping` (interrupted, still draining and checkpointing),
 * or finished: `completed`, `interrupted`, `failed`. With Redis, `lost`: the worker running it
 * stopped sending its heartbeat (it died); resume it from its last checkpoint.
 *
 * @category models
 * @since 0.1.0
 */
export const RunStatus = Schema.Literals(["running", "stopping", "completed", "interrupted", "failed", "lost"])

/**
 * @category models
 * @since 0.1.0
 */
export type RunStatus = typeof RunStatus.Type

/**
 * How far the current run of an execution got: its bus events, and its actor calls by status
 * (`started` counts every attempt; `recovered` counts the steps a resume replayed from the
 * checkpoint instead of running them again). A resume starts new counts.
 *
 * @category models
 * @since 0.1.0
 */
export const Progress = Schema.Struct({
  events: Count,
  started: Count,
  completed: Count,
  failed: Count,
  interrupted: Count,
  retrying: Count,
  recovered: Count
})

/**
 * @category models
 * @since 0.1.0
 */
export interface Progress extends Schema.Schema.Type<typeof Progress> {}

/**
 * The stages of an interrupt, in order: `requested` (the API accepted it), `delivered` (the running
 * execution has the signal), `stopped` (its program ended), `checkpointed` (its snapshot was saved).
 * In-process, `requested` and `delivered` happen together; across workers they are apart.
 *
 * @category models
 * @since 0.1.0
 */
export const InterruptStage = Schema.Literals(["requested", "delivered", "stopped", "checkpointed"])

/**
 * @category models
 * @since 0.1.0
 */
export type InterruptStage = typeof InterruptStage.Type

/**
 * A stage an interrupt reached, and when.
 *
 * @category models
 * @since 0.1.0
 */
export const StageReached = Schema.Struct({ stage: InterruptStage, at: IsoTimestamp })

/**
 * @category models
 * @since 0.1.0
 */
export interface StageReached extends Schema.Schema.Type<typeof StageReached> {}

/**
 * What the checkpoint of a finished run says: saved (with `checkpointId`), not saved (the signal
 * said `saveCheckpoint: false`), or failed to save.
 *
 * @category models
 * @since 0.1.0
 */
export const CheckpointOutcome = Schema.Literals(["saved", "not_saved", "failed"])

/**
 * The status of one execution, as `GET /api/executions/:id` returns it.
 *
 * **Details**
 *
 * - `runs`: 1, plus one per resume.
 * - `interrupt`: the winning signal of the current run (who, when, why), once interrupted.
 * - `interruptStages`: the stages that signal reached so far.
 * - `checkpointId`: set when the last run's snapshot was saved (resume with it).
 * - `watchers`: event-stream readers attached right now.
 * - `owner`: with Redis, the worker that runs (or last ran) it.
 *
 * @category models
 * @since 0.1.0
 */
export class ExecutionInfo extends Schema.Class<ExecutionInfo>("agent-interrupt/http/ExecutionInfo")({
  executionId: Schema.String,
  workflow: Schema.String,
  input: Schema.Json,
  status: RunStatus,
  startedBy: Schema.String,
  createdAt: IsoTimestamp,
  updatedAt: IsoTimestamp,
  finishedAt: Schema.optionalKey(IsoTimestamp),
  runs: Count,
  interrupt: Schema.optionalKey(InterruptSignal),
  interruptStages: Schema.Array(StageReached),
  progress: Progress,
  checkpoint: Schema.optionalKey(CheckpointOutcome),
  checkpointId: Schema.optionalKey(Schema.String),
  error: Schema.optionalKey(Schema.String),
  watchers: Count,
  owner: Schema.optionalKey(Schema.String)
}) {}

/**
 * A workflow the server can start, for pickers and help texts.
 *
 * @category models
 * @since 0.1.0
 */
export class WorkflowSummary extends Schema.Class<WorkflowSummary>("agent-interrupt/http/WorkflowSummary")({
  name: Schema.String,
  description: Schema.String,
  example: Schema.Json
}) {}

/**
 * The body of `POST /api/executions`: a registered workflow's name and its input (JSON, decoded by
 * the workflow's input Schema; the workflow's example when left out).
 *
 * @category models
 * @since 0.1.0
 */
export const StartExecution = Schema.Struct({
  workflow: Schema.String.pipe(Schema.check(Schema.isMinLength(1))),
  input: Schema.optionalKey(Schema.Json)
})

/**
 * @category models
 * @since 0.1.0
 */
export interface StartExecution extends Schema.Schema.Type<typeof StartExecution> {}

/**
 * The answer to a start or a resume: the execution's id (its state id and checkpoint id).
 *
 * @category models
 * @since 0.1.0
 */
export class ExecutionStarted extends Schema.Class<ExecutionStarted>("agent-interrupt/http/ExecutionStarted")({
  executionId: Schema.String
}) {}

/**
 * The body of `POST /api/executions/:id/interrupt`; every field is optional (`reason` defaults to
 * `user_cancelled`, `saveCheckpoint` to `true`). Who interrupts is not a body field: it is the
 * authenticated caller.
 *
 * @category models
 * @since 0.1.0
 */
export const InterruptRequest = Schema.Struct({
  reason: Schema.optionalKey(InterruptReason),
  message: Schema.optionalKey(Schema.String.pipe(Schema.check(Schema.isMaxLength(1000)))),
  saveCheckpoint: Schema.optionalKey(Schema.Boolean)
})

/**
 * @category models
 * @since 0.1.0
 */
export interface InterruptRequest extends Schema.Schema.Type<typeof InterruptRequest> {}

const receiptFields = {
  executionId: Schema.String,
  signal: InterruptSignal,
  stages: Schema.Array(StageReached),
  checkpointId: Schema.optionalKey(Schema.String)
}

/**
 * The receipt of an interrupt that won: its signal and the stages it reached when the answer was
 * written (HTTP 202).
 *
 * @category models
 * @since 0.1.0
 */
export class InterruptAccepted extends Schema.TaggedClass<InterruptAccepted>(
  "agent-interrupt/http/InterruptAccepted"
)("InterruptAccepted", receiptFields) {}

/**
 * The receipt of an interrupt that changed nothing: the execution already was interrupted, by the
 * signal shown (HTTP 200).
 *
 * @category models
 * @since 0.1.0
 */
export class AlreadyInterrupted extends Schema.TaggedClass<AlreadyInterrupted>(
  "agent-interrupt/http/AlreadyInterrupted"
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
 * No execution with that id (never started here, or forgotten after its retention time).
 *
 * @category errors
 * @since 0.1.0
 */
export class ExecutionNotFound extends Schema.TaggedError<ExecutionNotFound>(
  "agent-interrupt/http/ExecutionNotFound"
)("ExecutionNotFound", { executionId: Schema.String, message: Schema.String }, { httpApiStatus: 404 }) {
  constructor(props: { readonly executionId: string }) {
    super({ executionId: props.executionId, message: `No execution ${JSON.stringify(props.executionId)}` })
  }
}

/**
 * The execution already finished (completed or failed): there is nothing to interrupt.
 *
 * @category errors
 * @since 0.1.0
 */
export class ExecutionNotRunning extends Schema.TaggedError<ExecutionNotRunning>(
  "agent-interrupt/http/ExecutionNotRunning"
)("ExecutionNotRunning", { executionId: Schema.String, status: RunStatus, message: Schema.String }, {
  httpApiStatus: 409
}) {
  constructor(props: { readonly executionId: string; readonly status: RunStatus }) {
    super({ ...props, message: `Execution ${props.executionId} is not running: it ${props.status}` })
  }
}

/**
 * Only an interrupted execution with a saved checkpoint can be resumed.
 *
 * @category errors
 * @since 0.1.0
 */
export class NotResumable extends Schema.TaggedError<NotResumable>("agent-interrupt/http/NotResumable")(
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
 * The server is shutting down: it starts and resumes nothing.
 *
 * @category errors
 * @since 0.1.0
 */
export class ShuttingDown extends Schema.TaggedError<ShuttingDown>("agent-interrupt/http/ShuttingDown")(
  "ShuttingDown",
  { message: Schema.String },
  { httpApiStatus: 503 }
) {
  constructor() {
    super({ message: "The server is shutting down; try again on another instance" })
  }
}

/**
 * The execution runs on another worker that does not publish its events, so there is no event
 * stream to follow here (start that worker with `publishEvents: true`).
 *
 * **Gotchas**
 *
 * The `events` endpoint does not declare this error yet, so an implementation raises it as a
 * defect; being `HttpServerRespondable`, it is still answered 409 with its JSON body.
 *
 * @category errors
 * @since 0.1.0
 */
export class EventsNotPublished extends Schema.TaggedError<EventsNotPublished>(
  "agent-interrupt/http/EventsNotPublished"
)("EventsNotPublished", { executionId: Schema.String, owner: Schema.String, message: Schema.String }, {
  httpApiStatus: 409
}) {
  constructor(props: { readonly executionId: string; readonly owner: string }) {
    super({
      ...props,
      message: `Execution ${props.executionId} runs on worker ${props.owner}, which does not publish its events; ` +
        "start that worker with publishEvents: true to follow it from here"
    })
  }

  [HttpServerRespondable.symbol]() {
    return Effect.succeed(HttpServerResponse.jsonUnsafe(encodeEventsNotPublished(this), { status: 409 }))
  }
}

const encodeEventsNotPublished = (error: EventsNotPublished) => Schema.encodeSync(EventsNotPublished)(error)

/**
 * The store behind the executions (Redis) did not answer: nothing was changed, try again.
 *
 * **Gotchas**
 *
 * The API's endpoints do not declare this error yet, so an implementation raises it as a defect;
 * being `HttpServerRespondable`, it is still answered 503 with its JSON body.
 *
 * @category errors
 * @since 0.1.0
 */
export class BackendUnavailable extends Schema.TaggedError<BackendUnavailable>(
  "agent-interrupt/http/BackendUnavailable"
)("BackendUnavailable", { operation: Schema.String, message: Schema.String }, { httpApiStatus: 503 }) {
  constructor(props: { readonly operation: string; readonly detail: string }) {
    super({ operation: props.operation, message: `Cannot ${props.operation}: ${props.detail}; try again` })
  }

  [HttpServerRespondable.symbol]() {
    return Effect.succeed(HttpServerResponse.jsonUnsafe(encodeBackendUnavailable(this), { status: 503 }))
  }
}

const encodeBackendUnavailable = (error: BackendUnavailable) => Schema.encodeSync(BackendUnavailable)(error)

// -----------------------------------------------------------------------------
// Service
// -----------------------------------------------------------------------------

/**
 * What `Executions.interrupt` takes: the request body plus the authenticated caller, and whether
 * to wait for a later stage before answering.
 *
 * @category options
 * @since 0.1.0
 */
export interface InterruptOptions extends InterruptRequest {
  readonly triggeredBy: string
  /** Answer once the run has `stopped` (or `checkpointed`), up to `awaitTimeout` (default 30 s). */
  readonly await?: "stopped" | "checkpointed" | undefined
  readonly awaitTimeout?: Duration.Input | undefined
}

/**
 * The executions a server controls.
 *
 * @category services
 * @since 0.1.0
 */
export class Executions extends Context.Service<Executions, {
  /** The workflows `start` accepts. */
  readonly workflows: ReadonlyArray<WorkflowSummary>
  /** Starts a workflow; succeeds with the new execution's id once it runs (it can be interrupted at once). */
  readonly start: (
    request: StartExecution,
    options: { readonly startedBy: string }
  ) => Effect.Effect<
    string,
    Workflow.UnknownWorkflow | Workflow.InvalidWorkflowInput | ShuttingDown | BackendUnavailable
  >
  /** Every execution still remembered, newest first. */
  readonly list: Effect.Effect<ReadonlyArray<ExecutionInfo>, BackendUnavailable>
  /** One execution's status. */
  readonly get: (executionId: string) => Effect.Effect<ExecutionInfo, ExecutionNotFound | BackendUnavailable>
  /**
   * Interrupts a running execution. The first interrupt wins (`InterruptAccepted`); any later one,
   * and one for an execution that ended interrupted, answers `AlreadyInterrupted` with the winning
   * signal. A completed or failed execution fails with `ExecutionNotRunning`.
   */
  readonly interrupt: (
    executionId: string,
    options: InterruptOptions
  ) => Effect.Effect<InterruptReceipt, ExecutionNotFound | ExecutionNotRunning | BackendUnavailable>
  /**
   * The execution's events with their sequence numbers: the retained history after `after`, then
   * live events; ends right after the `ExecutionFinished` of its current run. Sequence numbers keep
   * growing across resumes, so a reader reconnects with the last one it saw. (On Redis, a run of
   * another worker that does not publish its events is refused with `EventsNotPublished`, 409.)
   */
  readonly events: (
    executionId: string,
    options?: { readonly after?: number | undefined }
  ) => Effect.Effect<Stream.Stream<Sequenced>, ExecutionNotFound | EventsNotPublished | BackendUnavailable>
  /** Resumes an interrupted execution from its checkpoint, under the same id. */
  readonly resume: (
    executionId: string,
    options: { readonly resumedBy: string }
  ) => Effect.Effect<string, ExecutionNotFound | NotResumable | ShuttingDown | BackendUnavailable>
  /**
   * Stops accepting starts and resumes, interrupts every running execution with `system_shutdown`
   * (drained per its stop policy, 10 s by default), and waits for their final checkpoints. Returns
   * the executions it stopped. Idempotent.
   */
  readonly shutdown: Effect.Effect<ReadonlyArray<ExecutionInfo>>
}>()("agent-interrupt/http/Executions") {
  /**
   * Runs executions in this process (see {@link LocalOptions}). Needs a `CheckpointStore`; on close
   * it runs `shutdown`.
   */
  static readonly layerLocal = (options: LocalOptions = {}): Layer.Layer<Executions, never, CheckpointStore> =>
    Layer.effect(Executions, makeLocal(options))
}

/**
 * Options of {@link Executions.layerLocal}.
 *
 * **Details**
 *
 * - `workflows`: what can be started (default: the research demo workflow).
 * - `retention`: how long a finished execution is remembered (default 1 hour).
 * - `historyLimit`: events retained per execution, for late and reconnecting readers (default 10,000).
 * - `stopPolicy`: stop policies per interrupt reason for every run (default: `system_shutdown`
 *   drains 10 s, other reasons abort at once).
 * - `shutdownTimeout`: how long `shutdown` waits for the runs to end and checkpoint (default 30 s).
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
}

// -----------------------------------------------------------------------------
// Local implementation
// -----------------------------------------------------------------------------

interface Relayed extends Sequenced {
  /** Which run of the execution published it (1, then one more per resume). */
  readonly run: number
}

interface MutableProgress {
  events: number
  started: number
  completed: number
  failed: number
  interrupted: number
  retrying: number
  recovered: number
}

// One execution's record. Mutable, but owned by the service: only its own fibers change it.
interface Entry {
  readonly executionId: string
  readonly workflow: string
  readonly input: Schema.Json
  readonly startedBy: string
  readonly createdAt: string
  status: RunStatus
  updatedAt: string
  finishedAt: string | undefined
  runs: number
  signal: InterruptSignal | undefined
  stages: Array<StageReached>
  checkpoint: ExecutionFinished["checkpoint"] | undefined
  checkpointId: string | undefined
  error: string | undefined
  /** The current run's progress (reset on resume). */
  progress: MutableProgress
  /** The current run's interrupt state, while it runs. */
  state: ExecutionState["Service"] | undefined
  /** Completed once the current run has its interrupt state (or has ended without one). */
  ready: Deferred.Deferred<void>
  /** Completed once the current run has ended and its record is final. */
  settled: Deferred.Deferred<void>
  readonly log: Ring<Relayed>
  readonly pubsub: PubSub.PubSub<Relayed>
  sequence: number
  watchers: number
}


const isFinished = (status: RunStatus) => status === "completed" || status === "interrupted" || status === "failed"

const emptyProgress = (): MutableProgress => ({
  events: 0,
  started: 0,
  completed: 0,
  failed: 0,
  interrupted: 0,
  retrying: 0,
  recovered: 0
})



const toInfo = (entry: Entry): ExecutionInfo =>
  new ExecutionInfo({
    executionId: entry.executionId,
    workflow: entry.workflow,
    input: entry.input,
    status: entry.status,
    startedBy: entry.startedBy,
    createdAt: entry.createdAt,
    updatedAt: entry.updatedAt,
    ...(entry.finishedAt === undefined ? {} : { finishedAt: entry.finishedAt }),
    runs: entry.runs,
    ...(entry.signal === undefined ? {} : { interrupt: entry.signal }),
    interruptStages: stagesOf(entry),
    progress: { ...entry.progress },
    ...(entry.checkpoint === undefined ? {} : { checkpoint: entry.checkpoint }),
    ...(entry.checkpointId === undefined ? {} : { checkpointId: entry.checkpointId }),
    ...(entry.error === undefined ? {} : { error: entry.error }),
    watchers: entry.watchers
  }, { disableChecks: true })

// An interrupt that did not come through `interrupt` (a timeout, a checker) reached its first two
// stages when its signal was raised.
const stagesOf = (entry: Entry): ReadonlyArray<StageReached> => {
  if (entry.stages.length > 0 || entry.signal === undefined) return entry.stages.slice()
  const at = entry.signal.triggeredAt
  return [{ stage: "requested", at }, { stage: "delivered", at }]
}

const addStage = (entry: Entry, stage: InterruptStage, at: string) => {
  if (entry.stages.length === 0 && entry.signal !== undefined && stage !== "requested") {
    entry.stages.push(...stagesOf(entry))
  }
  if (!entry.stages.some((s) => s.stage === stage)) entry.stages.push({ stage, at })
}

/**
 * Builds the in-process executions service. Its runs, retention timers and event logs live in the
 * scope; closing the scope runs `shutdown` first.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeLocal = (
  options: LocalOptions = {}
): Effect.Effect<Executions["Service"], never, CheckpointStore | Scope.Scope> =>
  Effect.map(makeEngine(options), (engine) => engine.service)

/**
 * What a run prepared by {@link EngineHooks} adds to the run's options: a checker interval, and an
 * `onStart` that runs after the service's own (the run's events are relayed by then).
 *
 * @internal
 */
export interface PreparedRun {
  readonly checkerInterval?: Duration.Input | undefined
  readonly onStart?: Run.RunOptions["onStart"]
}

/**
 * How another implementation builds on the in-process one (the Redis one attaches every run to
 * Redis). `prepareRun` runs before each run starts (a refusal fails the start or resume), in a scope
 * that lives as long as the run.
 *
 * @internal
 */
export interface EngineHooks {
  readonly prepareRun?:
    | ((run: { readonly executionId: string; readonly workflow: string }) => Effect.Effect<
      PreparedRun,
      NotResumable | BackendUnavailable,
      Scope.Scope
    >)
    | undefined
}

/**
 * An execution this process knows: its status, and whether its current run runs here.
 *
 * @internal
 */
export interface LocalExecution {
  readonly info: ExecutionInfo
  readonly runningHere: boolean
}

/**
 * The in-process service plus what another implementation needs to build on it.
 *
 * @internal
 */
export interface Engine {
  readonly service: Executions["Service"]
  /** The execution as this process knows it. */
  readonly find: (executionId: string) => Option.Option<LocalExecution>
  /** Forgets a finished execution at once (its run moved to another process). */
  readonly forget: (executionId: string) => Effect.Effect<void>
  /** `resume`, accepting checkpoints with the given statuses when the execution is not known here. */
  readonly resume: (
    executionId: string,
    options: { readonly resumedBy: string; readonly resumable?: ReadonlyArray<SnapshotStatus> | undefined }
  ) => Effect.Effect<string, ExecutionNotFound | NotResumable | ShuttingDown | BackendUnavailable>
}

/**
 * Builds the in-process engine (see {@link makeLocal}) with hooks.
 *
 * @internal
 */
export const makeEngine = Effect.fnUntraced(function*(
  options: LocalOptions = {},
  hooks: EngineHooks = {}
): Effect.fn.Return<Engine, never, CheckpointStore | Scope.Scope> {
  const store = yield* CheckpointStore
  const registered = options.workflows ?? [Workflow.register(research)]
  const retention = Duration.fromInputUnsafe(options.retention ?? "1 hour")
  const historyLimit = options.historyLimit ?? 10_000
  const shutdownTimeout = Duration.fromInputUnsafe(options.shutdownTimeout ?? "30 seconds")
  const stopPolicy = options.stopPolicy

  const entries = yield* Ref.make(new Map<string, Entry>())
  const closing = yield* Ref.make(false)
  const runs = yield* FiberSet.make<void>()
  const forgetters = yield* FiberMap.make<string>()
  // Executions being resumed right now: a second resume must not start a second run.
  const resuming = yield* Ref.make(new Set<string>())

  const lookup = (executionId: string): Effect.Effect<Entry, ExecutionNotFound> =>
    Effect.suspend(() => {
      const entry = Ref.getUnsafe(entries).get(executionId)
      return entry === undefined ? Effect.fail(new ExecutionNotFound({ executionId })) : Effect.succeed(entry)
    })

  const forget = (entry: Entry) =>
    Effect.andThen(
      Effect.sync(() => void Ref.getUnsafe(entries).delete(entry.executionId)),
      PubSub.shutdown(entry.pubsub)
    )

  // --- relaying a run's bus ----------------------------------------------------

  // Forgets a finished execution after the retention time (a resume cancels it).
  const scheduleForget = (entry: Entry) =>
    FiberMap.run(forgetters, entry.executionId, Effect.andThen(Effect.sleep(retention), forget(entry))).pipe(
      Effect.asVoid
    )

  const relay = (entry: Entry, run: number) => (event: BusEvent): Effect.Effect<void> =>
    Effect.suspend(() => {
      const item: Relayed = { sequence: ++entry.sequence, event, run }
      entry.log.push(item)
      PubSub.publishUnsafe(entry.pubsub, item)
      entry.progress.events++
      if (event._tag !== "InterruptEvent") entry.updatedAt = event.timestamp
      switch (event._tag) {
        case "ExecutionEvent": {
          switch (event.status) {
            case "started":
            case "completed":
            case "failed":
            case "interrupted":
            case "retrying":
            case "recovered":
              entry.progress[event.status]++
              break
            default:
              break
          }
          break
        }
        case "InterruptEvent": {
          entry.updatedAt = event.signal.triggeredAt
          if (entry.signal === undefined) entry.signal = event.signal
          if (entry.status === "running") entry.status = "stopping"
          break
        }
        case "ExecutionFinished": {
          entry.status = event.status
          entry.finishedAt = event.timestamp
          entry.checkpoint = event.checkpoint
          entry.checkpointId = event.checkpointId
          if (event.detail !== undefined) entry.error = event.detail
          if (event.signal !== undefined) {
            if (entry.signal === undefined) entry.signal = event.signal
            addStage(entry, "stopped", event.timestamp)
            if (event.checkpoint === "saved") addStage(entry, "checkpointed", event.timestamp)
          }
          return scheduleForget(entry)
        }
      }
      return Effect.void
    })

  // The end of a run: the record becomes final, even when the run never published its end (a
  // resume that failed to load its checkpoint; its retention timer starts here).
  const settle = (entry: Entry, exit: Exit.Exit<Run.Outcome<unknown, unknown>, CheckpointError>) =>
    Effect.gen(function*() {
      if (!isFinished(entry.status)) {
        const now = yield* isoNow
        entry.status = "failed"
        entry.finishedAt = now
        entry.updatedAt = now
        entry.error = Exit.isFailure(exit) ? errorMessage(Cause.squash(exit.cause)) : "the run ended without a result"
        yield* scheduleForget(entry)
      }
      entry.state = undefined
      yield* Deferred.succeed(entry.ready, undefined)
      yield* Deferred.succeed(entry.settled, undefined)
    })

  // A prepared run's extras, and the scope its run closes when it ends.
  const prepare = (entry: Entry) => {
    const prepareRun = hooks.prepareRun
    if (prepareRun === undefined) return Effect.succeed(undefined)
    return Effect.gen(function*() {
      const scope = yield* Scope.make()
      const extras = yield* prepareRun({ executionId: entry.executionId, workflow: entry.workflow }).pipe(
        Scope.provide(scope),
        Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause)))
      )
      return { scope, extras }
    })
  }

  // Prepares the run, commits the record (`commit`: only once the run is sure to start), runs
  // `runWith` in the service's scope, and resumes once the execution exists (or the run failed
  // before that), so that an interrupt right after `start` finds it. Preparing and forking are not
  // interrupted halfway: a prepared run is always owned by its fiber.
  const launch = (
    entry: Entry,
    commit: Effect.Effect<void>,
    runWith: (options: Run.RunOptions) => Effect.Effect<Run.Outcome<unknown, unknown>, CheckpointError, CheckpointStore>
  ): Effect.Effect<void, NotResumable | BackendUnavailable> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        const prepared = yield* prepare(entry)
        yield* commit
        const ready = entry.ready
        const run = entry.runs
        const extras: PreparedRun = prepared?.extras ?? {}
        const runOptions: Run.RunOptions = {
          historyLimit,
          ...(stopPolicy === undefined ? {} : { stopPolicy }),
          ...(extras.checkerInterval === undefined ? {} : { checkerInterval: extras.checkerInterval }),
          onStart: (execution) =>
            Effect.gen(function*() {
              entry.state = execution.state
              // `subscribe` hands over everything still queued when the run's bus closes, so the log
              // always ends with the run's ExecutionFinished.
              yield* execution.bus.subscribe(relay(entry, run))
              if (extras.onStart !== undefined) yield* extras.onStart(execution)
              yield* Deferred.succeed(ready, undefined)
            })
        }
        const fiber = yield* runWith(runOptions).pipe(
          Effect.provideService(CheckpointStore, store),
          Effect.exit,
          Effect.flatMap((exit) => settle(entry, exit)),
          Effect.ensuring(prepared === undefined ? Effect.void : Scope.close(prepared.scope, Exit.void)),
          Effect.interruptible,
          Effect.annotateLogs({ module: "agent-interrupt/http/Executions", executionId: entry.executionId }),
          FiberSet.run(runs, { startImmediately: true })
        )
        yield* restore(Effect.raceFirst(Deferred.await(ready), Fiber.await(fiber)))
      })
    )

  const makeEntry = (props: {
    readonly executionId: string
    readonly workflow: string
    readonly input: Schema.Json
    readonly startedBy: string
    readonly createdAt: string
    readonly runs: number
  }) =>
    Effect.gen(function*() {
      const pubsub = yield* PubSub.unbounded<Relayed>()
      const ready = yield* Deferred.make<void>()
      const settled = yield* Deferred.make<void>()
      const entry: Entry = {
        ...props,
        status: "running",
        updatedAt: props.createdAt,
        finishedAt: undefined,
        signal: undefined,
        stages: [],
        checkpoint: undefined,
        checkpointId: undefined,
        error: undefined,
        progress: emptyProgress(),
        state: undefined,
        ready,
        settled,
        log: makeRing<Relayed>(historyLimit),
        pubsub,
        sequence: 0,
        watchers: 0
      }
      return entry
    })

  // --- operations ----------------------------------------------------------------

  const failIfClosing = Effect.suspend(() => Ref.getUnsafe(closing) ? Effect.fail(new ShuttingDown()) : Effect.void)

  const start = (request: StartExecution, startOptions: { readonly startedBy: string }) =>
    Effect.gen(function*() {
      yield* failIfClosing
      const workflow = yield* Workflow.find(registered, request.workflow)
      const prepared = yield* workflow.prepare("input" in request ? request.input : workflow.example)
      const millis = yield* Clock.currentTimeMillis
      const executionId = Workflow.newStateId(workflow.name, millis)
      const entry = yield* makeEntry({
        executionId,
        workflow: workflow.name,
        input: prepared.input,
        startedBy: startOptions.startedBy,
        createdAt: isoOf(millis),
        runs: 1
      })
      yield* launch(
        entry,
        Effect.sync(() => void Ref.getUnsafe(entries).set(executionId, entry)),
        (runOptions) =>
          Run.run(prepared.program, {
            ...runOptions,
            stateId: executionId,
            workflow: workflow.name,
            input: prepared.input
          })
      ).pipe(
        // a new id is owned by no one: a refusal here is a bug
        Effect.catchTag("NotResumable", (error) => Effect.die(error))
      )
      return executionId
    })

  const interrupt = (executionId: string, request: InterruptOptions) =>
    Effect.gen(function*() {
      const entry = yield* lookup(executionId)
      const requestedAt = yield* isoNow
      // A run being launched gets its interrupt state in a moment.
      if (entry.state === undefined && !isFinished(entry.status)) yield* Deferred.await(entry.ready)
      const state = entry.state
      let won = false
      if (state !== undefined && !isFinished(entry.status)) {
        won = yield* state.requestInterrupt({
          reason: request.reason ?? "user_cancelled",
          message: request.message,
          triggeredBy: request.triggeredBy,
          saveCheckpoint: request.saveCheckpoint
        })
        const signal = yield* state.interruptSignal
        if (won && Option.isSome(signal)) {
          entry.signal = signal.value
          if (entry.status === "running") entry.status = "stopping"
          entry.updatedAt = requestedAt
          // The run may already have stopped (and checkpointed) by now: keep those stages.
          entry.stages = [
            { stage: "requested", at: requestedAt },
            { stage: "delivered", at: yield* isoNow },
            ...entry.stages.filter((s) => s.stage === "stopped" || s.stage === "checkpointed")
          ]
        } else if (entry.signal === undefined && Option.isSome(signal)) {
          entry.signal = signal.value
        }
      }
      if (entry.signal === undefined) {
        return yield* new ExecutionNotRunning({ executionId, status: entry.status })
      }
      if (request.await !== undefined) {
        yield* Deferred.await(entry.settled).pipe(
          Effect.timeoutOption(request.awaitTimeout ?? "30 seconds")
        )
      }
      const receipt = {
        executionId,
        signal: entry.signal,
        stages: stagesOf(entry),
        ...(entry.checkpointId === undefined || entry.status !== "interrupted" ? {} : { checkpointId: entry.checkpointId })
      }
      return won ? new InterruptAccepted(receipt) : new AlreadyInterrupted(receipt)
    })

  const events = (executionId: string, eventOptions: { readonly after?: number | undefined } = {}) =>
    Effect.map(lookup(executionId), (entry) => {
      const after = eventOptions.after ?? 0
      const isEnd = (item: Relayed) => item.event._tag === "ExecutionFinished" && item.run === entry.runs
      return Stream.unwrap(Effect.gen(function*() {
        // Subscribe first, then read the log: sequence numbers remove the overlap.
        const subscription = yield* Effect.acquireRelease(
          Effect.andThen(Effect.sync(() => void entry.watchers++), PubSub.subscribe(entry.pubsub)),
          () => Effect.sync(() => void entry.watchers--)
        )
        const past = entry.log.toArray().filter((item) => item.sequence > after)
        const end = past.findIndex(isEnd)
        if (end >= 0) return Stream.fromIterable<Sequenced>(past.slice(0, end + 1))
        if (isFinished(entry.status) && entry.state === undefined) return Stream.fromIterable<Sequenced>(past)
        const last = past.length > 0 ? past[past.length - 1]!.sequence : after
        return Stream.concat(
          Stream.fromIterable(past),
          Stream.fromSubscription(subscription).pipe(Stream.filter((item) => item.sequence > last))
        ).pipe(
          Stream.takeUntil(isEnd),
          Stream.map((item): Sequenced => ({ sequence: item.sequence, event: item.event }))
        )
      }))
    })

  const notResumable = (executionId: string, status: string, detail: string) =>
    new NotResumable({ executionId, status, detail })

  const resume = (
    executionId: string,
    resumeOptions: { readonly resumedBy: string; readonly resumable?: ReadonlyArray<SnapshotStatus> | undefined }
  ): Effect.Effect<string, ExecutionNotFound | NotResumable | ShuttingDown | BackendUnavailable> =>
    Effect.suspend(() => {
      const pending = Ref.getUnsafe(resuming)
      if (pending.has(executionId)) {
        return Effect.fail(notResumable(executionId, "running", "it is being resumed right now"))
      }
      pending.add(executionId)
      return resumeOnce(executionId, resumeOptions).pipe(
        Effect.ensuring(Effect.sync(() => void pending.delete(executionId)))
      )
    })

  const resumeOnce = (
    executionId: string,
    resumeOptions: { readonly resumedBy: string; readonly resumable?: ReadonlyArray<SnapshotStatus> | undefined }
  ) =>
    Effect.gen(function*() {
      const resumable = resumeOptions.resumable ?? ["interrupted"]
      let known = true
      yield* failIfClosing
      let entry = Ref.getUnsafe(entries).get(executionId)
      if (entry !== undefined) {
        // A run that just published its end is still settling: let it.
        if (entry.status === "interrupted") yield* Deferred.await(entry.settled)
        if (entry.status !== "interrupted") {
          return yield* notResumable(executionId, entry.status, `it is ${entry.status}, not interrupted`)
        }
        if (entry.checkpointId === undefined) {
          return yield* notResumable(executionId, entry.status, "no checkpoint was saved when it was interrupted")
        }
      } else {
        // Forgotten here (or run by an earlier server): the checkpoint store still knows it.
        const snapshot = yield* store.load(executionId).pipe(
          Effect.mapError((error) => notResumable(executionId, "unknown", error.message))
        )
        if (Option.isNone(snapshot)) return yield* new ExecutionNotFound({ executionId })
        const snap = snapshot.value
        if (!resumable.includes(snap.status)) {
          return yield* notResumable(executionId, snap.status, `its checkpoint says ${snap.status}, not interrupted`)
        }
        entry = yield* makeEntry({
          executionId,
          workflow: snap.metadata.workflow ?? "unknown",
          input: snap.metadata.input ?? null,
          // The snapshot does not say who started it: the caller who brings it back owns it now.
          startedBy: resumeOptions.resumedBy,
          createdAt: snap.createdAt,
          runs: 1
        })
        entry.status = "interrupted"
        known = false
      }
      const current = entry
      const workflow = yield* Workflow.find(registered, current.workflow).pipe(
        Effect.mapError((error) => notResumable(executionId, current.status, error.message))
      )
      const prepared = yield* workflow.prepare(current.input).pipe(
        Effect.mapError((error) => notResumable(executionId, current.status, error.message))
      )
      // Once the run is sure to start: reset the record for the new run (sequence numbers and the
      // event log carry on).
      const commit = Effect.gen(function*() {
        if (!known) Ref.getUnsafe(entries).set(executionId, current)
        yield* FiberMap.remove(forgetters, executionId)
        const now = yield* isoNow
        current.runs++
        current.status = "running"
        current.updatedAt = now
        current.finishedAt = undefined
        current.signal = undefined
        current.stages = []
        current.checkpoint = undefined
        current.checkpointId = undefined
        current.error = undefined
        current.progress = emptyProgress()
        current.ready = yield* Deferred.make<void>()
        current.settled = yield* Deferred.make<void>()
      })
      yield* Effect.logDebug("Resuming execution").pipe(
        Effect.annotateLogs({ executionId, resumedBy: resumeOptions.resumedBy })
      )
      yield* launch(current, commit, (runOptions) => Run.resume(executionId, prepared.program, runOptions))
      return executionId
    })

  const shutdown: Effect.Effect<ReadonlyArray<ExecutionInfo>> = Effect.gen(function*() {
    yield* Ref.set(closing, true)
    const running = Array.from(Ref.getUnsafe(entries).values()).filter((entry) =>
      entry.state !== undefined && !isFinished(entry.status)
    )
    if (running.length === 0) return []
    yield* Effect.logInfo(`Shutting down: interrupting ${running.length} running execution(s)`)
    yield* Effect.forEach(running, (entry) =>
      entry.state === undefined ? Effect.void : entry.state.requestInterrupt({
        reason: "system_shutdown",
        message: "The server is shutting down",
        triggeredBy: "server"
      }), { discard: true })
    yield* Effect.forEach(running, (entry) => Deferred.await(entry.settled), {
      concurrency: "unbounded",
      discard: true
    }).pipe(Effect.timeoutOption(shutdownTimeout))
    return running.map(toInfo)
  })

  yield* Effect.addFinalizer(() => shutdown)

  const find = (executionId: string): Option.Option<LocalExecution> =>
    Option.map(Option.fromNullishOr(Ref.getUnsafe(entries).get(executionId)), (entry) => ({
      info: toInfo(entry),
      runningHere: !isFinished(entry.status)
    }))

  const forgetNow = (executionId: string): Effect.Effect<void> =>
    Effect.suspend(() => {
      const entry = Ref.getUnsafe(entries).get(executionId)
      if (entry === undefined || !isFinished(entry.status) || entry.state !== undefined) return Effect.void
      return Effect.andThen(FiberMap.remove(forgetters, executionId), forget(entry))
    })

  const service = Executions.of({
    workflows: registered.map((w) =>
      new WorkflowSummary({ name: w.name, description: w.description, example: w.example })
    ),
    start,
    list: Effect.sync(() =>
      Array.from(Ref.getUnsafe(entries).values())
        .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || a.executionId.localeCompare(b.executionId))
        .map(toInfo)
    ),
    get: (executionId) => Effect.map(lookup(executionId), toInfo),
    interrupt,
    events,
    resume: (executionId, resumeOptions) => resume(executionId, { resumedBy: resumeOptions.resumedBy }),
    shutdown
  })

  return { service, find, forget: forgetNow, resume }
})
