/**
 * A `CheckpointStore` in Redis, so that a run interrupted or lost on one machine resumes on another.
 *
 * Each execution's journal is a Redis Stream, `{prefix}{stateId}:journal` (one record per entry,
 * field `r`), appended in one script per batch; compaction folds it into
 * `{prefix}{stateId}:snapshot` and trims the entries it covers, atomically. The lease of a running
 * execution is `{prefix}{stateId}:lease`, a key with a TTL its owner renews. The keys of one
 * execution share the hash tag `{stateId}`, so they live in one slot. `{prefix}executions` indexes
 * the executions. Version-1 snapshot documents (`{prefix}checkpoint:{stateId}`) are still read.
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, Layer, Option, Schema } from "effect"
import { Redis } from "effect/persistence"
import {
  type Backend,
  type BackendFailure,
  CheckpointStore,
  decodeLegacyDocument,
  make as makeStore,
  notAStateId,
  type Stored,
  type UnreadableEntry
} from "../Checkpoint.ts"
import { isStateId } from "../Interrupt.ts"
import { encodeRecord } from "../Journal.ts"
import { positiveMillis } from "../internal/time.ts"
import * as Keys from "./Keys.ts"

/**
 * Options of {@link layerRedis}.
 *
 * **Details**
 *
 * - `prefix`: the key prefix (default: the current `KeyPrefix`, `agent-interrupt:` unless set).
 * - `leaseTtl`: a lease not renewed for this long is dead and its run `lost` (default 5 seconds).
 * - `heartbeatInterval`: how often a held lease is renewed (default 1 second).
 *
 * @category options
 * @since 0.1.0
 */
export interface RedisStoreOptions {
  readonly prefix?: string | undefined
  readonly leaseTtl?: Duration.Input | undefined
  readonly heartbeatInterval?: Duration.Input | undefined
}

// KEYS: journal; ARGV: the records
const appendScript = Redis.script(
  (k: Keys.Keys, stateId: string, texts: ReadonlyArray<string>) => [k.journal(stateId), ...texts],
  {
    numberOfKeys: 1,
    lua: `
for i = 1, #ARGV do redis.call('XADD', KEYS[1], '*', 'r', ARGV[i]) end
return #ARGV
`
  }
).withReturnType<number>()

// KEYS: snapshot, journal
const readScript = Redis.script(
  (k: Keys.Keys, stateId: string) => [k.snapshot(stateId), k.journal(stateId)],
  {
    numberOfKeys: 2,
    lua: `
local snap = redis.call('GET', KEYS[1])
local from = '-'
if snap then from = '(' .. string.sub(snap, 1, string.find(snap, ' ') - 1) end
return {snap or '', redis.call('XRANGE', KEYS[2], from, '+')}
`
  }
).withReturnType<readonly [string, unknown]>()

// KEYS: snapshot, journal; ARGV: last entry id covered, the snapshot record
const compactScript = Redis.script(
  (k: Keys.Keys, stateId: string, lastId: string, text: string) => [k.snapshot(stateId), k.journal(stateId), lastId, text],
  {
    numberOfKeys: 2,
    lua: `
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2])
local ms, seq = string.match(ARGV[1], '^(%d+)-(%d+)$')
if ms then redis.call('XTRIM', KEYS[2], 'MINID', ms .. '-' .. (tonumber(seq) + 1)) end
return 1
`
  }
).withReturnType<number>()

// KEYS: lease; ARGV: owner, ttl ms, force (1/0). Returns the owner holding it afterwards.
const acquireScript = Redis.script(
  (k: Keys.Keys, stateId: string, owner: string, ttl: number, force: boolean) => [k.lease(stateId), owner, ttl, force ? 1 : 0],
  {
    numberOfKeys: 1,
    lua: `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] and ARGV[3] == '0' then return holder end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]
`
  }
).withReturnType<string>()

