/**
 * What is known of an execution: `ExecutionInfo` (status, progress, interrupt and its stages,
 * checkpoint, result), and the one fold that makes it from the run's bus events — the same for a run
 * of this process (as its bus publishes), a run of another process (as its published events are
 * read) and a run read back from its journal (`eventsOfJournal`).
 *
 * @since 0.2.0
 */
import { Schema } from "effect"
import * as EventBus from "./EventBus.ts"
import { InterruptEvent, InterruptSignal, IsoTimestamp, RunStatus } from "./Interrupt.ts"
import type { JournalRecord } from "./Journal.ts"
import { isoOf } from "./internal/time.ts"

// -----------------------------------------------------------------------------
// Models
// -----------------------------------------------------------------------------

const Count = Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))

/**
 * How far the current attempt of an execution got: its bus events, and its actor calls by status
 * (`started` counts every attempt of a call; `recovered` counts the steps a resume replayed from the
 * journal instead of running them again). `done` is `completed + recovered`; `total` is how many
 * steps the workflow expects, when it says (it never goes down, and never jumps).
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
  recovered: Count,
  done: Count,
  total: Schema.optionalKey(Count)
})

/**
 * @category models
 * @since 0.1.0
 */
export interface Progress extends Schema.Schema.Type<typeof Progress> {}

/**
 * The stages of an interrupt, in order: `requested` (its signal was made), `delivered` (the running
 * execution has it: its `InterruptEvent`), `stopped` (its running work ended: the first `interrupted`
 * event, or the end of the attempt), `checkpointed` (its journal was saved to the end).
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
 * A stage an interrupt reached, and when (`detail`: how it was delivered, or where it was saved).
 *
 * @category models
 * @since 0.1.0
 */
export const StageReached = Schema.Struct({
  stage: InterruptStage,
  at: IsoTimestamp,
  detail: Schema.optionalKey(Schema.String)
})

/**
 * @category models
 * @since 0.1.0
 */
export interface StageReached extends Schema.Schema.Type<typeof StageReached> {}

/**
 * The status of one execution.
 *
 * **Details**
 *
 * - `status`: see `RunStatus` (`cancelling` between an interrupt and the end of its drain; `lost`
 *   when its owner is gone).
 * - `runs`: 1, plus one per resume.
 * - `interrupt`: the winning signal of the current attempt (who, when, why), once interrupted;
 *   `interruptStages`: the stages it reached so far.
 * - `checkpoint`, `checkpointId`: what happened to the journal at the end of the attempt;
 *   `checkpointDetail`: why it was not saved, when it failed.
 * - `result`: the value of a completed run (JSON); `error`: the error of a failed one.
 * - `watchers`: event-stream readers attached here right now; `owner`: who runs (or last ran) it.
 * - `lastSequence`: the sequence number of its last event (where a reader reconnects).
 * - `inputs`: the questions its steps asked a person and wait for (`awaiting`), oldest first.
 *
 * @category models
 * @since 0.1.0
 */
export class ExecutionInfo extends Schema.Class<ExecutionInfo>("agent-interrupt/ExecutionInfo")({
  executionId: Schema.String,
  workflow: Schema.String,
  input: Schema.Json,
  status: RunStatus,
  startedBy: Schema.optionalKey(Schema.String),
  createdAt: IsoTimestamp,
  updatedAt: IsoTimestamp,
  finishedAt: Schema.optionalKey(IsoTimestamp),
  runs: Count,
  interrupt: Schema.optionalKey(InterruptSignal),
  interruptStages: Schema.Array(StageReached),
  progress: Progress,
  checkpoint: Schema.optionalKey(EventBus.CheckpointOutcome),
  checkpointId: Schema.optionalKey(Schema.String),
  checkpointDetail: Schema.optionalKey(Schema.String),
  result: Schema.optionalKey(Schema.Json),
  error: Schema.optionalKey(Schema.String),
  watchers: Count,
  owner: Schema.optionalKey(Schema.String),
  lastSequence: Count,
  inputs: Schema.Array(EventBus.InputRequest)
}) {}

// -----------------------------------------------------------------------------
// The fold: a run's events → its ExecutionInfo
// -----------------------------------------------------------------------------

/**
 * What the fold keeps of a run: everything `ExecutionInfo` says, as its events said it.
 *
 * @category folds
 * @since 0.2.0
 */
