/**
 * The journal of an execution: the append-only record of its progress, and the per-execution
 * service that writes it.
 *
 * This module holds the journal's records (Schema tagged structs: `RunStarted`, `StepCompleted`,
 * `StepInterrupted`, `StorageSet`, `StorageDeleted`, `RunInterrupted`, `RunFinished` and the
 * compacted `Snapshot`), the `StateSnapshot` they fold into, the durability modes, and the `Journal`
 * service: the occurrence counter, the key/value storage, the steps a resume replays, and a writer
 * that hands records to a store (`sync`: before anyone sees the step; `async`: in order in the
 * background; `exit`: once at the end), retrying in order with backoff while the store is away.
 *
 * Nothing here knows where records go: a store (`CheckpointStore`, one layer up) provides the sink.
 *
 * @since 0.2.0
 */
import { Cause, Clock, Context, Deferred, Duration, Effect, Layer, Option, Schema, type Scope } from "effect"
import { ActorKind, EventBus, InputRequest, TokenUsage } from "./EventBus.ts"
import { compiled } from "./internal/compiled.ts"
import { Json as JsonValue } from "./internal/json.ts"
import { errorMessage } from "./internal/text.ts"
import { isoOf } from "./internal/time.ts"
import { InterruptSignal, IsoTimestamp, RunStatus, StateId } from "./Interrupt.ts"

// -----------------------------------------------------------------------------
// Durability
// -----------------------------------------------------------------------------

/**
 * When a journal record reaches the store (as LangGraph's `durability`):
 *
 * - `sync`: a step's record is stored before its `completed` event is published and before its
 *   caller gets the value — a `completed` anyone has seen is on disk (or in Redis).
 * - `async`: records are stored in order in the background; the end of the run waits for them.
 * - `exit`: records are stored once, when the run ends (a crash loses the attempt's steps).
 *
 * @category models
 * @since 0.2.0
 */
export const Durability = Schema.Literals(["sync", "async", "exit"])

/**
 * @category models
 * @since 0.2.0
 */
export type Durability = typeof Durability.Type

// -----------------------------------------------------------------------------
// Records
// -----------------------------------------------------------------------------

const Millis = Schema.Number.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))
const Positive = Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(1)))

/**
 * An attempt began: the first run (attempt 1) or a resume (2, 3, ...). The first one names the
 * workflow and its input, so a resume knows what to run.
 *
 * @category records
 * @since 0.2.0
 */
export const RunStarted = Schema.TaggedStruct("RunStarted", {
  stateId: StateId,
  attempt: Positive,
  timestamp: IsoTimestamp,
  workflow: Schema.optionalKey(Schema.String),
  input: Schema.optionalKey(JsonValue),
  owner: Schema.optionalKey(Schema.String),
  startedBy: Schema.optionalKey(Schema.String)
})

/**
 * @category records
 * @since 0.2.0
 */
export interface RunStarted extends Schema.Schema.Type<typeof RunStarted> {}

/**
 * A step (an actor call) completed: its address and occurrence (what a resume matches on), its
 * idempotency key and its JSON result (what a resume returns instead of running it again); `usage`
 * the tokens of a language-model call.
 *
 * @category records
 * @since 0.2.0
 */
export const StepCompleted = Schema.TaggedStruct("StepCompleted", {
  address: Schema.String,
  occurrence: Positive,
  actor: Schema.String,
  kind: ActorKind,
  attempt: Positive,
  idempotencyKey: Schema.String,
  timestamp: IsoTimestamp,
  executionTime: Schema.optionalKey(Millis),
  result: JsonValue,
  detail: Schema.optionalKey(Schema.String),
  usage: Schema.optionalKey(TokenUsage)
})

/**
 * @category records
 * @since 0.2.0
 */
export interface StepCompleted extends Schema.Schema.Type<typeof StepCompleted> {}

/**
 * A step was interrupted after its stream had produced output: what it had produced, and the tokens a
 * language-model call had used by then (`usage`).
 *
 * @category records
 * @since 0.2.0
 */
export const StepInterrupted = Schema.TaggedStruct("StepInterrupted", {
  address: Schema.String,
  occurrence: Positive,
  actor: Schema.String,
  kind: ActorKind,
  attempt: Positive,
  timestamp: IsoTimestamp,
  partialOutput: JsonValue,
  usage: Schema.optionalKey(TokenUsage)
})

/**
 * @category records
 * @since 0.2.0
 */
export interface StepInterrupted extends Schema.Schema.Type<typeof StepInterrupted> {}

/**
 * A key of the execution's storage was set.
 *
 * @category records
 * @since 0.2.0
 */
export const StorageSet = Schema.TaggedStruct("StorageSet", { key: Schema.String, value: JsonValue })

/**
 * @category records
 * @since 0.2.0
 */
export interface StorageSet extends Schema.Schema.Type<typeof StorageSet> {}

