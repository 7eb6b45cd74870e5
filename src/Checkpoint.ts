/**
 * Checkpoints: the snapshot of an execution and the stores that keep it.
 *
 * A `StateSnapshot` holds everything a later run needs to resume without redoing work: the
 * execution's status and interrupt metadata, its event history, the journal of completed events
 * (replayed by address + occurrence), the partial outputs of interrupted streams and the key/value
 * storage. `CheckpointStore` saves, loads, lists and deletes them; `layerMemory` keeps them in memory,
 * `layerFileSystem(dir)` writes one JSON document per state id, atomically.
 *
 * @since 0.1.0
 */
import { Context, Effect, FileSystem, Layer, Option, Path, type PlatformError, Schema } from "effect"
import type { Redis } from "effect/persistence"
import { ExecutionEvent } from "./EventBus.ts"
import { isStateId, StateId } from "./ExecutionState.ts"
import { InterruptSignal, IsoTimestamp } from "./Interrupt.ts"
// the Redis store builds on this module; used lazily (in a function), so the import cycle is safe
import * as RedisStore from "./redis/RedisStore.ts"

// -----------------------------------------------------------------------------
// Snapshot
// -----------------------------------------------------------------------------

/**
 * The snapshot format this version writes and reads.
 *
 * @category models
 * @since 0.1.0
 */
export const SNAPSHOT_VERSION = 1

/**
 * The status of a saved execution.
 *
 * @category models
 * @since 0.1.0
 */
export const SnapshotStatus = Schema.Literals(["running", "interrupted", "completed", "failed"])

/**
 * @category models
 * @since 0.1.0
 */
export type SnapshotStatus = typeof SnapshotStatus.Type

/**
 * What a snapshot says about its run: the workflow and its input, the interrupt, the error.
 *
 * @category models
 * @since 0.1.0
 */
export const SnapshotMetadata = Schema.Struct({
  workflow: Schema.optionalKey(Schema.String),
  input: Schema.optionalKey(Schema.Json),
  interrupt: Schema.optionalKey(InterruptSignal),
  error: Schema.optionalKey(Schema.String),
  eventsDropped: Schema.optionalKey(Schema.Int)
})

/**
 * @category models
 * @since 0.1.0
 */
export interface SnapshotMetadata extends Schema.Schema.Type<typeof SnapshotMetadata> {}

const emptyRecord = Effect.succeed({})
const emptyArray = Effect.succeed([])

/**
 * An execution's checkpoint.
 *
 * **Details**
 *
 * - `events`: the event history as the bus retained it (immutable records).
 * - `completed`: the journal — completed and recovered events with their JSON results — which a
 *   resume replays by address + occurrence.
 * - `partialOutputs`: what interrupted streams had produced, by `address#occurrence`.
 * - `storage`: the execution's key/value storage.
 *
 * @category models
 * @since 0.1.0
 */
export class StateSnapshot extends Schema.Class<StateSnapshot>("agent-interrupt/StateSnapshot")({
  version: Schema.Int,
  stateId: StateId,
  createdAt: IsoTimestamp,
  updatedAt: IsoTimestamp,
  status: SnapshotStatus,
  metadata: SnapshotMetadata,
  events: Schema.Array(ExecutionEvent).pipe(Schema.withDecodingDefaultKey(emptyArray)),
  completed: Schema.Array(ExecutionEvent).pipe(Schema.withDecodingDefaultKey(emptyArray)),
  partialOutputs: Schema.Record(Schema.String, Schema.Json).pipe(Schema.withDecodingDefaultKey(emptyRecord)),
  storage: Schema.Record(Schema.String, Schema.Json).pipe(Schema.withDecodingDefaultKey(emptyRecord))
}) {}

/**
 * `StateSnapshot` as a JSON document.
 *
 * @category codecs
 * @since 0.1.0
 */
export const StateSnapshotJson = Schema.fromJsonString(StateSnapshot)

// -----------------------------------------------------------------------------
// Errors
// -----------------------------------------------------------------------------

/**
 * Why a checkpoint operation failed.
 *
 * - `not_found`: no checkpoint for that state id.
 * - `corrupt`: the stored document is not a snapshot (torn, foreign, edited).
 * - `unsupported_version`: written by a newer version of this library.
 * - `invalid_state_id`: an id that is not safe as a file name or key (`../x`, empty, too long).
 * - `not_resumable`: the run already completed.
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
  "io"
])

/**
 * A checkpoint could not be saved, loaded, listed, deleted or resumed.
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
      case "io":
        return `Checkpoint storage failed for ${this.stateId}${where}: ${this.detail}`
    }
  }
}

const invalidId = (stateId: string) =>
  new CheckpointError({
    reason: "invalid_state_id",
    stateId,
    detail: "use 1 to 128 letters, digits, '.', '_' or '-', not starting with '.'"
  })

const checkId = (stateId: string): Effect.Effect<void, CheckpointError> =>
  isStateId(stateId) ? Effect.void : Effect.fail(invalidId(stateId))

// -----------------------------------------------------------------------------
// Decoding
// -----------------------------------------------------------------------------

const VersionProbe = Schema.fromJsonString(Schema.Struct({ version: Schema.Number }))
const decodeProbe = Schema.decodeUnknownEffect(VersionProbe)
const decodeSnapshot = Schema.decodeUnknownEffect(StateSnapshotJson)
const encodeSnapshot = Schema.encodeEffect(StateSnapshotJson)

/**
 * Decodes a stored snapshot document, telling a corrupt or foreign document from one written by a
 * newer version. `location` names the file or key in the error.
 *
 * @category codecs
 * @since 0.1.0
 */
