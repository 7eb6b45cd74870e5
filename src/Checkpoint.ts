/**
 * Checkpoints: where execution journals are kept.
 *
 * `CheckpointStore` appends journal records, reads them back (a compacted snapshot first, when there
 * is one), lists and deletes executions, compacts a journal into one snapshot, and holds the lease of
 * a running execution (who runs it, and whether it is still alive — a run whose owner is gone is
 * `lost`). One generic store is built over a small backend: `layerMemory` keeps journals in memory,
 * `layerFileSystem(dir)` writes one append-only NDJSON file per execution, and
 * `RedisStore.layerRedis` (in `agent-interrupt/redis`) one Redis Stream per execution.
 *
 * Nothing is ever rewritten but by compaction, which replaces a journal by its fold atomically
 * (write a temporary file, then rename). Snapshot documents of version 1 (`<stateId>.json`) still
 * load, as a compacted journal.
 *
 * @since 0.1.0
 */
import { Clock, Context, Duration, Effect, Exit, FileSystem, Layer, Option, Path, type PlatformError, Schema, Scope } from "effect"
import { ExecutionEvent } from "./EventBus.ts"
import { currentPid, isProcessAlive } from "./internal/process.ts"
import { errorMessage, oneLine } from "./internal/text.ts"
import { isoOf } from "./internal/time.ts"
import { IsoTimestamp, isStateId, RunStatus, STATE_ID_RULE, StateId } from "./Interrupt.ts"
import {
  decodeRecordValue,
  encodeRecord,
  fold,
  type JournalRecord,
  Snapshot,
  SNAPSHOT_VERSION,
  SnapshotMetadata,
  StateSnapshot,
  type StepCompleted
} from "./Journal.ts"

export { SNAPSHOT_VERSION, SnapshotMetadata, StateSnapshot, StateSnapshotJson } from "./Journal.ts"

// -----------------------------------------------------------------------------
// Models
// -----------------------------------------------------------------------------

/**
 * The status of a saved execution.
 *
 * @deprecated use `RunStatus` (one vocabulary for every status of a run).
 * @category models
 * @since 0.1.0
 */
export const SnapshotStatus = RunStatus

/**
 * @deprecated use `RunStatus`.
 * @category models
 * @since 0.1.0
 */
export type SnapshotStatus = RunStatus

/**
 * Why a checkpoint operation failed.
 *
 * - `not_found`: no journal for that state id.
 * - `corrupt`: the stored journal is not one (torn in the middle, foreign, edited, nested too deep).
 * - `unsupported_version`: written by a newer version of this library.
 * - `invalid_state_id`: an id that is not safe as a file name or key (`../x`, empty, too long).
 * - `not_resumable`: the run already completed, or was interrupted asking for no checkpoint.
 * - `owned`: the execution is still running elsewhere (its owner's lease is alive).
 * - `exists`: a run with that state id exists already (resume it, or start over with `force`).
 * - `io`: the storage itself failed.
 *
 * @category errors
 * @since 0.1.0
 */
export const CheckpointErrorReason = Schema.Literals([
  "not_found",
  "corrupt",
  "unsupported_version",
  "invalid_state_id",
  "not_resumable",
  "owned",
  "exists",
  "io"
])

/**
 * A checkpoint could not be saved, read, listed, deleted, leased or resumed.
 *
 * @category errors
 * @since 0.1.0
 */
export class CheckpointError extends Schema.TaggedError<CheckpointError>("agent-interrupt/CheckpointError")(
  "CheckpointError",
  {
    reason: CheckpointErrorReason,
    stateId: Schema.String,
    location: Schema.optionalKey(Schema.String),
    detail: Schema.String,
    cause: Schema.optionalKey(Schema.Defect())
  },
  { httpApiStatus: 500 }
) {
  override get message(): string {
    const where = this.location === undefined ? "" : ` (${this.location})`
    switch (this.reason) {
      case "not_found":
        return `No checkpoint for execution ${this.stateId}${where}`
      case "corrupt":
        return `Checkpoint of ${this.stateId} is corrupt${where}: ${this.detail}`
      case "unsupported_version":
        return `Checkpoint of ${this.stateId}${where} ${this.detail}`
      case "invalid_state_id":
        return `Invalid state id ${JSON.stringify(this.stateId)}: ${this.detail}`
      case "not_resumable":
        return `Execution ${this.stateId} cannot be resumed: ${this.detail}`
      case "owned":
        return `Execution ${this.stateId} is still running on ${this.detail}`
      case "exists":
        return `Execution ${this.stateId} already exists (${this.detail}): resume it, or start over with --force`
      case "io":
        return this.stateId === "*"
          ? `Checkpoint storage failed${where}: ${this.detail}`
          : `Checkpoint storage failed for ${this.stateId}${where}: ${this.detail}`
    }
  }
}

const invalidId = (stateId: string) => new CheckpointError({ reason: "invalid_state_id", stateId, detail: STATE_ID_RULE })

const checkId = (stateId: string): Effect.Effect<void, CheckpointError> =>
  isStateId(stateId) ? Effect.void : Effect.fail(invalidId(stateId))

/**
 * One line of `CheckpointStore.list`.
 *
 * @category models
 * @since 0.1.0
 */
export interface CheckpointSummary {
  readonly stateId: string
  /** The run's status (`lost` when its owner is gone), or `corrupt` when its journal does not read. */
  readonly status: RunStatus | "corrupt"
  readonly updatedAt?: string | undefined
  readonly workflow?: string | undefined
  readonly reason?: string | undefined
  readonly error?: string | undefined
  /** The lease holder of a running execution. */
  readonly owner?: string | undefined
  readonly attempts?: number | undefined
  readonly steps?: number | undefined
  readonly resumable?: boolean | undefined
}

/**
 * Who holds (or last held) the lease of an execution, and whether they are alive.
 *
 * @category models
 * @since 0.2.0
 */