/**
 * A key of the execution's storage was deleted.
 *
 * @category records
 * @since 0.2.0
 */
export const StorageDeleted = Schema.TaggedStruct("StorageDeleted", { key: Schema.String })

/**
 * @category records
 * @since 0.2.0
 */
export interface StorageDeleted extends Schema.Schema.Type<typeof StorageDeleted> {}

/**
 * The attempt was interrupted, by this signal (recorded the moment it happened).
 *
 * @category records
 * @since 0.2.0
 */
export const RunInterrupted = Schema.TaggedStruct("RunInterrupted", {
  signal: InterruptSignal,
  timestamp: IsoTimestamp
})

/**
 * @category records
 * @since 0.2.0
 */
export interface RunInterrupted extends Schema.Schema.Type<typeof RunInterrupted> {}

/**
 * The attempt ended: always the last record of an attempt that ended in its own process.
 * `resumable: false` when it was interrupted by a signal that asked for no checkpoint.
 *
 * @category records
 * @since 0.2.0
 */
export const RunFinished = Schema.TaggedStruct("RunFinished", {
  /** `awaiting`: the attempt was parked while a step waited for a person; an answer resumes it. */
  status: Schema.Literals(["completed", "failed", "interrupted", "awaiting"]),
  timestamp: IsoTimestamp,
  error: Schema.optionalKey(Schema.String),
  result: Schema.optionalKey(JsonValue),
  resumable: Schema.optionalKey(Schema.Boolean)
})

/**
 * @category records
 * @since 0.2.0
 */
export interface RunFinished extends Schema.Schema.Type<typeof RunFinished> {}

/**
 * A step asked a person (human in the loop): the question, as `InputRequest` says. Journaled once per
 * input id (a resume asks the same question again without a second record).
 *
 * @category records
 * @since 0.2.0
 */
export const InputRequested = Schema.TaggedStruct("InputRequested", {
  request: InputRequest,
  attempt: Positive,
  timestamp: IsoTimestamp
})

/**
 * @category records
 * @since 0.2.0
 */
export interface InputRequested extends Schema.Schema.Type<typeof InputRequested> {}

/**
 * The answer to an input: its JSON value (what `awaitInput` returns, decoded, on every later
 * attempt), who gave it, and whether it was the default used when the deadline passed.
 *
 * @category records
 * @since 0.2.0
 */
export const InputAnswered = Schema.TaggedStruct("InputAnswered", {
  inputId: Schema.String,
  value: JsonValue,
  timestamp: IsoTimestamp,
  answeredBy: Schema.optionalKey(Schema.String),
  defaulted: Schema.optionalKey(Schema.Boolean)
})

/**
 * @category records
 * @since 0.2.0
 */
export interface InputAnswered extends Schema.Schema.Type<typeof InputAnswered> {}

/**
 * One input of a run as the journal says: the question, and its answer once there is one.
 *
 * @category models
 * @since 0.2.0
 */
export const InputState = Schema.Struct({
  request: InputRequest,
  answer: Schema.optionalKey(InputAnswered)
})

/**
 * @category models
 * @since 0.2.0
 */
export interface InputState extends Schema.Schema.Type<typeof InputState> {}

// -----------------------------------------------------------------------------
// Snapshot
// -----------------------------------------------------------------------------

/**
 * The snapshot format this version writes (1 was the whole-document checkpoint of 0.1, still read).
 *
 * @category models
 * @since 0.1.0
 */
export const SNAPSHOT_VERSION = 2

/**
 * What a snapshot says about its run: the workflow and its input, the last interrupt, the error of
 * a failed run, the result of a completed one.
 *
 * @category models
 * @since 0.1.0
 */
export const SnapshotMetadata = Schema.Struct({
  workflow: Schema.optionalKey(Schema.String),
  input: Schema.optionalKey(JsonValue),
  startedBy: Schema.optionalKey(Schema.String),
  interrupt: Schema.optionalKey(InterruptSignal),
  error: Schema.optionalKey(Schema.String),
  result: Schema.optionalKey(JsonValue),
  eventsDropped: Schema.optionalKey(Schema.Int)
})

/**
 * @category models
 * @since 0.1.0
 */
export interface SnapshotMetadata extends Schema.Schema.Type<typeof SnapshotMetadata> {}

const emptyRecord = Effect.succeed({})
const emptyArray = Effect.succeed([])
const one = Effect.succeed(1)
const yes = Effect.succeed(true)

/**
 * An execution's state as its journal says: the fold of its records, and what a compaction writes.
 *
 * **Details**
 *
 * - `status`: `running` while an attempt is under way (or its process died: see `lost` in
 *   `RunStatus`), `cancelling` once it was interrupted, then `interrupted`, `completed` or `failed`.
 * - `attempts`: 1, plus one per resume.
 * - `completed`: every completed step of every attempt, replayed by address + occurrence.
 * - `partialOutputs`: what interrupted streams had produced, by `address#occurrence`.
 * - `storage`: the execution's key/value storage.
 * - `resumable`: `false` once an interrupt asked for no checkpoint (`saveCheckpoint: false`).
 * - `inputs`: every question its steps asked a person, with the answer once given; while one is
 *   unanswered the status is `awaiting`.
 *
 * @category models
 * @since 0.1.0
 */