export const decodeDocument = (
  stateId: string,
  location: string,
  text: string
): Effect.Effect<StateSnapshot, CheckpointError> =>
  decodeProbe(text).pipe(
    Effect.mapError((error) =>
      new CheckpointError({ reason: "corrupt", stateId, location, detail: error.message, cause: error })
    ),
    Effect.flatMap(({ version }) =>
      version > SNAPSHOT_VERSION
        ? Effect.fail(
          new CheckpointError({
            reason: "unsupported_version",
            stateId,
            location,
            detail: `has version ${version}; this version of agent-interrupt reads up to ${SNAPSHOT_VERSION}`
          })
        )
        : decodeSnapshot(text).pipe(
          Effect.mapError((error) =>
            new CheckpointError({ reason: "corrupt", stateId, location, detail: error.message, cause: error })
          )
        )
    ),
    Effect.flatMap((snapshot) =>
      snapshot.stateId === stateId
        ? Effect.succeed(snapshot)
        : Effect.fail(
          new CheckpointError({
            reason: "corrupt",
            stateId,
            location,
            detail: `it holds execution ${snapshot.stateId}`
          })
        )
    )
  )

/**
 * Encodes a snapshot as its JSON document.
 *
 * @category codecs
 * @since 0.1.0
 */
export const encodeDocument = (snapshot: StateSnapshot): Effect.Effect<string, CheckpointError> =>
  encodeSnapshot(snapshot).pipe(
    Effect.mapError((error) =>
      new CheckpointError({ reason: "corrupt", stateId: snapshot.stateId, detail: error.message, cause: error })
    )
  )

// -----------------------------------------------------------------------------
// Store
// -----------------------------------------------------------------------------

/**
 * One line of `CheckpointStore.list`.
 *
 * @category models
 * @since 0.1.0
 */
export interface CheckpointSummary {
  readonly stateId: string
  /** The snapshot's status, or `corrupt` when its document does not decode. */
  readonly status: SnapshotStatus | "corrupt"
  readonly updatedAt?: string | undefined
  readonly workflow?: string | undefined
  readonly reason?: string | undefined
  readonly error?: string | undefined
}

/**
 * Where checkpoints are kept.
 *
 * @category services
 * @since 0.1.0
 */
export class CheckpointStore extends Context.Service<CheckpointStore, {
  /** Where the store keeps its documents, for messages (`memory`, a directory, a Redis prefix). */
  readonly location: string
  /** Saves a snapshot, replacing the previous one atomically. */
  readonly save: (snapshot: StateSnapshot) => Effect.Effect<void, CheckpointError>
  /** Loads a snapshot; `None` when there is none. */
  readonly load: (stateId: string) => Effect.Effect<Option.Option<StateSnapshot>, CheckpointError>
  /** Every stored checkpoint, newest first. */
  readonly list: Effect.Effect<ReadonlyArray<CheckpointSummary>, CheckpointError>
  /** Deletes a checkpoint (no error when there is none). */
  readonly delete: (stateId: string) => Effect.Effect<void, CheckpointError>
}>()("agent-interrupt/CheckpointStore") {
  /**
   * Checkpoints in memory, as JSON documents (so they round-trip exactly as on disk). Each build is
   * an empty store.
   */
  static readonly layerMemory: Layer.Layer<CheckpointStore> = Layer.sync(CheckpointStore, () => makeMemory())

  /**
   * One JSON document per state id in `directory` (created when missing): `<stateId>.json`, written
   * to a temporary file and renamed, so a crash or kill during a save leaves the previous snapshot.
   */
  static readonly layerFileSystem = (
    directory: string
  ): Layer.Layer<CheckpointStore, CheckpointError, FileSystem.FileSystem | Path.Path> =>
    Layer.effect(CheckpointStore, makeFileSystem(directory))

  /**
   * Checkpoints in Redis (`{prefix}checkpoint:{stateId}`, the same JSON documents as the file store),
   * so a run interrupted on one machine resumes on another. Needs Effect's `Redis` service, e.g.
   * `RedisConnection.layerConfig()` from `agent-interrupt/redis`.
   */
  static readonly layerRedis = (
    options?: RedisStore.RedisStoreOptions
  ): Layer.Layer<CheckpointStore, never, Redis.Redis> => RedisStore.layerRedis(options)
}