export interface LeaseInfo {
  readonly owner: string
  readonly alive: boolean
  readonly heartbeatAt?: string | undefined
}

/**
 * A held lease: released when its scope closes.
 *
 * @category models
 * @since 0.2.0
 */
export interface Lease {
  readonly stateId: string
  readonly owner: string
}

/**
 * Options of `acquire`: who takes the lease, and whether to take it from a living owner.
 *
 * @category options
 * @since 0.2.0
 */
export interface AcquireOptions {
  readonly owner: string
  readonly force?: boolean | undefined
}

// -----------------------------------------------------------------------------
// Service
// -----------------------------------------------------------------------------

/**
 * Where execution journals are kept.
 *
 * @category services
 * @since 0.1.0
 */
export class CheckpointStore extends Context.Service<CheckpointStore, {
  /** Where the store keeps its journals, for messages (`memory`, a directory, a Redis prefix). */
  readonly location: string
  /**
   * Appends records to an execution's journal, in order; they are stored (on disk: synced) when this
   * succeeds. The lease holder is the only writer.
   */
  readonly append: (stateId: string, records: ReadonlyArray<JournalRecord>) => Effect.Effect<void, CheckpointError>
  /** The records of a journal (a compacted `Snapshot` first, when there is one); `None` when there is none. */
  readonly read: (stateId: string) => Effect.Effect<Option.Option<ReadonlyArray<JournalRecord>>, CheckpointError>
  /**
   * The state a journal folds into; `None` when there is none. A run whose journal says `running` but
   * whose owner is gone comes back `lost`.
   */
  readonly load: (stateId: string) => Effect.Effect<Option.Option<StateSnapshot>, CheckpointError>
  /** Every stored execution, newest first; unreadable ones are listed as `corrupt`. */
  readonly list: Effect.Effect<ReadonlyArray<CheckpointSummary>, CheckpointError>
  /** Deletes an execution's journal and lease (no error when there is none). */
  readonly delete: (stateId: string) => Effect.Effect<void, CheckpointError>
  /** Replaces a journal by one `Snapshot` record of its fold, atomically. */
  readonly compact: (stateId: string) => Effect.Effect<void, CheckpointError>
  /**
   * Takes the lease of an execution for `owner` for as long as the scope lives (kept alive by a
   * heartbeat). Fails with `owned` while another owner is alive, unless `force`. Of two racing
   * acquirers exactly one wins.
   */
  readonly acquire: (stateId: string, options: AcquireOptions) => Effect.Effect<Lease, CheckpointError, Scope.Scope>
  /** The lease of an execution, if one was taken and not released. */
  readonly lease: (stateId: string) => Effect.Effect<Option.Option<LeaseInfo>, CheckpointError>
  /** A token that changes whenever the journal changes (cheap: no record is read); `None` when there is none. */
  readonly stamp: (stateId: string) => Effect.Effect<Option.Option<string>, CheckpointError>
}>()("agent-interrupt/CheckpointStore") {
  /**
   * Journals in memory (each build is an empty store): for tests and runs of one process.
   */
  static readonly layerMemory: Layer.Layer<CheckpointStore> = Layer.sync(CheckpointStore, () => makeMemory())

  /**
   * One append-only NDJSON journal per execution in `directory` (created when missing), with lease
   * files; see {@link makeFileSystem}.
   */
  static readonly layerFileSystem = (
    directory: string,
    options?: FileSystemOptions
  ): Layer.Layer<CheckpointStore, CheckpointError, FileSystem.FileSystem | Path.Path> =>
    Layer.effect(CheckpointStore, makeFileSystem(directory, options))
}

// -----------------------------------------------------------------------------
// Backends
// -----------------------------------------------------------------------------

/**
 * A backend failure, before it is named for an execution.
 *
 * @category models
 * @since 0.2.0
 */
export interface BackendFailure {
  readonly detail: string
  readonly cause?: unknown
}

/**
 * Something a backend lists but cannot read as an execution: `name` as stored, and why (listed as
 * `corrupt`, the rest is listed as usual).
 *
 * @category models
 * @since 0.2.0
 */
export interface UnreadableEntry {
  readonly name: string
  readonly error: string
}

/**
 * A stored name that is no valid state id, as an {@link UnreadableEntry}.
 *
 * @category constructors
 * @since 0.2.0
 */
export const notAStateId = (name: string): UnreadableEntry => ({ name, error: `not a valid state id (${STATE_ID_RULE})` })

/**
 * What a backend stores for one execution: its journal's complete lines (texts), or a version-1
 * snapshot document.
 *
 * @category models
 * @since 0.2.0
 */
export type Stored =
  | { readonly _tag: "Journal"; readonly texts: ReadonlyArray<string> }
  | { readonly _tag: "Legacy"; readonly text: string; readonly location?: string | undefined }

/**
 * The few operations a store needs from where it keeps journals. `CheckpointStore` is built over one
 * with {@link make}: the memory, file system and Redis stores are backends.
 *
 * @category models
 * @since 0.2.0
 */
export interface Backend {
  readonly location: string
  /** Where one execution lives, for messages. */
  readonly where: (stateId: string) => string
  readonly append: (stateId: string, texts: ReadonlyArray<string>) => Effect.Effect<void, BackendFailure>
  readonly read: (stateId: string) => Effect.Effect<Option.Option<Stored>, BackendFailure>
  /** Replaces the journal by what `compacted` makes of it (one snapshot line), atomically. */
  readonly compact: <E>(
    stateId: string,
    compacted: (stored: Stored) => Effect.Effect<string, E>
  ) => Effect.Effect<void, BackendFailure | E>
  readonly remove: (stateId: string) => Effect.Effect<void, BackendFailure>
  /** Every stored id, and what could not be read as one (a name that is no valid state id, an index of the wrong type). */
  readonly ids: Effect.Effect<
    { readonly ids: ReadonlyArray<string>; readonly unreadable: ReadonlyArray<UnreadableEntry> },
    BackendFailure
  >
  readonly acquire: (
    stateId: string,
    options: AcquireOptions
  ) => Effect.Effect<Lease, BackendFailure | { readonly owner: string }, Scope.Scope>
  readonly lease: (stateId: string) => Effect.Effect<Option.Option<LeaseInfo>, BackendFailure>
  readonly stamp: (stateId: string) => Effect.Effect<Option.Option<string>, BackendFailure>
}