export interface RunView {
  readonly executionId: string
  workflow: string
  input: Schema.Json
  startedBy: string | undefined
  owner: string | undefined
  createdAt: string | undefined
  updatedAt: string | undefined
  finishedAt: string | undefined
  runs: number
  status: RunStatus
  interrupt: InterruptSignal | undefined
  stages: Array<StageReached>
  progress: { -readonly [K in keyof Progress]: Progress[K] }
  checkpoint: EventBus.CheckpointOutcome | undefined
  checkpointId: string | undefined
  checkpointDetail: string | undefined
  result: Schema.Json | undefined
  error: string | undefined
  lastSequence: number
  /** The sequence number of the current attempt's `ExecutionStarted`. */
  attemptStart: number
  /** Questions asked and not answered, by input id. */
  inputs: Map<string, EventBus.InputRequest>
  /** Input ids answered (the first answer stands). */
  answered: Set<string>
}

const emptyProgress = (): RunView["progress"] => ({
  events: 0,
  started: 0,
  completed: 0,
  failed: 0,
  interrupted: 0,
  retrying: 0,
  recovered: 0,
  done: 0
})

/**
 * The view of a run before any event.
 *
 * @category folds
 * @since 0.2.0
 */
export const emptyView = (executionId: string): RunView => ({
  executionId,
  workflow: "unknown",
  input: null,
  startedBy: undefined,
  owner: undefined,
  createdAt: undefined,
  updatedAt: undefined,
  finishedAt: undefined,
  runs: 0,
  status: "running",
  interrupt: undefined,
  stages: [],
  progress: emptyProgress(),
  checkpoint: undefined,
  checkpointId: undefined,
  checkpointDetail: undefined,
  result: undefined,
  error: undefined,
  lastSequence: 0,
  attemptStart: 0,
  inputs: new Map(),
  answered: new Set()
})

const addStage = (view: RunView, stage: InterruptStage, at: string, detail?: string) => {
  if (view.stages.some((s) => s.stage === stage)) return
  view.stages.push(detail === undefined ? { stage, at } : { stage, at, detail })
}

/**
 * Folds one event of a run into its view (in place). The one function behind every
 * `ExecutionInfo`: of a run of this process (as its bus publishes), of another process's run (as its
 * published events are read) and of a run read back from its journal.
 *
 * @category folds
 * @since 0.2.0
 */
export const foldEvent = (view: RunView, item: EventBus.Sequenced): void => {
  const event = item.event
  view.lastSequence = Math.max(view.lastSequence, item.sequence)
  switch (event._tag) {
    case "ExecutionStarted": {
      view.runs = Math.max(view.runs, event.attempt)
      view.status = "running"
      view.attemptStart = item.sequence
      if (event.workflow !== undefined) view.workflow = event.workflow
      if (event.input !== undefined) view.input = event.input
      if (event.startedBy !== undefined) view.startedBy ??= event.startedBy
      if (event.owner !== undefined) view.owner = event.owner
      view.createdAt ??= event.timestamp
      view.updatedAt = event.timestamp
      view.finishedAt = undefined
      view.interrupt = undefined
      view.stages = []
      view.checkpoint = undefined
      view.checkpointId = undefined
      view.checkpointDetail = undefined
      view.result = undefined
      view.error = undefined
      // asked again by the steps of this attempt
      view.inputs.clear()
      const total = view.progress.total
      view.progress = emptyProgress()
      const expected = event.expectedSteps ?? total
      if (expected !== undefined) view.progress.total = expected
      view.progress.events = 1
      return
    }
    case "ExecutionEvent": {
      const p = view.progress
      p.events++
      view.updatedAt = event.timestamp
      switch (event.status) {
        case "started":
          p.started++
          break
        case "completed":
          p.completed++
          p.done++
          break
        case "recovered":
          p.recovered++
          p.done++
          break
        case "failed":
          p.failed++
          break
        case "retrying":
          p.retrying++
          break
        case "interrupted":
          p.interrupted++
          if (view.interrupt !== undefined) addStage(view, "stopped", event.timestamp)
          break
        case "awaiting":
        case "human_intervention":
          if (event.input !== undefined && !view.answered.has(event.input.inputId)) {
            view.inputs.set(event.input.inputId, event.input)
          }
          if (view.status === "running" && view.inputs.size > 0) view.status = "awaiting"
          break
      }
      if (p.total !== undefined && p.done > p.total) p.total = p.done
      return
    }
    case "InterruptEvent": {
      view.progress.events++
      view.interrupt = event.signal
      if (view.status === "running" || view.status === "awaiting") view.status = "cancelling"
      const at = event.at ?? event.signal.triggeredAt
      view.updatedAt = at
      // requested before delivered, whatever the clocks of the two processes say
      addStage(view, "requested", event.signal.triggeredAt < at ? event.signal.triggeredAt : at)
      addStage(view, "delivered", at, event.via)
      return
    }
    case "ExecutionFinished": {
      view.progress.events++
      view.status = event.status
      view.updatedAt = event.timestamp
      view.finishedAt = event.timestamp
      view.checkpoint = event.checkpoint
      view.checkpointId = event.checkpointId
      view.checkpointDetail = event.checkpointDetail
      view.result = event.result
      view.error = event.detail
      if (event.status === "interrupted") {
        if (event.signal !== undefined) view.interrupt ??= event.signal
        addStage(view, "stopped", event.timestamp)
        if (event.checkpoint === "saved") addStage(view, "checkpointed", event.timestamp, event.checkpointId)
      }
      return
    }
    case "InputEvent": {
      view.progress.events++
      view.updatedAt = event.timestamp
      if (event.status === "answered") {
        view.inputs.delete(event.inputId)
        view.answered.add(event.inputId)
        if (view.status === "awaiting" && view.inputs.size === 0) view.status = "running"
      }
      return
    }
    case "GroupEvent":
    case "LogEvent": {
      view.progress.events++
      return
    }
    case "OutputDelta":
      // live output only: not a step of the run's progress
      return
  }
}