/**
 * The `list` line of a snapshot.
 *
 * @category constructors
 * @since 0.1.0
 */
export const summarize = (snapshot: StateSnapshot): CheckpointSummary => ({
  stateId: snapshot.stateId,
  status: snapshot.status,
  updatedAt: snapshot.updatedAt,
  workflow: snapshot.metadata.workflow,
  reason: snapshot.metadata.interrupt?.reason
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
 * A store over any map of documents: what `layerMemory` and tests build on.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeMemory = (documents: Map<string, string> = new Map()): CheckpointStore["Service"] => ({
  location: "memory",
  save: (snapshot) =>
    Effect.andThen(
      checkId(snapshot.stateId),
      Effect.flatMap(encodeDocument(snapshot), (text) => Effect.sync(() => void documents.set(snapshot.stateId, text)))
    ),
  load: (stateId) =>
    Effect.andThen(
      checkId(stateId),
      Effect.suspend(() => {
        const text = documents.get(stateId)
        return text === undefined
          ? Effect.succeedNone
          : Effect.map(decodeDocument(stateId, `memory:${stateId}`, text), Option.some)
      })
    ),
  list: Effect.suspend(() =>
    Effect.forEach(documents, ([stateId, text]) =>
      decodeDocument(stateId, `memory:${stateId}`, text).pipe(
        Effect.map(summarize),
        Effect.catch((error) => Effect.succeed<CheckpointSummary>({ stateId, status: "corrupt", error: error.message }))
      ))
  ).pipe(Effect.map((rows) => rows.sort(newestFirst))),
  delete: (stateId) => Effect.andThen(checkId(stateId), Effect.sync(() => void documents.delete(stateId)))
})

const isNotFound = (error: PlatformError.PlatformError) =>
  error.reason._tag === "NotFound"

/**
 * A store writing `<stateId>.json` documents into `directory`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeFileSystem = Effect.fnUntraced(function*(directory: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const dir = path.resolve(directory)
  const io = (stateId: string, location: string) => (cause: PlatformError.PlatformError) =>
    new CheckpointError({ reason: "io", stateId, location, detail: cause.message, cause })
  yield* fs.makeDirectory(dir, { recursive: true }).pipe(Effect.mapError(io("*", dir)))
  const fileOf = (stateId: string) => path.join(dir, `${stateId}.json`)
  const unique = globalThis.crypto.randomUUID().slice(0, 8)
  let counter = 0

  const save = (snapshot: StateSnapshot): Effect.Effect<void, CheckpointError> =>
    Effect.gen(function*() {
      yield* checkId(snapshot.stateId)
      const file = fileOf(snapshot.stateId)
      const text = yield* encodeDocument(snapshot)
      // A unique temporary name per save: concurrent saves never write into the same file, and the
      // rename makes each one appear whole or not at all.
      const tmp = path.join(dir, `.${snapshot.stateId}.${unique}.${++counter}.tmp`)
      yield* fs.writeFileString(tmp, text).pipe(
        Effect.andThen(fs.rename(tmp, file)),
        Effect.mapError(io(snapshot.stateId, file)),
        Effect.tapError(() => Effect.ignore(fs.remove(tmp)))
      )
    }).pipe(Effect.uninterruptible)

  const load = (stateId: string): Effect.Effect<Option.Option<StateSnapshot>, CheckpointError> =>
    Effect.gen(function*() {
      yield* checkId(stateId)
      const file = fileOf(stateId)
      const text = yield* fs.readFileString(file).pipe(
        Effect.map(Option.some),
        Effect.catchIf(isNotFound, () => Effect.succeedNone),
        Effect.mapError(io(stateId, file))
      )
      if (Option.isNone(text)) return Option.none()
      return Option.some(yield* decodeDocument(stateId, file, text.value))
    })

  const list = Effect.gen(function*() {
    const names = yield* fs.readDirectory(dir).pipe(Effect.mapError(io("*", dir)))
    const ids = names.filter((name) => name.endsWith(".json") && !name.startsWith(".")).map((name) =>
      name.slice(0, -5)
    ).filter(isStateId)
    const rows = yield* Effect.forEach(ids, (stateId) =>
      load(stateId).pipe(
        Effect.map((snapshot): Option.Option<CheckpointSummary> => Option.map(snapshot, summarize)),
        Effect.catch((error) =>
          Effect.succeed(Option.some<CheckpointSummary>({ stateId, status: "corrupt", error: error.message }))
        )
      ))
    return rows.flatMap((row) => Option.isSome(row) ? [row.value] : []).sort(newestFirst)
  })

  const remove = (stateId: string): Effect.Effect<void, CheckpointError> =>
    Effect.andThen(
      checkId(stateId),
      fs.remove(fileOf(stateId)).pipe(
        Effect.catchIf(isNotFound, () => Effect.void),
        Effect.mapError(io(stateId, fileOf(stateId)))
      )
    )

  return CheckpointStore.of({ location: dir, save, load, list, delete: remove })
})