// -----------------------------------------------------------------------------
// Decoding
// -----------------------------------------------------------------------------

const MAX_DEPTH = 256

// Whether a JSON container nests deeper than `limit` levels (the container itself is level 0). A
// walk of the parsed value that descends only into containers, recursive (at most `limit` frames)
// and allocating nothing.
const depthExceeds = (container: object, limit: number): boolean => {
  if (limit <= 0) return true
  if (Array.isArray(container)) {
    for (let i = 0; i < container.length; i++) {
      const child: unknown = container[i]
      if (typeof child === "object" && child !== null && depthExceeds(child, limit - 1)) return true
    }
    return false
  }
  for (const key in container) {
    const child: unknown = (container as Record<string, unknown>)[key]
    if (typeof child === "object" && child !== null && Object.hasOwn(container, key) && depthExceeds(child, limit - 1)) {
      return true
    }
  }
  return false
}

// Nesting deeper than `limit` levels takes `limit + 1` opening and as many closing brackets: the
// value of a shorter text is not walked.
const nestsTooDeep = (text: string, value: unknown, limit: number): boolean =>
  text.length >= 2 * (limit + 1) && typeof value === "object" && value !== null && depthExceeds(value, limit)

/** A Schema message on one line (`Missing key at ["version"]`). */

// The document of 0.1: one whole snapshot, with the bus history and completed events.
const LegacySnapshot = Schema.Struct({
  version: Schema.Int,
  stateId: StateId,
  createdAt: IsoTimestamp,
  updatedAt: IsoTimestamp,
  status: Schema.Literals(["running", "interrupted", "completed", "failed"]),
  metadata: SnapshotMetadata,
  completed: Schema.Array(ExecutionEvent).pipe(Schema.withDecodingDefaultKey(Effect.succeed([]))),
  partialOutputs: Schema.Record(Schema.String, Schema.Json).pipe(Schema.withDecodingDefaultKey(Effect.succeed({}))),
  storage: Schema.Record(Schema.String, Schema.Json).pipe(Schema.withDecodingDefaultKey(Effect.succeed({})))
})
const decodeLegacy = Schema.decodeUnknownExit(LegacySnapshot)
const VersionProbe = Schema.Struct({ version: Schema.Number })
const isVersioned = Schema.is(VersionProbe)

const corrupt = (stateId: string, location: string, detail: string, cause?: unknown) =>
  new CheckpointError({ reason: "corrupt", stateId, location, detail, ...(cause === undefined ? {} : { cause }) })

const newer = (stateId: string, location: string, version: number) =>
  new CheckpointError({
    reason: "unsupported_version",
    stateId,
    location,
    detail: `has version ${version}; this version of agent-interrupt reads up to ${SNAPSHOT_VERSION}`
  })

const checkVersion = (stateId: string, location: string, version: number): CheckpointError | undefined => {
  if (!Number.isInteger(version) || version < 1) return corrupt(stateId, location, `version ${version} is not a version`)
  if (version > SNAPSHOT_VERSION) return newer(stateId, location, version)
  return undefined
}

const parse = (text: string): { readonly value: unknown } | { readonly error: string } => {
  try {
    return { value: JSON.parse(text) }
  } catch (error) {
    return { error: `not JSON (${errorMessage(error)})` }
  }
}

/**
 * Converts a version-1 snapshot document to the `Snapshot` record it stands for.
 *
 * @category codecs
 * @since 0.2.0
 */
export const decodeLegacyDocument = (
  stateId: string,
  location: string,
  text: string
): Effect.Effect<Snapshot, CheckpointError> =>
  Effect.suspend(() => {
    const parsed = parse(text)
    if ("error" in parsed) return Effect.fail(corrupt(stateId, location, parsed.error))
    const value = parsed.value
    if (!isVersioned(value)) return Effect.fail(corrupt(stateId, location, "it has no version"))
    const bad = checkVersion(stateId, location, value.version)
    if (bad !== undefined) return Effect.fail(bad)
    if (nestsTooDeep(text, value, MAX_DEPTH)) {
      return Effect.fail(corrupt(stateId, location, `it nests deeper than ${MAX_DEPTH} levels`))
    }
    const exit = decodeLegacy(value)
    if (Exit.isFailure(exit)) {
      return Effect.fail(corrupt(stateId, location, oneLine(String(Exit.findErrorOption(exit).pipe(Option.map((e) => e.message), Option.getOrElse(() => "invalid"))))))
    }
    const doc = exit.value
    if (doc.stateId !== stateId) return Effect.fail(corrupt(stateId, location, `it holds execution ${doc.stateId}`))
    const completed: Array<StepCompleted> = doc.completed.flatMap((e) =>
      e.result === undefined || (e.status !== "completed" && e.status !== "recovered") ? [] : [{
        _tag: "StepCompleted" as const,
        address: e.address,
        occurrence: Math.max(1, e.occurrence),
        actor: e.actor,
        kind: e.kind,
        attempt: Math.max(1, e.attempt),
        idempotencyKey: `${stateId}::${e.address}#${e.occurrence}`,
        timestamp: e.timestamp,
        result: e.result,
        ...(e.executionTime === undefined ? {} : { executionTime: e.executionTime }),
        ...(e.detail === undefined ? {} : { detail: e.detail })
      }]
    )
    return Effect.succeed({
      _tag: "Snapshot" as const,
      snapshot: new StateSnapshot({
        version: SNAPSHOT_VERSION,
        stateId,
        createdAt: doc.createdAt,
        updatedAt: doc.updatedAt,
        status: doc.status,
        attempts: 1,
        metadata: doc.metadata,
        completed,
        partialOutputs: doc.partialOutputs,
        storage: doc.storage,
        resumable: true,
        inputs: []
      }, { disableChecks: true })
    })
  })