export class StateSnapshot extends Schema.Class<StateSnapshot>("agent-interrupt/StateSnapshot")({
  version: Schema.Int,
  stateId: StateId,
  createdAt: IsoTimestamp,
  updatedAt: IsoTimestamp,
  status: RunStatus,
  attempts: Schema.Int.pipe(Schema.withDecodingDefaultKey(one)),
  metadata: SnapshotMetadata,
  completed: Schema.Array(StepCompleted).pipe(Schema.withDecodingDefaultKey(emptyArray)),
  partialOutputs: Schema.Record(Schema.String, JsonValue).pipe(Schema.withDecodingDefaultKey(emptyRecord)),
  storage: Schema.Record(Schema.String, JsonValue).pipe(Schema.withDecodingDefaultKey(emptyRecord)),
  resumable: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(yes)),
  inputs: Schema.Array(InputState).pipe(Schema.withDecodingDefaultKey(emptyArray))
}) {}

/**
 * `StateSnapshot` as a JSON document.
 *
 * @category codecs
 * @since 0.1.0
 */
export const StateSnapshotJson = Schema.fromJsonString(StateSnapshot)

/**
 * A compaction: every record before it, folded into one snapshot.
 *
 * @category records
 * @since 0.2.0
 */
export const Snapshot = Schema.TaggedStruct("Snapshot", { snapshot: StateSnapshot })

/**
 * @category records
 * @since 0.2.0
 */
export interface Snapshot extends Schema.Schema.Type<typeof Snapshot> {}

/**
 * Every journal record.
 *
 * @category records
 * @since 0.2.0
 */
export const JournalRecord = Schema.Union([
  RunStarted,
  StepCompleted,
  StepInterrupted,
  StorageSet,
  StorageDeleted,
  RunInterrupted,
  RunFinished,
  InputRequested,
  InputAnswered,
  Snapshot
])

/**
 * @category records
 * @since 0.2.0
 */
export type JournalRecord = typeof JournalRecord.Type

/**
 * One journal record as one JSON line (the file store's NDJSON, Redis Stream entries).
 *
 * @category codecs
 * @since 0.2.0
 */
export const JournalRecordJson = Schema.fromJsonString(JournalRecord)

// A resume decodes every line of a journal, and a compacted one holds every step in one line: the
// records' decoders are compiled (see `internal/compiled.ts`), which halves what decoding costs.
compiled(JournalRecord)

const decodeRecord = Schema.decodeUnknownExit(JournalRecord)

/**
 * Encodes one record as one line of JSON (no newline).
 *
 * **Details**
 *
 * A record's type and its JSON form are the same shape (no field is transformed), and records are
 * built by this library from typed values, so encoding is `JSON.stringify`: its cost is the size of
 * the record. Reading validates every line with the Schema.
 *
 * @category codecs
 * @since 0.2.0
 */
export const encodeRecord = (record: JournalRecord): string => JSON.stringify(record)

/**
 * Decodes one parsed JSON value as a record; the error says what is wrong.
 *
 * @category codecs
 * @since 0.2.0
 */
export const decodeRecordValue = (value: unknown): { readonly record: JournalRecord } | { readonly error: string } => {
  const exit = decodeRecord(value)
  if (exit._tag === "Success") return { record: exit.value }
  const error = Cause.findErrorOption(exit.cause)
  return { error: Option.isSome(error) ? error.value.message : Cause.pretty(exit.cause) }
}

/**
 * The key a step is replayed by: `address#occurrence`.
 *
 * @category utils
 * @since 0.2.0
 */
export const stepKey = (step: { readonly address: string; readonly occurrence: number }): string =>
  `${step.address}#${step.occurrence}`

/**
 * Folds records into the state they describe, starting from `initial` (the state of an earlier part
 * of the journal) when given. A `Snapshot` record replaces everything before it.
 *
 * @category folds
 * @since 0.2.0
 */
