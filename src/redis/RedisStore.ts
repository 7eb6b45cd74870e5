/**
 * A `CheckpointStore` in Redis, so that a run interrupted on one machine resumes on another.
 *
 * Each snapshot is one JSON document (the same document the file store writes) under
 * `{prefix}checkpoint:{stateId}`, and the set `{prefix}checkpoints` indexes the state ids. A save
 * writes both in one script, so a reader sees the previous snapshot or the new one, never half of
 * one.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Layer, Option } from "effect"
import { Redis } from "effect/persistence"
import {
  CheckpointError,
  CheckpointStore,
  type CheckpointSummary,
  decodeDocument,
  encodeDocument,
  newestFirst,
  type StateSnapshot,
  summarize
} from "../Checkpoint.ts"
import { isStateId } from "../ExecutionState.ts"
import { positiveMillis } from "../internal/time.ts"
import * as Keys from "./Keys.ts"

/**
 * Options of {@link layerRedis}.
 *
 * **Details**
 *
 * - `prefix`: the key prefix (default: the current `KeyPrefix`, `agent-interrupt:` unless set).
 * - `ttl`: expire a checkpoint this long after its last save (default: never).
 *
 * @category options
 * @since 0.1.0
 */
export interface RedisStoreOptions {
  readonly prefix?: string | undefined
  readonly ttl?: Duration.Input | undefined
}

// KEYS: document, index; ARGV: state id, document, ttl ms (0: none)
const saveScript = Redis.script(
  (k: Keys.Keys, stateId: string, text: string, ttl: number) => [k.checkpoint(stateId), k.checkpoints, stateId, text, ttl],
  {
    numberOfKeys: 2,
    lua: `
if ARGV[3] == '0' then redis.call('SET', KEYS[1], ARGV[2]) else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
redis.call('SADD', KEYS[2], ARGV[1])
return 1
`
  }
)

// KEYS: document, index; ARGV: state id
const deleteScript = Redis.script(
  (k: Keys.Keys, stateId: string) => [k.checkpoint(stateId), k.checkpoints, stateId],
  {
    numberOfKeys: 2,
    lua: `
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return 1
`
  }
)

/**
 * Builds a Redis checkpoint store.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(options: RedisStoreOptions = {}) {
  const redis = yield* Redis.Redis
  const k = yield* Keys.resolve(options.prefix)
  const ttl = options.ttl === undefined ? 0 : positiveMillis(options.ttl)
  const location = `redis:${k.checkpoint("")}`
  const where = (stateId: string) => `redis:${k.checkpoint(stateId)}`

  const io = (stateId: string) => (error: Redis.RedisError) =>
    new CheckpointError({
      reason: "io",
      stateId,
      location: where(stateId),
      detail: error.cause instanceof Error ? error.cause.message : String(error.cause),
      cause: error.cause
    })

  const checkId = (stateId: string): Effect.Effect<void, CheckpointError> =>
    isStateId(stateId)
      ? Effect.void
      : Effect.fail(
        new CheckpointError({
          reason: "invalid_state_id",
          stateId,
          detail: "use 1 to 128 letters, digits, '.', '_' or '-', not starting with '.'"
        })
      )

  const save = (snapshot: StateSnapshot): Effect.Effect<void, CheckpointError> =>
    Effect.gen(function*() {
      yield* checkId(snapshot.stateId)
      const text = yield* encodeDocument(snapshot)
      yield* redis.eval(saveScript)(k, snapshot.stateId, text, ttl).pipe(Effect.mapError(io(snapshot.stateId)))
    }).pipe(Effect.uninterruptible)

  const read = (stateId: string) =>
    redis.send<string | null>("GET", k.checkpoint(stateId)).pipe(Effect.mapError(io(stateId)))

  const load = (stateId: string): Effect.Effect<Option.Option<StateSnapshot>, CheckpointError> =>
    Effect.gen(function*() {
      yield* checkId(stateId)
      const text = yield* read(stateId)
      if (text === null) return Option.none()
      return Option.some(yield* decodeDocument(stateId, where(stateId), text))
    })

  const list: Effect.Effect<ReadonlyArray<CheckpointSummary>, CheckpointError> = Effect.gen(function*() {
    const ids = (yield* redis.send<ReadonlyArray<string>>("SMEMBERS", k.checkpoints).pipe(Effect.mapError(io("*"))))
      .filter(isStateId)
    if (ids.length === 0) return []
    const texts = yield* redis.send<ReadonlyArray<string | null>>("MGET", ...ids.map((id) => k.checkpoint(id))).pipe(
      Effect.mapError(io("*"))
    )
    const rows: Array<CheckpointSummary> = []
    const gone: Array<string> = []
    for (let i = 0; i < ids.length; i++) {
      const stateId = ids[i]!
      const text = texts[i]
      if (text === null || text === undefined) {
        gone.push(stateId) // expired or deleted behind our back: drop it from the index
        continue
      }
      rows.push(
        yield* decodeDocument(stateId, where(stateId), text).pipe(
          Effect.map(summarize),
          Effect.catch((error) => Effect.succeed<CheckpointSummary>({ stateId, status: "corrupt", error: error.message }))
        )
      )
    }
    if (gone.length > 0) yield* redis.send("SREM", k.checkpoints, ...gone).pipe(Effect.mapError(io("*")))
    return rows.sort(newestFirst)
  })

  const remove = (stateId: string): Effect.Effect<void, CheckpointError> =>
    Effect.andThen(checkId(stateId), redis.eval(deleteScript)(k, stateId).pipe(Effect.mapError(io(stateId))))

  return CheckpointStore.of({ location, save, load, list, delete: remove })
})

/**
 * A `CheckpointStore` in Redis. Needs the `Redis` service (`RedisConnection.layer`); the prefix comes
 * from `options.prefix`, else from the `KeyPrefix` in context.
 *
 * **Example** (Checkpoints in Redis)
 *
 * ```ts
 * import { Layer } from "effect"
 * import { RedisConnection, RedisStore } from "agent-interrupt"
 *
 * const store = RedisStore.layerRedis().pipe(Layer.provide(RedisConnection.layerConfig()))
 * // => Layer<CheckpointStore, RedisError | ConfigError>
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerRedis = (options: RedisStoreOptions = {}): Layer.Layer<CheckpointStore, never, Redis.Redis> =>
  Layer.effect(CheckpointStore, make(options))