/**
 * Decodes the lines of a journal: each one a record, the execution's own, of a version this library
 * reads. The error names the line.
 *
 * @category codecs
 * @since 0.2.0
 */
export const decodeJournal = (
  stateId: string,
  location: string,
  texts: ReadonlyArray<string>
): Effect.Effect<ReadonlyArray<JournalRecord>, CheckpointError> => decodeLines(stateId, location, texts, 0, [])

const lineAt = (index: number) => `line ${index + 1}`

// Decodes the lines from `from` on, after the records of the lines before it (`known`).
const decodeLines = (
  stateId: string,
  location: string,
  texts: ReadonlyArray<string>,
  from: number,
  known: ReadonlyArray<JournalRecord>
): Effect.Effect<ReadonlyArray<JournalRecord>, CheckpointError> =>
  Effect.suspend(() => {
    const out: Array<JournalRecord> = known.slice()
    for (let i = from; i < texts.length; i++) {
      const text = texts[i]!
      if (text.trim() === "") continue
      const parsed = parse(text)
      if ("error" in parsed) return Effect.fail(corrupt(stateId, location, `${lineAt(i)}: ${parsed.error}`))
      if (nestsTooDeep(text, parsed.value, MAX_DEPTH)) {
        return Effect.fail(corrupt(stateId, location, `${lineAt(i)}: it nests deeper than ${MAX_DEPTH} levels`))
      }
      const snapshotVersion = (parsed.value as { readonly snapshot?: { readonly version?: unknown } } | null)?.snapshot
        ?.version
      if (typeof snapshotVersion === "number") {
        const bad = checkVersion(stateId, location, snapshotVersion)
        if (bad !== undefined) return Effect.fail(bad)
      }
      const decoded = decodeRecordValue(parsed.value)
      if ("error" in decoded) return Effect.fail(corrupt(stateId, location, `${lineAt(i)}: ${oneLine(decoded.error)}`))
      const record = decoded.record
      const owner = record._tag === "RunStarted"
        ? record.stateId
        : record._tag === "Snapshot"
        ? record.snapshot.stateId
        : stateId
      if (owner !== stateId) return Effect.fail(corrupt(stateId, location, `it holds execution ${owner}`))
      out.push(record)
    }
    return Effect.succeed(out)
  })

const decodeStored = (stateId: string, location: string, stored: Stored) =>
  stored._tag === "Legacy"
    ? Effect.map(
      decodeLegacyDocument(stateId, stored.location ?? location, stored.text),
      (snapshot): ReadonlyArray<JournalRecord> => [snapshot]
    )
    : decodeJournal(stateId, location, stored.texts)

// Whether `texts` starts with the lines of `head`.
const startsWith = (texts: ReadonlyArray<string>, head: ReadonlyArray<string>): boolean => {
  if (texts.length < head.length) return false
  for (let i = 0; i < head.length; i++) {
    if (texts[i] !== head[i]) return false
  }
  return true
}

// -----------------------------------------------------------------------------
// The store over a backend
// -----------------------------------------------------------------------------

/**
 * The `list` line of a snapshot.
 *
 * @category constructors
 * @since 0.1.0
 */
export const summarize = (snapshot: StateSnapshot, lease?: LeaseInfo | undefined): CheckpointSummary => ({
  stateId: snapshot.stateId,
  status: snapshot.status,
  updatedAt: snapshot.updatedAt,
  workflow: snapshot.metadata.workflow,
  reason: snapshot.metadata.interrupt?.reason,
  error: snapshot.metadata.error,
  owner: lease?.owner,
  attempts: snapshot.attempts,
  steps: snapshot.completed.length,
  resumable: snapshot.resumable && snapshot.status !== "completed"
})

/**
 * The order of `list`: newest first, then by state id.
 *
 * @category constructors
 * @since 0.1.0
 */
export const newestFirst = (a: CheckpointSummary, b: CheckpointSummary): number =>
  (b.updatedAt ?? "").localeCompare(a.updatedAt ?? "") || a.stateId.localeCompare(b.stateId)

/**
 * A state with `lost` for a run whose journal says it runs while nobody alive holds its lease.
 *
 * @category constructors
 * @since 0.2.0
 */
export const withLiveness = (snapshot: StateSnapshot, lease: Option.Option<LeaseInfo>): StateSnapshot =>
  (snapshot.status === "running" || snapshot.status === "cancelling") &&
    !(Option.isSome(lease) && lease.value.alive)
    ? new StateSnapshot({ ...snapshot, status: "lost" }, { disableChecks: true })
    : snapshot

/**
 * Builds a `CheckpointStore` over a backend: encoding and decoding, folding, liveness, listing.
 *
 * @category constructors
 * @since 0.2.0
 */