export const fold = (
  stateId: string,
  records: Iterable<JournalRecord>,
  initial?: StateSnapshot | undefined
): StateSnapshot => {
  let createdAt = initial?.createdAt
  let updatedAt = initial?.updatedAt
  let status: RunStatus = initial?.status ?? "running"
  let attempts = initial?.attempts ?? 0
  let metadata: { -readonly [K in keyof SnapshotMetadata]: SnapshotMetadata[K] } = { ...initial?.metadata }
  let completed = new Map<string, StepCompleted>()
  let partialOutputs: Record<string, Schema.Json> = { ...initial?.partialOutputs }
  let storage: Record<string, Schema.Json> = { ...initial?.storage }
  let resumable = initial?.resumable ?? true
  let inputs = new Map<string, InputState>((initial?.inputs ?? []).map((i) => [i.request.inputId, i]))
  const awaiting = () => {
    for (const input of inputs.values()) if (input.answer === undefined) return true
    return false
  }
  for (const step of initial?.completed ?? []) completed.set(stepKey(step), step)
  for (const record of records) {
    switch (record._tag) {
      case "Snapshot": {
        const s = record.snapshot
        createdAt = s.createdAt
        updatedAt = s.updatedAt
        status = s.status
        attempts = s.attempts
        metadata = { ...s.metadata }
        completed = new Map(s.completed.map((step) => [stepKey(step), step]))
        partialOutputs = { ...s.partialOutputs }
        storage = { ...s.storage }
        resumable = s.resumable
        inputs = new Map(s.inputs.map((i) => [i.request.inputId, i]))
        break
      }
      case "RunStarted": {
        createdAt ??= record.timestamp
        updatedAt = record.timestamp
        status = "running"
        attempts = Math.max(attempts, record.attempt)
        resumable = true
        if (record.workflow !== undefined) metadata.workflow = record.workflow
        if (record.input !== undefined) metadata.input = record.input
        if (record.startedBy !== undefined) metadata.startedBy ??= record.startedBy
        delete metadata.interrupt
        delete metadata.error
        delete metadata.result
        break
      }
      case "StepCompleted": {
        completed.set(stepKey(record), record)
        updatedAt = record.timestamp
        break
      }
      case "StepInterrupted": {
        partialOutputs[stepKey(record)] = record.partialOutput
        updatedAt = record.timestamp
        break
      }
      case "StorageSet": {
        storage[record.key] = record.value
        break
      }
      case "StorageDeleted": {
        delete storage[record.key]
        break
      }
      case "RunInterrupted": {
        status = "cancelling"
        metadata.interrupt = record.signal
        updatedAt = record.timestamp
        break
      }
      case "InputRequested": {
        if (!inputs.has(record.request.inputId)) inputs.set(record.request.inputId, { request: record.request })
        if (status === "running") status = "awaiting"
        updatedAt = record.timestamp
        break
      }
      case "InputAnswered": {
        const input = inputs.get(record.inputId)
        if (input !== undefined && input.answer === undefined) inputs.set(record.inputId, { request: input.request, answer: record })
        if (status === "awaiting" && !awaiting()) status = "running"
        updatedAt = record.timestamp
        break
      }
      case "RunFinished": {
        status = record.status
        updatedAt = record.timestamp
        if (record.error !== undefined) metadata.error = record.error
        if (record.result !== undefined) metadata.result = record.result
        if (record.resumable === false) resumable = false
        break
      }
    }
  }
  const epoch = isoOf(0)
  return new StateSnapshot({
    version: SNAPSHOT_VERSION,
    stateId,
    createdAt: createdAt ?? updatedAt ?? epoch,
    updatedAt: updatedAt ?? createdAt ?? epoch,
    status,
    attempts: Math.max(1, attempts),
    metadata,
    completed: Array.from(completed.values()),
    partialOutputs,
    storage,
    resumable,
    inputs: Array.from(inputs.values())
  }, { disableChecks: true })
}

// -----------------------------------------------------------------------------
// Service
// -----------------------------------------------------------------------------

/**
 * The key/value storage of an execution (the seed's store): JSON values that are journaled and come
 * back on resume.
 *
 * @category models
 * @since 0.1.0
 */
export interface ExecutionStorage {
  readonly get: (key: string) => Effect.Effect<Option.Option<Schema.Json>>
  /** Sets a key; journaled per the durability mode (with `sync`, stored before this returns). */
  readonly set: (key: string, value: Schema.Json) => Effect.Effect<void>
  /** Deletes a key; journaled like `set`. */
  readonly delete: (key: string) => Effect.Effect<void>
  readonly entries: Effect.Effect<Readonly<Record<string, Schema.Json>>>
}

/**
 * Whether everything journaled so far reached the store: `saved`, or not, with the reason (the store
 * was away until the deadline, or there is no store).
 *
 * @category models
 * @since 0.2.0
 */
export type FlushResult =
  | { readonly _tag: "Saved" }
  | { readonly _tag: "NotSaved"; readonly detail: string }

/**
 * Where a journal's records go: a store's `append` for one execution. Failures are retried by the
 * journal, in order, with backoff.
 *
 * @category models
 * @since 0.2.0
 */
export type JournalSink = (records: ReadonlyArray<JournalRecord>) => Effect.Effect<void, unknown>