/**
 * The `ExecutionInfo` of a view. `status` overrides the view's (a run whose owner is gone is
 * `lost`).
 *
 * @category folds
 * @since 0.2.0
 */
export const toInfo = (
  view: RunView,
  extras: { readonly watchers?: number | undefined; readonly status?: RunStatus | undefined } = {}
): ExecutionInfo => {
  const created = view.createdAt ?? isoOf(0)
  return new ExecutionInfo({
    executionId: view.executionId,
    workflow: view.workflow,
    input: view.input,
    status: extras.status ?? view.status,
    ...(view.startedBy === undefined ? {} : { startedBy: view.startedBy }),
    createdAt: created,
    updatedAt: view.updatedAt ?? created,
    ...(view.finishedAt === undefined ? {} : { finishedAt: view.finishedAt }),
    runs: view.runs,
    ...(view.interrupt === undefined ? {} : { interrupt: view.interrupt }),
    interruptStages: view.stages.slice(),
    progress: { ...view.progress },
    ...(view.checkpoint === undefined ? {} : { checkpoint: view.checkpoint }),
    ...(view.checkpointId === undefined ? {} : { checkpointId: view.checkpointId }),
    ...(view.checkpointDetail === undefined ? {} : { checkpointDetail: view.checkpointDetail }),
    ...(view.result === undefined ? {} : { result: view.result }),
    ...(view.error === undefined ? {} : { error: view.error }),
    watchers: extras.watchers ?? 0,
    ...(view.owner === undefined ? {} : { owner: view.owner }),
    lastSequence: view.lastSequence,
    inputs: Array.from(view.inputs.values())
  }, { disableChecks: true })
}

const kindOf = (segment: string): EventBus.ActorKind =>
  segment === "tool_call" ? "tool" : segment === "llm_call" ? "llm" : "agent"

/**
 * The bus events a journal stands for: what a reader of a run that no bus holds any more (it ran in
 * another process, or before a restart) gets. Completed steps come back as `completed` events.
 *
 * @category folds
 * @since 0.2.0
 */