export const make = (backend: Backend): CheckpointStore["Service"] => {
  const io = (stateId: string) => (failure: BackendFailure) =>
    new CheckpointError({
      reason: "io",
      stateId,
      location: backend.where(stateId),
      detail: failure.detail,
      ...(failure.cause === undefined ? {} : { cause: failure.cause })
    })

  // The lines of the journal this store decoded last, with their records. A resume reads a journal
  // more than once (to check it, again under its lease, to compact it); a line is decoded once: what
  // is read again is compared with what was read, and only new lines are decoded.
  let lastRead:
    | { readonly stateId: string; readonly texts: ReadonlyArray<string>; readonly records: ReadonlyArray<JournalRecord> }
    | undefined

  const decode = (stateId: string, stored: Stored): Effect.Effect<ReadonlyArray<JournalRecord>, CheckpointError> => {
    const location = backend.where(stateId)
    if (stored._tag === "Legacy") return decodeStored(stateId, location, stored)
    const known = lastRead !== undefined && lastRead.stateId === stateId && startsWith(stored.texts, lastRead.texts)
      ? lastRead
      : undefined
    return Effect.tap(
      decodeLines(stateId, location, stored.texts, known?.texts.length ?? 0, known?.records ?? []),
      (records) => Effect.sync(() => void (lastRead = { stateId, texts: stored.texts, records }))
    )
  }

  const read = (stateId: string): Effect.Effect<Option.Option<ReadonlyArray<JournalRecord>>, CheckpointError> =>
    Effect.andThen(
      checkId(stateId),
      Effect.flatMap(Effect.mapError(backend.read(stateId), io(stateId)), (stored) =>
        Option.isNone(stored)
          ? Effect.succeedNone
          : Effect.map(decode(stateId, stored.value), Option.some))
    )

  const lease = (stateId: string) => Effect.andThen(checkId(stateId), Effect.mapError(backend.lease(stateId), io(stateId)))

  const load = (stateId: string): Effect.Effect<Option.Option<StateSnapshot>, CheckpointError> =>
    Effect.flatMap(read(stateId), (records) =>
      Option.isNone(records)
        ? Effect.succeedNone
        : Effect.map(lease(stateId), (held) => Option.some(withLiveness(fold(stateId, records.value), held))))

  const list = Effect.gen(function*() {
    const { ids, unreadable } = yield* Effect.mapError(backend.ids, io("*"))
    const rows: Array<CheckpointSummary> = unreadable.map(({ error, name }) => ({
      stateId: name,
      status: "corrupt" as const,
      error
    }))
    for (const stateId of ids) {
      const row = yield* Effect.flatMap(read(stateId), (records) =>
        Option.isNone(records)
          ? Effect.succeedNone
          : Effect.map(lease(stateId), (held) => {
            const snapshot = withLiveness(fold(stateId, records.value), held)
            return Option.some(summarize(snapshot, Option.getOrUndefined(held)))
          })).pipe(
          Effect.catch((error) =>
            Effect.succeed(Option.some<CheckpointSummary>({ stateId, status: "corrupt", error: error.message }))
          )
        )
      if (Option.isSome(row)) rows.push(row.value)
    }
    return rows.sort(newestFirst)
  })

  const compact = (stateId: string): Effect.Effect<void, CheckpointError> =>
    Effect.andThen(
      checkId(stateId),
      backend.compact(stateId, (stored) =>
        Effect.map(decode(stateId, stored), (records) =>
          encodeRecord({ _tag: "Snapshot", snapshot: fold(stateId, records) }))).pipe(
        Effect.mapError((error) => error instanceof CheckpointError ? error : io(stateId)(error))
      )
    )

  return CheckpointStore.of({
    location: backend.location,
    append: (stateId, records) =>
      records.length === 0
        ? checkId(stateId)
        : Effect.andThen(
          checkId(stateId),
          Effect.suspend(() => Effect.mapError(backend.append(stateId, records.map(encodeRecord)), io(stateId)))
        ),
    read,
    load,
    list,
    delete: (stateId) =>
      Effect.andThen(
        checkId(stateId),
        Effect.mapError(
          Effect.andThen(Effect.sync(() => void (lastRead?.stateId === stateId && (lastRead = undefined))), backend.remove(stateId)),
          io(stateId)
        )
      ),
    compact,
    acquire: (stateId, options) =>
      Effect.andThen(
        checkId(stateId),
        Effect.mapError(backend.acquire(stateId, options), (failure) =>
          "owner" in failure
            ? new CheckpointError({ reason: "owned", stateId, location: backend.where(stateId), detail: failure.owner })
            : io(stateId)(failure))
      ),
    lease,
    stamp: (stateId) => Effect.andThen(checkId(stateId), Effect.mapError(backend.stamp(stateId), io(stateId)))
  })
}

// -----------------------------------------------------------------------------
// Memory
// -----------------------------------------------------------------------------