/**
 * Options of {@link Journal.layerWith} / {@link make}.
 *
 * **Details**
 *
 * - `stateId`: the execution's id (required).
 * - `durability`: `sync` (default), `async` or `exit`; see {@link Durability}.
 * - `sink`: where records go (a store's append); without one the journal lives in memory only.
 * - `restore`: the state of earlier attempts (a resume), whose completed steps are replayed.
 * - `bufferSize`: how many records may wait for an unavailable store before appends wait for room
 *   (default 10,000). Nothing is dropped.
 * - `flushTimeout`: how long `flush` waits for an unavailable store (default 10 seconds).
 * - `offers`: answers for inputs an earlier attempt asked, brought by the resume (a step takes its
 *   answer when it asks again; it is checked and journaled then).
 *
 * @category options
 * @since 0.2.0
 */
export interface JournalOptions {
  readonly stateId: string
  /** Answers brought to this attempt for inputs an earlier one asked (checked when the step asks). */
  readonly offers?: ReadonlyArray<OfferedAnswer> | undefined
  readonly durability?: Durability | undefined
  readonly sink?: JournalSink | undefined
  readonly restore?: StateSnapshot | undefined
  readonly bufferSize?: number | undefined
  readonly flushTimeout?: Duration.Input | undefined
}

/**
 * An answer given for an input before its step asked again (a resume brings it).
 *
 * @category models
 * @since 0.2.0
 */
export interface OfferedAnswer {
  readonly inputId: string
  readonly value: Schema.Json
  readonly answeredBy?: string | undefined
}

/**
 * What `Journal.answer` did: journaled and handed the answer to its step (`Answered`), found it
 * answered already (`AlreadyAnswered`, the first answer stands), found no such input (`Unknown`), or
 * refused the value (`Rejected`: what is wrong; the step still waits).
 *
 * @category models
 * @since 0.2.0
 */
export type AnswerResult =
  | { readonly _tag: "Answered"; readonly answer: InputAnswered }
  | { readonly _tag: "AlreadyAnswered"; readonly answer: InputAnswered }
  | { readonly _tag: "Unknown" }
  | { readonly _tag: "Rejected"; readonly message: string }

/**
 * The journal of one execution.
 *
 * @category services
 * @since 0.2.0
 */
export class Journal extends Context.Service<Journal, {
  /** The execution's id. */
  readonly stateId: string
  /** When records reach the store. */
  readonly durability: Durability
  /** Whether records go to a store at all. */
  readonly persistent: boolean
  /**
   * Counts a call at `key` (an event address) and returns its occurrence: 1 for the first call, 2 for
   * the second... The same program makes the same calls, so occurrences are stable across a resume.
   */
  readonly nextOccurrence: (key: string) => number
  /** The step an earlier attempt completed at `address` + `occurrence` (what a resume replays). */
  readonly restored: (address: string, occurrence: number) => StepCompleted | undefined
  /** The execution's key/value storage. */
  readonly storage: ExecutionStorage
  /**
   * Journals a record. With `sync` durability it succeeds once the store has it (or, while the store
   * is away, once it is held in the buffer); otherwise at once. Never fails.
   */
  readonly append: (record: JournalRecord) => Effect.Effect<void>
  /** Journals a record without waiting for the store, whatever the durability (keeps the order). */
  readonly appendLater: (record: JournalRecord) => Effect.Effect<void>
  /**
   * Journals a record at once and answers `true` when there is nothing to wait for (no store, or
   * `exit` durability); otherwise does nothing and answers `false`: use `append`.
   *
   * @internal
   */
  readonly appendUnsafe: (record: JournalRecord) => boolean
  /** Waits until everything journaled so far is in the store (up to `flushTimeout`). */
  readonly flush: Effect.Effect<FlushResult>
  /** This attempt's records, in order. */
  readonly records: Effect.Effect<ReadonlyArray<JournalRecord>>
  /** The state of the execution: earlier attempts plus this one's records. */
  readonly snapshot: Effect.Effect<StateSnapshot>
  /** The question asked as `inputId` (in this attempt or an earlier one) and its answer, if any. */
  readonly input: (inputId: string) => InputState | undefined
  /** The questions asked and not answered yet. */
  readonly pendingInputs: () => ReadonlyArray<InputRequest>
  /** Whether the attempt is being parked (it waits for a person and its process lets go of it). */
  readonly parking: boolean
  /** Marks the attempt as being parked: its steps stop without a final event, to run again on resume. */
  readonly park: () => void
  /** An answer a resume brought for `inputId`, not taken yet. */
  readonly offered: (inputId: string) => OfferedAnswer | undefined
  /** Journals a question (once per input id; asking again changes nothing). */
  readonly ask: (request: InputRequest, attempt: number) => Effect.Effect<void>
  /**
   * Waits for the answer to `inputId` (at once when it has one). While it waits, `check` refuses a
   * value before it is journaled (returns what is wrong with it).
   */
  readonly awaitAnswer: (
    inputId: string,
    check: (value: Schema.Json) => string | undefined
  ) => Effect.Effect<InputAnswered>
  /**
   * Answers `inputId`: journals the answer (the first one stands), publishes an `InputEvent`, and
   * hands it to the step that waits for it.
   */
  readonly answer: (
    inputId: string,
    value: Schema.Json,
    options?: { readonly answeredBy?: string | undefined; readonly defaulted?: boolean | undefined }
  ) => Effect.Effect<AnswerResult>
}>()("agent-interrupt/Journal") {
  /**
   * A journal in memory only (no store), for an execution built by hand or in tests.
   */
  static readonly layerMemory = (stateId: string): Layer.Layer<Journal, never, EventBus> =>
    Layer.effect(Journal, make({ stateId }))

  /**
   * A journal with options.
   */
  static readonly layerWith = (options: JournalOptions): Layer.Layer<Journal, never, EventBus> =>
    Layer.effect(Journal, make(options))
}