export const eventsOfJournal = (stateId: string, records: ReadonlyArray<JournalRecord>): Array<EventBus.BusEvent> => {
  const out: Array<EventBus.BusEvent> = []
  const requests = new Map<string, EventBus.InputRequest>()
  for (const record of records) {
    if (record._tag === "InputRequested") requests.set(record.request.inputId, record.request)
    if (record._tag === "Snapshot") for (const i of record.snapshot.inputs) requests.set(i.request.inputId, i.request)
  }
  const step = (
    s: { readonly address: string; readonly occurrence: number; readonly actor: string; readonly kind: EventBus.ActorKind; readonly attempt: number; readonly timestamp: string }
  ) => ({
    _tag: "ExecutionEvent" as const,
    stateId,
    address: s.address,
    actor: s.actor,
    kind: s.kind,
    occurrence: s.occurrence,
    attempt: s.attempt,
    timestamp: s.timestamp
  })
  for (const record of records) {
    switch (record._tag) {
      case "Snapshot": {
        const snap = record.snapshot
        out.push({
          _tag: "ExecutionStarted",
          stateId,
          attempt: snap.attempts,
          timestamp: snap.createdAt,
          ...(snap.metadata.workflow === undefined ? {} : { workflow: snap.metadata.workflow }),
          ...(snap.metadata.input === undefined ? {} : { input: snap.metadata.input }),
          ...(snap.metadata.startedBy === undefined ? {} : { startedBy: snap.metadata.startedBy })
        })
        for (const s of snap.completed) {
          out.push({
            ...step(s),
            status: "completed",
            result: s.result,
            ...(s.executionTime === undefined ? {} : { executionTime: s.executionTime }),
            ...(s.detail === undefined ? {} : { detail: s.detail })
          })
        }
        for (const input of snap.inputs) {
          out.push(...eventsOfJournal(stateId, [{
            _tag: "InputRequested",
            request: input.request,
            attempt: snap.attempts,
            timestamp: input.answer?.timestamp ?? snap.updatedAt
          }, ...(input.answer === undefined ? [] : [input.answer])]))
        }
        if (snap.status === "interrupted" || snap.status === "completed" || snap.status === "failed") {
          out.push({
            _tag: "ExecutionFinished",
            stateId,
            status: snap.status,
            timestamp: snap.updatedAt,
            checkpoint: snap.resumable ? "saved" : "not_saved",
            ...(snap.resumable ? { checkpointId: stateId } : {}),
            ...(snap.metadata.interrupt === undefined ? {} : { signal: snap.metadata.interrupt }),
            ...(snap.metadata.error === undefined ? {} : { detail: snap.metadata.error }),
            ...(snap.metadata.result === undefined ? {} : { result: snap.metadata.result })
          })
        }
        break
      }
      case "RunStarted": {
        out.push({
          _tag: "ExecutionStarted",
          stateId,
          attempt: record.attempt,
          timestamp: record.timestamp,
          ...(record.workflow === undefined ? {} : { workflow: record.workflow }),
          ...(record.input === undefined ? {} : { input: record.input }),
          ...(record.startedBy === undefined ? {} : { startedBy: record.startedBy }),
          ...(record.owner === undefined ? {} : { owner: record.owner })
        })
        break
      }
      case "StepCompleted": {
        out.push({
          ...step(record),
          status: "completed",
          result: record.result,
          ...(record.executionTime === undefined ? {} : { executionTime: record.executionTime }),
          ...(record.detail === undefined ? {} : { detail: record.detail }),
          ...(record.usage === undefined ? {} : { usage: record.usage })
        })
        break
      }
      case "StepInterrupted": {
        out.push({
          ...step(record),
          status: "interrupted",
          partialOutput: record.partialOutput,
          ...(record.usage === undefined ? {} : { usage: record.usage })
        })
        break
      }
      case "RunInterrupted": {
        out.push(new InterruptEvent({ signal: record.signal, stateId, at: record.timestamp }, { disableChecks: true }))
        break
      }
      case "RunFinished": {
        const saved = record.resumable !== false
        out.push({
          _tag: "ExecutionFinished",
          stateId,
          status: record.status,
          timestamp: record.timestamp,
          checkpoint: saved ? "saved" : "not_saved",
          ...(saved ? { checkpointId: stateId } : {}),
          ...(record.error === undefined ? {} : { detail: record.error }),
          ...(record.result === undefined ? {} : { result: record.result })
        })
        break
      }
      case "InputRequested": {
        const request = record.request
        const parts = request.address.split("::")
        out.push({
          _tag: "ExecutionEvent",
          stateId,
          address: request.address,
          actor: parts.length >= 2 ? parts[parts.length - 2]! : "workflow",
          kind: kindOf(parts[parts.length - 1]!),
          status: request.kind === "approval" ? "human_intervention" : "awaiting",
          occurrence: request.occurrence,
          attempt: record.attempt,
          timestamp: record.timestamp,
          message: request.prompt,
          input: request
        })
        break
      }
      case "InputAnswered": {
        out.push({
          _tag: "InputEvent",
          stateId,
          inputId: record.inputId,
          address: requests.get(record.inputId)?.address ?? "workflow",
          status: "answered",
          timestamp: record.timestamp,
          value: record.value,
          ...(record.answeredBy === undefined ? {} : { answeredBy: record.answeredBy }),
          ...(record.defaulted === undefined ? {} : { defaulted: record.defaulted })
        })
        break
      }
      case "StorageSet":
      case "StorageDeleted":
        break
    }
  }
  return out
}