/**
 * A store over maps of journals: what `layerMemory` and tests build on. A lease is alive while its
 * scope is open.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeMemory = (
  journals: Map<string, Array<string>> = new Map(),
  legacy: Map<string, string> = new Map()
): CheckpointStore["Service"] => {
  const leases = new Map<string, string>()
  const stored = (stateId: string): Option.Option<Stored> => {
    const texts = journals.get(stateId)
    if (texts !== undefined) return Option.some({ _tag: "Journal", texts: texts.slice() })
    const text = legacy.get(stateId)
    return text === undefined ? Option.none() : Option.some({ _tag: "Legacy", text })
  }
  return make({
    location: "memory",
    where: (stateId) => `memory:${stateId}`,
    append: (stateId, texts) =>
      Effect.suspend(() => {
        const existing = journals.get(stateId)
        if (existing !== undefined) return Effect.sync(() => void existing.push(...texts))
        const old = legacy.get(stateId)
        if (old === undefined) return Effect.sync(() => void journals.set(stateId, [...texts]))
        // a version-1 document becomes the head of the journal the first time it is appended to
        return decodeLegacyDocument(stateId, `memory:${stateId}`, old).pipe(
          Effect.mapError((error): BackendFailure => ({ detail: error.message, cause: error })),
          Effect.map((snapshot) => {
            journals.set(stateId, [encodeRecord(snapshot), ...texts])
            legacy.delete(stateId)
          })
        )
      }),
    read: (stateId) => Effect.sync(() => stored(stateId)),
    compact: (stateId, compacted) =>
      Effect.suspend(() => {
        const current = stored(stateId)
        if (Option.isNone(current)) return Effect.void
        const count = current.value._tag === "Journal" ? current.value.texts.length : 0
        return Effect.map(compacted(current.value), (line) => {
          const now = journals.get(stateId) ?? []
          // records appended meanwhile stay after the snapshot
          journals.set(stateId, [line, ...now.slice(count)])
          legacy.delete(stateId)
        })
      }),
    remove: (stateId) =>
      Effect.sync(() => {
        journals.delete(stateId)
        legacy.delete(stateId)
        leases.delete(stateId)
      }),
    ids: Effect.sync(() => ({ ids: Array.from(new Set([...journals.keys(), ...legacy.keys()])), unreadable: [] })),
    acquire: (stateId, options) =>
      Effect.acquireRelease(
        Effect.suspend(() => {
          const holder = leases.get(stateId)
          if (holder !== undefined && holder !== options.owner && options.force !== true) {
            return Effect.fail({ owner: holder })
          }
          leases.set(stateId, options.owner)
          return Effect.succeed<Lease>({ stateId, owner: options.owner })
        }),
        (held) => Effect.sync(() => void (leases.get(stateId) === held.owner && leases.delete(stateId)))
      ),
    lease: (stateId) =>
      Effect.sync(() => Option.map(Option.fromUndefinedOr(leases.get(stateId)), (owner) => ({ owner, alive: true }))),
    stamp: (stateId) =>
      Effect.sync(() => {
        const texts = journals.get(stateId)
        if (texts !== undefined) return Option.some(`${texts.length}:${texts[0]?.length ?? 0}`)
        return legacy.has(stateId) ? Option.some("legacy") : Option.none()
      })
  })
}

// -----------------------------------------------------------------------------
// File system
// -----------------------------------------------------------------------------

/**
 * Options of {@link makeFileSystem}.
 *
 * **Details**
 *
 * - `leaseTtl`: a lease whose heartbeat is older than this is dead (default 5 seconds). On the same
 *   host, a lease whose process is gone (`kill -9`) is dead at once.
 * - `heartbeatInterval`: how often a held lease is refreshed (default 1 second).
 * - `host`: this machine's name in lease files (default: the kernel's host name, else `localhost`).
 *
 * @category options
 * @since 0.2.0
 */
export interface FileSystemOptions {
  readonly leaseTtl?: Duration.Input | undefined
  readonly heartbeatInterval?: Duration.Input | undefined
  readonly host?: string | undefined
}

const LeaseFile = Schema.Struct({ owner: Schema.String, pid: Schema.Int, host: Schema.String, acquiredAt: IsoTimestamp })
const decodeLeaseFile = Schema.decodeUnknownOption(Schema.fromJsonString(LeaseFile))

const isNotFound = (error: PlatformError.PlatformError) => error.reason._tag === "NotFound"
const isExists = (error: PlatformError.PlatformError) => error.reason._tag === "AlreadyExists"
// What the system said ("EFBIG: file too large, write"), rather than the platform's summary of the
// call ("Unknown: FileSystem.writeAll (22)"), when the failure carries an errno.
const platformDetail = (error: PlatformError.PlatformError): string => {
  const cause = error.reason.cause
  return cause instanceof Error && typeof (cause as { code?: unknown }).code === "string" ? oneLine(cause.message) : error.message
}
const failure = (error: PlatformError.PlatformError): BackendFailure => ({ detail: platformDetail(error), cause: error })

const encoder = new TextEncoder()