interface Pending {
  readonly records: ReadonlyArray<JournalRecord>
  /** Completed once the records are stored; `undefined` for records nobody waits for. */
  readonly stored: Deferred.Deferred<void> | undefined
  /** Whether the waiter may go on once the store is found away (a step), or must wait (a flush). */
  readonly releaseWhenAway: boolean
}

const backoff = (failures: number) => Math.min(2_000, 50 * 2 ** Math.min(failures - 1, 6))

/**
 * Builds an execution's journal. With a sink (and not `exit`), a writer fiber lives in the scope.
 *
 * @category constructors
 * @since 0.2.0
 */
export const make = Effect.fnUntraced(function*(
  options: JournalOptions
): Effect.fn.Return<Journal["Service"], never, EventBus | Scope.Scope> {
  const stateId = options.stateId
  const durability = options.durability ?? "sync"
  const sink = options.sink
  const bufferSize = Math.max(1, options.bufferSize ?? 10_000)
  const flushTimeout = Duration.fromInputUnsafe(options.flushTimeout ?? "10 seconds")
  const bus = yield* EventBus
  const restore = options.restore

  const restoredSteps = new Map<string, StepCompleted>()
  for (const step of restore?.completed ?? []) restoredSteps.set(stepKey(step), step)
  const occurrences = new Map<string, number>()
  const nextOccurrence = (key: string): number => {
    const n = (occurrences.get(key) ?? 0) + 1
    occurrences.set(key, n)
    return n
  }

  const records: Array<JournalRecord> = []

  // --- the writer ------------------------------------------------------------------
  //
  // Group commit without a writer fiber: the first appender to find the store idle becomes the
  // writer and writes everything queued (its own record and those that arrived meanwhile) until the
  // queue is empty; the others wait for their record to be stored. While the store is away, a
  // background fiber retries in order with backoff, and appenders go on (up to the buffer).

  const queue: Array<Pending> = []
  // records queued or being written and not yet stored
  let unstored = 0
  let writing = false
  // set while the store fails
  let away: string | undefined
  let room = yield* Deferred.make<void>()
  const scope = yield* Effect.scope

  const log = (level: "warning" | "info", message: string) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.andThen(
        (level === "warning" ? Effect.logWarning(message) : Effect.logInfo(message)).pipe(
          Effect.annotateLogs({ module: "agent-interrupt/Journal", stateId })
        ),
        bus.publish({ _tag: "LogEvent", stateId, level, message, timestamp: isoOf(now) })
      ))

  // Writes the queue until it is empty (the caller holds `writing`); `true` when it all went in.
  const drainOnce = (store: JournalSink): Effect.Effect<boolean> =>
    Effect.gen(function*() {
      while (queue.length > 0) {
        const batch = queue.splice(0)
        const flat = batch.length === 1 ? batch[0]!.records : batch.flatMap((p) => p.records)
        const exit = yield* Effect.exit(flat.length === 0 ? Effect.void : store(flat))
        if (exit._tag === "Failure") {
          queue.unshift(...batch)
          const detail = errorMessage(Cause.squash(exit.cause))
          if (away === undefined) {
            away = detail
            room = yield* Deferred.make<void>()
            yield* log(
              "warning",
              `Checkpoint store unavailable (${detail}): ${unstored} record(s) held in memory (up to ${bufferSize}), ` +
                "retrying in order; the run goes on"
            )
          }
          away = detail
          // steps go on while the store is away; flushes keep waiting for the real thing
          for (const p of queue) if (p.stored !== undefined && p.releaseWhenAway) yield* Deferred.succeed(p.stored, undefined)
          return false
        }
        unstored -= flat.length
        if (away !== undefined) {
          // said before anyone waiting is released: a flush that was waiting may end the run at once
          away = undefined
          yield* log("info", "Checkpoint store is back: the held records are saved")
        }
        for (const p of batch) if (p.stored !== undefined) yield* Deferred.succeed(p.stored, undefined)
      }
      return true
    })

  // While the store is away: retry with backoff until the queue is written, then hand back.
  const retry = (store: JournalSink): Effect.Effect<void> =>
    Effect.gen(function*() {
      for (let failures = 1;; failures++) {
        yield* Effect.sleep(backoff(failures))
        if (yield* drainOnce(store)) break
      }
      away = undefined
      writing = false
      yield* Deferred.succeed(room, undefined)
    })

  // Writes the queue as the current writer; on failure, leaves the rest to the retrying fiber.
  const lead = (store: JournalSink): Effect.Effect<void> =>
    Effect.uninterruptible(Effect.flatMap(drainOnce(store), (done) => {
      if (done) {
        writing = false
        return Effect.void
      }
      return Effect.asVoid(Effect.forkIn(retry(store), scope))
    }))

  // While the store is away, nothing beyond the buffer is taken in: the appender waits for room.
  const waitForRoom: Effect.Effect<void> = Effect.suspend(() =>
    away !== undefined && unstored >= bufferSize ? Effect.andThen(Deferred.await(room), waitForRoom) : Effect.void
  )

  const enqueue = (pending: Pending) => {
    unstored += pending.records.length
    queue.push(pending)
  }

  // Starts a writer in the background if none is writing (async appends, appendUnsafe).
  const kick = (store: JournalSink): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (writing) return Effect.void
      writing = true
      return Effect.asVoid(Effect.forkIn(lead(store), scope, { startImmediately: true }))
    })

  const appendLater = (record: JournalRecord): Effect.Effect<void> =>
    Effect.suspend(() => {
      records.push(record)
      if (sink === undefined || durability === "exit") return Effect.void
      enqueue({ records: [record], stored: undefined, releaseWhenAway: true })
      return kick(sink)
    })

  const append = (record: JournalRecord): Effect.Effect<void> => {
    if (sink === undefined || durability === "exit") {
      return Effect.sync(() => void records.push(record))
    }
    const store = sink
    return Effect.andThen(
      waitForRoom,
      Effect.suspend(() => {
        records.push(record)
        if (durability === "async" || away !== undefined) {
          enqueue({ records: [record], stored: undefined, releaseWhenAway: true })
          return kick(store)
        }
        if (!writing) {
          // the store is idle: this appender writes, and returns once its record is stored
          writing = true
          enqueue({ records: [record], stored: undefined, releaseWhenAway: true })
          return lead(store)
        }
        return Effect.flatMap(Deferred.make<void>(), (stored) => {
          enqueue({ records: [record], stored, releaseWhenAway: true })
          return Deferred.await(stored)
        })
      })
    )
  }

  let exitWritten = 0
  const flush: Effect.Effect<FlushResult> = Effect.suspend((): Effect.Effect<FlushResult> => {
    if (sink === undefined) return Effect.succeed({ _tag: "NotSaved", detail: "no checkpoint store" })
    if (durability === "exit") {
      // everything of the attempt at once, retried until the deadline
      const rest = records.slice(exitWritten)
      if (rest.length === 0) return Effect.succeed({ _tag: "Saved" })
      let failures = 0
      let last = ""
      const attempt: Effect.Effect<FlushResult> = Effect.matchEffect(sink(rest), {
        onSuccess: () => Effect.sync((): FlushResult => (exitWritten += rest.length, { _tag: "Saved" })),
        onFailure: (error) => {
          failures++
          last = errorMessage(error)
          return Effect.andThen(Effect.sleep(backoff(failures)), attempt)
        }
      })
      return attempt.pipe(
        Effect.timeoutOption(flushTimeout),
        Effect.map((result) => Option.getOrElse(result, (): FlushResult => ({ _tag: "NotSaved", detail: last })))
      )
    }
    const store = sink
    return Effect.gen(function*() {
      const stored = yield* Deferred.make<void>()
      enqueue({ records: [], stored, releaseWhenAway: false })
      yield* kick(store)
      const done = yield* Deferred.await(stored).pipe(Effect.timeoutOption(flushTimeout))
      return Option.isSome(done)
        ? { _tag: "Saved" as const }
        : { _tag: "NotSaved" as const, detail: away ?? `the store did not answer within ${Duration.format(flushTimeout)}` }
    })
  })

  // --- inputs (human in the loop) -------------------------------------------------------

  const inputs = new Map<string, InputState>((restore?.inputs ?? []).map((i) => [i.request.inputId, i]))
  let parking = false
  const answering = new Map<string, InputAnswered>()
  const offers = new Map<string, OfferedAnswer>((options.offers ?? []).map((o) => [o.inputId, o]))
  const waiters = new Map<string, {
    readonly check: (value: Schema.Json) => string | undefined
    readonly answered: Deferred.Deferred<InputAnswered>
  }>()

  const ask = (request: InputRequest, attempt: number): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (inputs.has(request.inputId)) return Effect.void
      inputs.set(request.inputId, { request })
      return Effect.flatMap(Clock.currentTimeMillis, (now) =>
        append({ _tag: "InputRequested", request, attempt, timestamp: isoOf(now) }))
    })

  const awaitAnswer = (
    inputId: string,
    check: (value: Schema.Json) => string | undefined
  ): Effect.Effect<InputAnswered> =>
    Effect.suspend(() => {
      const known = inputs.get(inputId)?.answer
      if (known !== undefined) return Effect.succeed(known)
      return Effect.flatMap(Deferred.make<InputAnswered>(), (answered) => {
        waiters.set(inputId, { check, answered })
        return Deferred.await(answered).pipe(Effect.ensuring(Effect.sync(() => void waiters.delete(inputId))))
      })
    })

  const answer = (
    inputId: string,
    value: Schema.Json,
    answerOptions: { readonly answeredBy?: string | undefined; readonly defaulted?: boolean | undefined } = {}
  ): Effect.Effect<AnswerResult> =>
    Effect.uninterruptible(Effect.gen(function*() {
      const input = inputs.get(inputId)
      if (input === undefined) return { _tag: "Unknown" } as const
      if (input.answer !== undefined) return { _tag: "AlreadyAnswered", answer: input.answer } as const
      const taking = answering.get(inputId)
      if (taking !== undefined) return { _tag: "AlreadyAnswered", answer: taking } as const
      const now = isoOf(yield* Clock.currentTimeMillis)
      const refused = waiters.get(inputId)?.check(value)
      if (refused !== undefined) {
        yield* bus.publish({
          _tag: "InputEvent",
          stateId,
          inputId,
          address: input.request.address,
          status: "rejected",
          timestamp: now,
          message: refused
        })
        return { _tag: "Rejected", message: refused } as const
      }
      const record: InputAnswered = {
        _tag: "InputAnswered",
        inputId,
        value,
        timestamp: now,
        ...(answerOptions.answeredBy === undefined ? {} : { answeredBy: answerOptions.answeredBy }),
        ...(answerOptions.defaulted === true ? { defaulted: true } : {})
      }
      // The first answer stands: a second one finds it while it is being stored. The step gets it
      // once it is stored and announced, so that its next events come after the answer's.
      answering.set(inputId, record)
      offers.delete(inputId)
      yield* append(record)
      inputs.set(inputId, { request: input.request, answer: record })
      answering.delete(inputId)
      yield* bus.publish({
        _tag: "InputEvent",
        stateId,
        inputId,
        address: input.request.address,
        status: "answered",
        timestamp: now,
        value,
        ...(record.answeredBy === undefined ? {} : { answeredBy: record.answeredBy }),
        ...(record.defaulted === undefined ? {} : { defaulted: record.defaulted })
      })
      const waiter = waiters.get(inputId)
      if (waiter !== undefined) yield* Deferred.succeed(waiter.answered, record)
      return { _tag: "Answered", answer: record } as const
    }))

  // --- storage -----------------------------------------------------------------------

  const store = new Map<string, Schema.Json>(Object.entries(restore?.storage ?? {}))
  const storage: ExecutionStorage = {
    get: (key) => Effect.sync(() => Option.fromUndefinedOr(store.get(key))),
    set: (key, value) =>
      Effect.andThen(Effect.sync(() => void store.set(key, value)), append({ _tag: "StorageSet", key, value })),
    delete: (key) =>
      Effect.suspend(() =>
        store.delete(key) ? append({ _tag: "StorageDeleted", key }) : Effect.void
      ),
    entries: Effect.sync(() => Object.fromEntries(store))
  }

  return Journal.of({
    stateId,
    durability,
    persistent: sink !== undefined,
    nextOccurrence,
    restored: (address, occurrence) =>
      restoredSteps.size === 0 ? undefined : restoredSteps.get(`${address}#${occurrence}`),
    storage,
    append,
    appendLater,
    appendUnsafe: (record) => {
      if (sink !== undefined && durability !== "exit") return false
      records.push(record)
      return true
    },
    flush,
    records: Effect.sync(() => records.slice()),
    snapshot: Effect.sync(() => fold(stateId, records, restore)),
    get parking() {
      return parking
    },
    park: () => {
      parking = true
    },
    input: (inputId) => inputs.get(inputId),
    pendingInputs: () => Array.from(inputs.values()).flatMap((i) => i.answer === undefined ? [i.request] : []),
    offered: (inputId) => offers.get(inputId),
    ask,
    awaitAnswer,
    answer
  })
})

// -----------------------------------------------------------------------------
// Accessors
// -----------------------------------------------------------------------------

/**
 * The key/value storage of the current execution.
 *
 * **Example** (Remember what an agent saw, across a resume)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { storage } from "agent-interrupt"
 *
 * const remember = Effect.flatMap(storage, (s) => s.set("visited", ["web", "news"]))
 * ```
 *
 * @category accessors
 * @since 0.2.0
 */
export const storage: Effect.Effect<ExecutionStorage, never, Journal> = Journal.use((journal) =>
  Effect.succeed(journal.storage)
)