// KEYS: lease; ARGV: owner, ttl ms (0: release). 1 when the lease is still this owner's.
const renewScript = Redis.script(
  (k: Keys.Keys, stateId: string, owner: string, ttl: number) => [k.lease(stateId), owner, ttl],
  {
    numberOfKeys: 1,
    lua: `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '0' then redis.call('DEL', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
`
  }
).withReturnType<number>()

const Entries = Schema.Array(Schema.Tuple([Schema.String, Schema.Array(Schema.String)]))
const decodeEntries = Schema.decodeUnknownOption(Entries)

const failure = (error: Redis.RedisError): BackendFailure => ({
  detail: error.cause instanceof Error ? error.cause.message : String(error.cause),
  cause: error.cause
})

/**
 * Builds a Redis checkpoint store.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(options: RedisStoreOptions = {}) {
  const redis = yield* Redis.Redis
  const k = yield* Keys.resolve(options.prefix)
  const leaseTtl = positiveMillis(options.leaseTtl ?? "5 seconds")
  const heartbeat = Duration.fromInputUnsafe(options.heartbeatInterval ?? "1 second")
  const send = <A>(command: string, ...args: ReadonlyArray<string>) =>
    Effect.mapError(redis.send<A>(command, ...args), failure)
  // executions this process has appended to (indexed, and no version-1 document left to fold in)
  const journaled = new Set<string>()

  const readStored = (stateId: string): Effect.Effect<{ readonly lastId: string; readonly stored: Option.Option<Stored> }, BackendFailure> =>
    Effect.gen(function*() {
      const [snapshot, reply] = yield* Effect.mapError(redis.eval(readScript)(k, stateId), failure)
      const entries = decodeEntries(reply)
      if (Option.isNone(entries)) return yield* Effect.fail({ detail: "the journal stream could not be read" })
      const texts: Array<string> = []
      let lastId = ""
      if (snapshot !== "") {
        const space = snapshot.indexOf(" ")
        lastId = snapshot.slice(0, space)
        texts.push(snapshot.slice(space + 1))
      }
      for (const [id, fields] of entries.value) {
        lastId = id
        const r = fields.indexOf("r")
        if (r >= 0 && r + 1 < fields.length) texts.push(fields[r + 1]!)
      }
      if (texts.length > 0) return { lastId, stored: Option.some({ _tag: "Journal" as const, texts }) }
      const legacy = yield* send<string | null>("GET", k.checkpoint(stateId))
      return { lastId, stored: legacy === null ? Option.none() : Option.some({ _tag: "Legacy" as const, text: legacy }) }
    })

  const backend: Backend = {
    location: `redis:${k.prefix}`,
    where: (stateId) => `redis:${k.journal(stateId)}`,
    append: (stateId, texts) =>
      Effect.gen(function*() {
        if (journaled.has(stateId)) {
          yield* Effect.mapError(redis.eval(appendScript)(k, stateId, texts), failure)
          return
        }
        // the first append of this process to an execution: fold in a version-1 document, index it
        const { stored } = yield* readLegacyOnly(stateId)
        const all = Option.isSome(stored) ? [stored.value, ...texts] : texts
        const added = yield* Effect.mapError(redis.eval(appendScript)(k, stateId, all), failure)
        if (added === all.length && Option.isSome(stored)) yield* send("DEL", k.checkpoint(stateId))
        const now = yield* Clock.currentTimeMillis
        yield* send("ZADD", k.executions, "NX", String(now), stateId)
        journaled.add(stateId)
      }),
    read: (stateId) => Effect.map(readStored(stateId), (r) => r.stored),
    compact: (stateId, compacted) =>
      Effect.gen(function*() {
        const { lastId, stored } = yield* readStored(stateId)
        if (Option.isNone(stored)) return
        const line = yield* compacted(stored.value)
        yield* Effect.mapError(redis.eval(compactScript)(k, stateId, lastId === "" ? "0-0" : lastId, line), failure)
      }),
    remove: (stateId) =>
      Effect.andThen(
        Effect.andThen(
          Effect.sync(() => journaled.delete(stateId)),
          send("DEL", k.journal(stateId), k.snapshot(stateId), k.lease(stateId))
        ),
        Effect.all([
          send("ZREM", k.executions, stateId),
          send("DEL", k.checkpoint(stateId)),
          send("SREM", k.checkpoints, stateId)
        ], { discard: true })
      ),
    ids: Effect.gen(function*() {
      // An index key of the wrong type (written by something else) is reported, not fatal: the
      // other index is still listed.
      const unreadable: Array<UnreadableEntry> = []
      const members = (key: string, ...command: ReadonlyArray<string>) =>
        send<ReadonlyArray<string>>(command[0]!, key, ...command.slice(1)).pipe(
          Effect.catchIf((error) => error.detail.startsWith("WRONGTYPE"), (error) => {
            unreadable.push({ name: key, error: error.detail })
            return Effect.succeed<ReadonlyArray<string>>([])
          })
        )
      const journaled = yield* members(k.executions, "ZRANGE", "0", "-1")
      const legacy = yield* members(k.checkpoints, "SMEMBERS")
      const all = Array.from(new Set([...journaled, ...legacy]))
      unreadable.push(...all.filter((id) => !isStateId(id)).map(notAStateId))
      return { ids: all.filter(isStateId), unreadable }
    }),
    acquire: (stateId, acquireOptions) =>
      Effect.gen(function*() {
        const holder = yield* Effect.mapError(
          redis.eval(acquireScript)(k, stateId, acquireOptions.owner, leaseTtl, acquireOptions.force === true),
          failure
        )
        if (holder !== acquireOptions.owner) return yield* Effect.fail({ owner: holder })
        yield* Effect.addFinalizer(() => Effect.ignore(redis.eval(renewScript)(k, stateId, acquireOptions.owner, 0)))
        yield* Effect.sleep(heartbeat).pipe(
          Effect.andThen(redis.eval(renewScript)(k, stateId, acquireOptions.owner, leaseTtl)),
          Effect.catch((error) => Effect.logWarning("Lease could not be renewed", failure(error).detail)),
          Effect.forever,
          Effect.forkScoped
        )
        return { stateId, owner: acquireOptions.owner }
      }),
    lease: (stateId) =>
      Effect.map(send<string | null>("GET", k.lease(stateId)), (owner) =>
        owner === null ? Option.none() : Option.some({ owner, alive: true })),
    stamp: (stateId) =>
      Effect.map(
        Effect.all([send<number>("XLEN", k.journal(stateId)), send<number>("STRLEN", k.snapshot(stateId))]),
        ([length, snapshot]) => length === 0 && snapshot === 0 ? Option.none() : Option.some(`${length}:${snapshot}`)
      )
  }

  // A version-1 document, converted to the snapshot record it stands for, if the journal is empty.
  const readLegacyOnly = (stateId: string) =>
    Effect.gen(function*() {
      const exists = yield* send<number>("EXISTS", k.journal(stateId), k.snapshot(stateId))
      if (exists > 0) return { stored: Option.none<string>() }
      const legacy = yield* send<string | null>("GET", k.checkpoint(stateId))
      if (legacy === null) return { stored: Option.none<string>() }
      const snapshot = yield* Effect.mapError(decodeLegacyDocument(stateId, `redis:${k.checkpoint(stateId)}`, legacy), (e) => ({
        detail: e.message,
        cause: e
      }))
      return { stored: Option.some(encodeRecord(snapshot)) }
    })

  return makeStore(backend)
})

/**
 * A `CheckpointStore` in Redis. Needs the `Redis` service (`RedisConnection.layer`); the prefix comes
 * from `options.prefix`, else from the `KeyPrefix` in context.
 *
 * **Example** (Journals in Redis)
 *
 * ```ts
 * import { Layer } from "effect"
 * import { RedisConnection, RedisStore } from "agent-interrupt/redis"
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