/**
 * A store of files in `directory` (created when missing):
 *
 * - `<stateId>.journal`: the journal, one JSON record per line, appended and synced (`fsync`) per
 *   append. A torn last line (a crash during a write) is ignored, and cut before the next append.
 * - `<stateId>.lock.<n>`: the lease, generation `n` (created exclusively, so of two racing takers
 *   one wins): owner, process id and host; its modification time is the heartbeat.
 * - `<stateId>.json`: a version-1 snapshot, read as a compacted journal (and folded into the journal
 *   at the first append).
 *
 * Compaction writes `.<stateId>.<pid>.<random>.tmp`, syncs it and renames it over the journal; a
 * temporary file left by a killed process is removed when its execution's lease is next taken.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeFileSystem = Effect.fnUntraced(function*(directory: string, options: FileSystemOptions = {}) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const dir = path.resolve(directory)
  const leaseTtl = Duration.toMillis(Duration.fromInputUnsafe(options.leaseTtl ?? "5 seconds"))
  const heartbeat = Duration.fromInputUnsafe(options.heartbeatInterval ?? "1 second")
  const dirError = (error: PlatformError.PlatformError) =>
    new CheckpointError({ reason: "io", stateId: "*", location: dir, detail: platformDetail(error), cause: error })
  yield* ensureDirectory(fs, path, dir).pipe(Effect.mapError(dirError))
  const host = options.host ??
    (yield* fs.readFileString("/proc/sys/kernel/hostname").pipe(
      Effect.map((text) => text.trim() || "localhost"),
      Effect.orElseSucceed(() => "localhost")
    ))
  const pid = currentPid()

  const journalOf = (stateId: string) => path.join(dir, `${stateId}.journal`)
  const legacyOf = (stateId: string) => path.join(dir, `${stateId}.json`)
  const lockPattern = (stateId: string) => new RegExp(`^${stateId.replace(/[.]/g, "\\.")}\\.lock\\.(\\d+)$`)
  const tmpOf = (stateId: string) =>
    path.join(dir, `.${stateId}.${pid}.${globalThis.crypto.randomUUID().slice(0, 8)}.tmp`)

  const readOptional = (file: string): Effect.Effect<Option.Option<string>, PlatformError.PlatformError> =>
    fs.readFileString(file).pipe(
      Effect.map(Option.some),
      Effect.catchIf(isNotFound, () => Effect.succeed(Option.none<string>()))
    )

  // The complete lines of a journal: what follows the last newline is a torn write.
  const readStored = (stateId: string): Effect.Effect<Option.Option<Stored>, PlatformError.PlatformError> =>
    Effect.flatMap(readOptional(journalOf(stateId)), (text) => {
      if (Option.isSome(text)) {
        const lines = text.value.split("\n")
        lines.pop()
        return Effect.succeed(Option.some<Stored>({ _tag: "Journal", texts: lines }))
      }
      return Effect.map(
        readOptional(legacyOf(stateId)),
        Option.map((legacy): Stored => ({ _tag: "Legacy", text: legacy, location: legacyOf(stateId) }))
      )
    })

  // Replaces a file's content atomically: temporary file, sync, rename.
  const replace = (file: string, tmp: string, text: string) =>
    Effect.scoped(Effect.gen(function*() {
      const handle = yield* fs.open(tmp, { flag: "w" })
      yield* handle.writeAll(encoder.encode(text))
      yield* handle.sync
    })).pipe(
      Effect.andThen(fs.rename(tmp, file)),
      Effect.tapError(() => Effect.ignore(fs.remove(tmp)))
    )

  // Before the first append: a version-1 document becomes the journal's head; a torn tail is cut.
  const prepare = (stateId: string) =>
    Effect.gen(function*() {
      const file = journalOf(stateId)
      const info = yield* fs.stat(file).pipe(Effect.map(Option.some), Effect.catchIf(isNotFound, () => Effect.succeedNone))
      if (Option.isNone(info)) {
        const legacy = yield* readOptional(legacyOf(stateId))
        if (Option.isSome(legacy)) {
          const snapshot = yield* decodeLegacyDocument(stateId, legacyOf(stateId), legacy.value)
          yield* replace(file, tmpOf(stateId), `${encodeRecord(snapshot)}\n`)
          yield* fs.remove(legacyOf(stateId)).pipe(Effect.catchIf(isNotFound, () => Effect.void))
        }
        return
      }
      const size = Number(info.value.size)
      if (size === 0) return
      const last = yield* Effect.scoped(Effect.flatMap(
        fs.open(file, { flag: "r" }),
        (handle) => handle.readAlloc(1, { position: BigInt(size - 1) })
      ))
      if (Option.isSome(last) && last.value[0] === 10) return
      const text = yield* fs.readFileString(file)
      yield* fs.truncate(file, encoder.encode(text.slice(0, text.lastIndexOf("\n") + 1)).length)
    })

  // Journals whose lease this store holds keep their file open for appending until it is released.
  const held = new Set<string>()
  const open = new Map<string, { readonly file: FileSystem.File; readonly scope: Scope.Closeable }>()
  const close = (stateId: string) =>
    Effect.suspend(() => {
      const o = open.get(stateId)
      if (o === undefined) return Effect.void
      open.delete(stateId)
      return Scope.close(o.scope, Exit.void)
    })

  const append = (stateId: string, texts: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      let o = open.get(stateId)
      if (o === undefined) {
        yield* prepare(stateId)
        const scope = yield* Scope.make()
        const file = yield* Scope.provide(fs.open(journalOf(stateId), { flag: "a" }), scope).pipe(
          Effect.tapError(() => Scope.close(scope, Exit.void))
        )
        o = { file, scope }
        if (held.has(stateId)) open.set(stateId, o)
      }
      const current = o
      yield* current.file.writeAll(encoder.encode(texts.join("\n") + "\n")).pipe(
        Effect.andThen(current.file.sync),
        // a failed write may have left a torn line: the next append prepares the file again
        Effect.tapError(() => close(stateId)),
        Effect.ensuring(held.has(stateId) ? Effect.void : Scope.close(current.scope, Exit.void))
      )
    }).pipe(
      Effect.mapError((error): BackendFailure => error instanceof CheckpointError ? { detail: error.message, cause: error } : failure(error)),
      Effect.uninterruptible
    )

  const compact = <E>(stateId: string, compacted: (stored: Stored) => Effect.Effect<string, E>) =>
    Effect.gen(function*() {
      // the open file would go on appending to the replaced one
      yield* close(stateId)
      const stored = yield* Effect.mapError(readStored(stateId), failure)
      if (Option.isNone(stored)) return
      const line = yield* compacted(stored.value)
      yield* Effect.mapError(replace(journalOf(stateId), tmpOf(stateId), `${line}\n`), failure)
      yield* fs.remove(legacyOf(stateId)).pipe(Effect.catchIf(isNotFound, () => Effect.void), Effect.mapError(failure))
    }).pipe(Effect.uninterruptible)

  const names = Effect.mapError(fs.readDirectory(dir), failure)

  const ids = Effect.map(names, (all) => {
    const found = new Set<string>()
    const unreadable = new Set<string>()
    for (const name of all) {
      if (name.startsWith(".")) continue
      const id = name.endsWith(".journal") ? name.slice(0, -8) : name.endsWith(".json") ? name.slice(0, -5) : undefined
      if (id === undefined) continue
      if (isStateId(id)) found.add(id)
      else unreadable.add(name)
    }
    return { ids: Array.from(found), unreadable: Array.from(unreadable, notAStateId) }
  })

  // --- leases ----------------------------------------------------------------------

  interface LockFile {
    readonly name: string
    readonly generation: number
  }

  const locks = (stateId: string) =>
    Effect.map(names, (all) => {
      const pattern = lockPattern(stateId)
      const out: Array<LockFile> = []
      for (const name of all) {
        const match = pattern.exec(name)
        if (match !== null) out.push({ name, generation: Number(match[1]) })
      }
      return out.sort((a, b) => a.generation - b.generation)
    })

  const inspect = (lock: LockFile) =>
    Effect.gen(function*() {
      const file = path.join(dir, lock.name)
      const [text, info] = yield* Effect.all([fs.readFileString(file), fs.stat(file)])
      const now = yield* Clock.currentTimeMillis
      const beat = Option.getOrElse(Option.map(info.mtime, (d) => d.getTime()), () => 0)
      const content = decodeLeaseFile(text)
      if (Option.isNone(content)) {
        // a lease file being written right now, or garbage: alive until its heartbeat is stale
        return { owner: "unknown", alive: now - beat < leaseTtl, heartbeatAt: isoOf(beat) } satisfies LeaseInfo
      }
      const sameHost = content.value.host === host
      const processAlive = sameHost ? isProcessAlive(content.value.pid) : undefined
      return {
        owner: content.value.owner,
        alive: now - beat < leaseTtl && processAlive !== false,
        heartbeatAt: isoOf(beat)
      } satisfies LeaseInfo
    }).pipe(
      Effect.map(Option.some),
      Effect.catchIf(isNotFound, () => Effect.succeedNone),
      Effect.mapError(failure)
    )

  const lease = (stateId: string): Effect.Effect<Option.Option<LeaseInfo>, BackendFailure> =>
    Effect.flatMap(locks(stateId), (all) => {
      const last = all.at(-1)
      return last === undefined ? Effect.succeedNone : inspect(last)
    })

  const acquire = (stateId: string, acquireOptions: AcquireOptions) =>
    Effect.gen(function*() {
      const all = yield* locks(stateId)
      const last = all.at(-1)
      if (last !== undefined) {
        const info = yield* inspect(last)
        if (Option.isSome(info) && info.value.alive && acquireOptions.force !== true) {
          return yield* Effect.fail({ owner: info.value.owner })
        }
      }
      const generation = (last?.generation ?? 0) + 1
      const name = `${stateId}.lock.${generation}`
      const file = path.join(dir, name)
      const content = JSON.stringify({ owner: acquireOptions.owner, pid, host, acquiredAt: isoOf(yield* Clock.currentTimeMillis) })
      yield* fs.writeFileString(file, content, { flag: "wx" }).pipe(
        Effect.catchIf(isExists, () =>
          Effect.flatMap(
            inspect({ name, generation }).pipe(Effect.orElseSucceed(() => Option.none<LeaseInfo>())),
            (info) => Effect.fail({ owner: Option.match(info, { onNone: () => "another process", onSome: (i) => i.owner }) })
          )),
        Effect.mapError((error) => "owner" in error ? error : failure(error))
      )
      // the lease is ours: older lease files and temporary files of dead compactions go
      for (const old of all) yield* Effect.ignore(fs.remove(path.join(dir, old.name)))
      const tmpPrefix = `.${stateId}.`
      for (const other of yield* names) {
        if (other.startsWith(tmpPrefix) && other.endsWith(".tmp") && !other.includes(`.${pid}.`)) {
          yield* Effect.ignore(fs.remove(path.join(dir, other)))
        }
      }
      held.add(stateId)
      yield* Effect.addFinalizer(() =>
        Effect.andThen(Effect.sync(() => held.delete(stateId)), Effect.andThen(close(stateId), Effect.ignore(fs.remove(file))))
      )
      yield* Effect.sleep(heartbeat).pipe(
        Effect.andThen(Effect.flatMap(Clock.currentTimeMillis, (now) => fs.utimes(file, new Date(now), new Date(now)))),
        Effect.catch((error) => Effect.logWarning("Lease heartbeat failed", error.message)),
        Effect.forever,
        Effect.forkScoped
      )
      return { stateId, owner: acquireOptions.owner } satisfies Lease
    }).pipe(Effect.uninterruptible)

  const remove = (stateId: string) =>
    Effect.gen(function*() {
      yield* close(stateId)
      for (const file of [journalOf(stateId), legacyOf(stateId)]) {
        yield* fs.remove(file).pipe(Effect.catchIf(isNotFound, () => Effect.void))
      }
      for (const lock of yield* locks(stateId)) {
        yield* fs.remove(path.join(dir, lock.name)).pipe(Effect.catchIf(isNotFound, () => Effect.void))
      }
    }).pipe(Effect.mapError((error) => "detail" in error ? error : failure(error)))

  const stamp = (stateId: string): Effect.Effect<Option.Option<string>, BackendFailure> =>
    Effect.gen(function*() {
      for (const file of [journalOf(stateId), legacyOf(stateId)]) {
        const info = yield* fs.stat(file).pipe(
          Effect.map(Option.some),
          Effect.catchIf(isNotFound, () => Effect.succeed(Option.none<FileSystem.File.Info>()))
        )
        if (Option.isSome(info)) {
          const mtime = Option.getOrElse(Option.map(info.value.mtime, (d) => d.getTime()), () => 0)
          return Option.some(`${info.value.size}:${mtime}`)
        }
      }
      return Option.none()
    }).pipe(Effect.mapError(failure))

  return make({
    location: dir,
    where: (stateId) => journalOf(stateId),
    stamp,
    append,
    read: (stateId) => Effect.mapError(readStored(stateId), failure),
    compact,
    remove,
    ids,
    acquire,
    lease
  })
})

/**
 * Creates `dir` and its missing parents one level at a time. (Node's recursive `mkdir` spins forever
 * on paths such as `/proc/nope`; creating each level itself fails at once with the real error.)
 */
const ensureDirectory = (
  fs: FileSystem.FileSystem,
  path: Path.Path,
  dir: string
): Effect.Effect<void, PlatformError.PlatformError> =>
  Effect.gen(function*() {
    const missing: Array<string> = []
    let current = dir
    while (true) {
      const info = yield* fs.stat(current).pipe(Effect.map(Option.some), Effect.catchIf(isNotFound, () => Effect.succeedNone))
      if (Option.isSome(info)) {
        if (info.value.type !== "Directory") {
          return yield* fs.makeDirectory(dir) // fails with the real reason (it is a file)
        }
        break
      }
      missing.push(current)
      const parent = path.dirname(current)
      if (parent === current) break
      current = parent
    }
    for (const level of missing.reverse()) {
      yield* fs.makeDirectory(level).pipe(Effect.catchIf(isExists, () => Effect.void))
    }
  })
