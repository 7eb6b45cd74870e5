/**
 * The execution registry in Redis: which runs exist, their status, the worker that owns each one and
 * whether that worker is still alive.
 *
 * A worker `claim`s a run when it starts (status `running`, owner, a fresh generation, a heartbeat
 * key with an expiry), refreshes the heartbeat while it runs (`beat`) and records the end (`finish`:
 * `interrupted`, `completed` or `failed`). Any process can `list` the runs or `get` one; a `running`
 * run whose heartbeat expired is reported as `lost` — its worker died, and it can be resumed from
 * its last checkpoint by another worker.
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, Option, Schema } from "effect"
import { Redis } from "effect/persistence"
import { isStateId, StateId } from "../ExecutionState.ts"
import { InterruptReason, IsoTimestamp } from "../Interrupt.ts"
import { isoOf, positiveMillis } from "../internal/time.ts"
import { AlreadyOwned, InvalidStateId, RedisUnavailable } from "./Errors.ts"
import * as Keys from "./Keys.ts"

// -----------------------------------------------------------------------------
// Models
// -----------------------------------------------------------------------------

/**
 * The status of a registered run. `lost` is computed: the record says `running` but the heartbeat
 * of its owner expired.
 *
 * @category models
 * @since 0.1.0
 */
export const RunStatus = Schema.Literals(["running", "interrupted", "completed", "failed", "lost"])

/**
 * @category models
 * @since 0.1.0
 */
export type RunStatus = typeof RunStatus.Type

/**
 * What happened to the final checkpoint of a run (as in `ExecutionFinished`).
 *
 * @category models
 * @since 0.1.0
 */
export const CheckpointOutcome = Schema.Literals(["saved", "not_saved", "failed"])

/**
 * One run in the registry.
 *
 * **Details**
 *
 * - `generation`: 1 for the first start, +1 for each resume (a stale worker cannot overwrite a newer one).
 * - `alive`: whether the owner's heartbeat key exists right now.
 * - `checkpoint`, `reason`, `detail`, `finishedAt`: set when the run ended.
 *
 * @category models
 * @since 0.1.0
 */
export class RunRecord extends Schema.Class<RunRecord>("agent-interrupt/redis/RunRecord")({
  stateId: StateId,
  status: RunStatus,
  owner: Schema.String,
  workflow: Schema.optionalKey(Schema.String),
  startedAt: IsoTimestamp,
  updatedAt: IsoTimestamp,
  finishedAt: Schema.optionalKey(IsoTimestamp),
  generation: Schema.Int,
  alive: Schema.Boolean,
  checkpoint: Schema.optionalKey(CheckpointOutcome),
  reason: Schema.optionalKey(InterruptReason),
  detail: Schema.optionalKey(Schema.String)
}) {}

/**
 * A registry operation failed; `reason` says why.
 *
 * @category errors
 * @since 0.1.0
 */
export class RegistryError extends Schema.TaggedError<RegistryError>("agent-interrupt/redis/RegistryError")(
  "RegistryError",
  { reason: Schema.Union([InvalidStateId, AlreadyOwned, RedisUnavailable]) }
) {
  override get message(): string {
    return this.reason.message
  }
}

/**
 * Options of the registry's readers.
 *
 * @category options
 * @since 0.1.0
 */
export interface RegistryOptions {
  /** The key prefix (default: the current `KeyPrefix`). */
  readonly prefix?: string | undefined
}

/**
 * Options of {@link claim}.
 *
 * **Details**
 *
 * - `owner`: who claims the run (a worker id).
 * - `workflow`: recorded in the record.
 * - `heartbeatTtl`: how long the heartbeat lives without a `beat` (default 5 seconds).
 * - `runTtl`: how long the record is kept after its last update (default 7 days).
 *
 * @category options
 * @since 0.1.0
 */
export interface ClaimOptions extends RegistryOptions {
  readonly owner: string
  readonly workflow?: string | undefined
  readonly heartbeatTtl?: Duration.Input | undefined
  readonly runTtl?: Duration.Input | undefined
}

/**
 * A claimed run: its generation, and the raw interrupt request that was already waiting for it (a
 * tombstone), if any.
 *
 * @category models
 * @since 0.1.0
 */
export interface Claim {
  readonly stateId: string
  readonly owner: string
  readonly generation: number
  readonly startedAt: string
  readonly pending: Option.Option<string>
}

// -----------------------------------------------------------------------------
// Scripts
// -----------------------------------------------------------------------------

// KEYS: run, heartbeat, interrupt, runs index, updates channel
// ARGV: stateId, owner, workflow, nowIso, nowMs, heartbeatTtlMs, runTtlMs
const claimScript = Redis.script(
  (k: Keys.Keys, id: string, owner: string, workflow: string, nowIso: string, nowMs: number, hbTtl: number, runTtl: number) => [
    k.run(id),
    k.heartbeat(id),
    k.interrupt(id),
    k.runs,
    k.updatesChannel(id),
    id,
    owner,
    workflow,
    nowIso,
    nowMs,
    hbTtl,
    runTtl
  ],
  {
    numberOfKeys: 5,
    lua: `
local status = redis.call('HGET', KEYS[1], 'status')
local holder = redis.call('GET', KEYS[2])
if status == 'running' and holder and holder ~= ARGV[2] then return {'owned', holder} end
local gen = redis.call('HINCRBY', KEYS[1], 'generation', 1)
redis.call('HDEL', KEYS[1], 'finishedAt', 'checkpoint', 'reason', 'detail', 'workflow')
redis.call('HSET', KEYS[1], 'stateId', ARGV[1], 'status', 'running', 'owner', ARGV[2], 'startedAt', ARGV[4], 'updatedAt', ARGV[4])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'workflow', ARGV[3]) end
redis.call('PEXPIRE', KEYS[1], ARGV[7])
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[6])
redis.call('ZADD', KEYS[4], ARGV[5], ARGV[1])
redis.call('PUBLISH', KEYS[5], 'status:running')
local pending = redis.call('GET', KEYS[3])
return {'claimed', tostring(gen), pending or ''}
`
  }
).withReturnType<ReadonlyArray<string>>()

// KEYS: heartbeat, run, runs index
// ARGV: owner, heartbeatTtlMs, stateId, generation, workflow, startedAt, nowMs, runTtlMs
const beatScript = Redis.script(
  (k: Keys.Keys, claim: Claim, workflow: string, hbTtl: number, nowMs: number, runTtl: number) => [
    k.heartbeat(claim.stateId),
    k.run(claim.stateId),
    k.runs,
    claim.owner,
    hbTtl,
    claim.stateId,
    claim.generation,
    workflow,
    claim.startedAt,
    nowMs,
    runTtl
  ],
  {
    numberOfKeys: 3,
    lua: `
local fields = redis.call('HMGET', KEYS[2], 'status', 'owner', 'generation')
if fields[1] == false then
  -- the record is gone (Redis restarted without persistence): the living owner writes it again
  redis.call('HSET', KEYS[2], 'stateId', ARGV[3], 'status', 'running', 'owner', ARGV[1], 'generation', ARGV[4],
    'startedAt', ARGV[6], 'updatedAt', ARGV[6])
  if ARGV[5] ~= '' then redis.call('HSET', KEYS[2], 'workflow', ARGV[5]) end
  redis.call('PEXPIRE', KEYS[2], ARGV[8])
  redis.call('ZADD', KEYS[3], ARGV[7], ARGV[3])
elseif fields[1] ~= 'running' or fields[2] ~= ARGV[1] or fields[3] ~= ARGV[4] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`
  }
).withReturnType<number>()

// KEYS: run, heartbeat, runs index, updates channel
// ARGV: stateId, owner, generation, status, nowIso, nowMs, checkpoint, reason, detail, workflow, startedAt, runTtlMs
const finishScript = Redis.script(
  (
    k: Keys.Keys,
    claim: Claim,
    end: FinishOptions,
    nowIso: string,
    nowMs: number,
    runTtl: number
  ) => [
    k.run(claim.stateId),
    k.heartbeat(claim.stateId),
    k.runs,
    k.updatesChannel(claim.stateId),
    claim.stateId,
    claim.owner,
    claim.generation,
    end.status,
    nowIso,
    nowMs,
    end.checkpoint,
    end.reason ?? "",
    end.detail ?? "",
    end.workflow ?? "",
    claim.startedAt,
    runTtl
  ],
  {
    numberOfKeys: 4,
    lua: `
local fields = redis.call('HMGET', KEYS[1], 'owner', 'generation')
if fields[1] ~= false and (fields[1] ~= ARGV[2] or fields[2] ~= ARGV[3]) then return 0 end
if fields[1] == false then
  redis.call('HSET', KEYS[1], 'stateId', ARGV[1], 'owner', ARGV[2], 'generation', ARGV[3], 'startedAt', ARGV[11])
  if ARGV[10] ~= '' then redis.call('HSET', KEYS[1], 'workflow', ARGV[10]) end
end
redis.call('HSET', KEYS[1], 'status', ARGV[4], 'updatedAt', ARGV[5], 'finishedAt', ARGV[5], 'checkpoint', ARGV[7])
if ARGV[8] ~= '' then redis.call('HSET', KEYS[1], 'reason', ARGV[8]) end
if ARGV[9] ~= '' then redis.call('HSET', KEYS[1], 'detail', ARGV[9]) end
redis.call('PEXPIRE', KEYS[1], ARGV[12])
redis.call('ZADD', KEYS[3], ARGV[6], ARGV[1])
if redis.call('GET', KEYS[2]) == ARGV[2] then redis.call('DEL', KEYS[2]) end
redis.call('PUBLISH', KEYS[4], 'status:' .. ARGV[4])
return 1
`
  }
).withReturnType<number>()

// -----------------------------------------------------------------------------
// Helpers
// -----------------------------------------------------------------------------

const fail = (reason: RegistryError["reason"]) => Effect.fail(new RegistryError({ reason }))

const redisFailure = (operation: string) => (error: Redis.RedisError) =>
  new RegistryError({ reason: RedisUnavailable.fromRedisError(operation)(error) })

const checkId = (stateId: string): Effect.Effect<void, RegistryError> =>
  isStateId(stateId) ? Effect.void : fail(new InvalidStateId({ stateId }))


const nowStamp = Effect.map(Clock.currentTimeMillis, (ms) => ({ ms, iso: isoOf(ms) }))

/**
 * A flat `HGETALL` reply (`[field, value, field, value, ...]`) as a record.
 *
 * @category utils
 * @since 0.1.0
 */
export const fromPairs = (reply: unknown): Record<string, string> => {
  const out: Record<string, string> = {}
  if (!Array.isArray(reply)) return out
  for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1])
  return out
}

const decodeRecord = Schema.decodeUnknownOption(RunRecord)

/**
 * Reads a run record from its hash fields and whether its heartbeat is alive: `running` with a dead
 * heartbeat is `lost`. `None` when the hash is empty or does not decode.
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromFields = (fields: Record<string, string>, alive: boolean): Option.Option<RunRecord> => {
  if (fields["status"] === undefined) return Option.none()
  const status = fields["status"] === "running" && !alive ? "lost" : fields["status"]
  return decodeRecord({
    ...fields,
    status,
    alive,
    generation: Number(fields["generation"])
  })
}

// -----------------------------------------------------------------------------
// Readers
// -----------------------------------------------------------------------------

/**
 * One run, if registered.
 *
 * @category accessors
 * @since 0.1.0
 */
export const get = (
  stateId: string,
  options: RegistryOptions = {}
): Effect.Effect<Option.Option<RunRecord>, RegistryError, Redis.Redis> =>
  Effect.gen(function*() {
    yield* checkId(stateId)
    const redis = yield* Redis.Redis
    const k = yield* Keys.resolve(options.prefix)
    const [fields, alive] = yield* Effect.all([
      redis.send<unknown>("HGETALL", k.run(stateId)),
      redis.send<number>("EXISTS", k.heartbeat(stateId))
    ], { concurrency: "unbounded" }).pipe(Effect.mapError(redisFailure("read a run")))
    return fromFields(fromPairs(fields), alive === 1)
  })

/**
 * Every registered run, most recently updated first. A `running` run whose worker's heartbeat
 * expired is listed as `lost`. Records that expired are dropped from the index on the way.
 *
 * **Example** (The runs whose worker died)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Registry } from "agent-interrupt"
 *
 * const lost = Effect.map(Registry.list(), (runs) => runs.filter((run) => run.status === "lost"))
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const list = (options: RegistryOptions = {}): Effect.Effect<ReadonlyArray<RunRecord>, RegistryError, Redis.Redis> =>
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    const k = yield* Keys.resolve(options.prefix)
    const ids = yield* redis.send<ReadonlyArray<string>>("ZREVRANGE", k.runs, "0", "-1").pipe(
      Effect.mapError(redisFailure("list runs"))
    )
    const rows = yield* Effect.forEach(ids, (stateId) =>
      Effect.all([
        redis.send<unknown>("HGETALL", k.run(stateId)),
        redis.send<number>("EXISTS", k.heartbeat(stateId))
      ], { concurrency: "unbounded" }).pipe(
        Effect.flatMap(([fields, alive]) => {
          const pairs = fromPairs(fields)
          if (pairs["status"] === undefined) {
            return Effect.as(redis.send("ZREM", k.runs, stateId), Option.none<RunRecord>())
          }
          const record = fromFields(pairs, alive === 1)
          return Option.isNone(record)
            ? Effect.as(Effect.logWarning("Ignoring an unreadable run record", { stateId, fields: pairs }), record)
            : Effect.succeed(record)
        })
      ), { concurrency: "unbounded" }).pipe(Effect.mapError(redisFailure("list runs")))
    return rows.flatMap((row) => Option.isSome(row) ? [row.value] : [])
  })

// -----------------------------------------------------------------------------
// Worker side
// -----------------------------------------------------------------------------

/**
 * Claims a run for `owner`: status `running`, a new generation, a heartbeat that expires after
 * `heartbeatTtl`. Fails with `AlreadyOwned` when another worker runs it and is alive. Also returns
 * the interrupt request already waiting for the run (a tombstone), read in the same step.
 *
 * @category worker side
 * @since 0.1.0
 */
export const claim = (stateId: string, options: ClaimOptions): Effect.Effect<Claim, RegistryError, Redis.Redis> =>
  Effect.gen(function*() {
    yield* checkId(stateId)
    const redis = yield* Redis.Redis
    const k = yield* Keys.resolve(options.prefix)
    const now = yield* nowStamp
    const reply = yield* redis.eval(claimScript)(
      k,
      stateId,
      options.owner,
      options.workflow ?? "",
      now.iso,
      now.ms,
      positiveMillis(options.heartbeatTtl ?? "5 seconds"),
      positiveMillis(options.runTtl ?? "7 days")
    ).pipe(Effect.mapError(redisFailure("claim a run")))
    if (reply[0] === "owned") return yield* fail(new AlreadyOwned({ stateId, owner: String(reply[1]) }))
    const pending = String(reply[2] ?? "")
    return {
      stateId,
      owner: options.owner,
      generation: Number(reply[1]),
      startedAt: now.iso,
      pending: pending === "" ? Option.none() : Option.some(pending)
    }
  })

/**
 * Refreshes the heartbeat of a claimed run (and writes its record again if Redis lost it). `false`
 * when the run is no longer this claim's (finished, or claimed by a newer generation).
 *
 * @category worker side
 * @since 0.1.0
 */
export const beat = (
  claimed: Claim,
  options: Omit<ClaimOptions, "owner">
): Effect.Effect<boolean, RegistryError, Redis.Redis> =>
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    const k = yield* Keys.resolve(options.prefix)
    const now = yield* Clock.currentTimeMillis
    const reply = yield* redis.eval(beatScript)(
      k,
      claimed,
      options.workflow ?? "",
      positiveMillis(options.heartbeatTtl ?? "5 seconds"),
      now,
      positiveMillis(options.runTtl ?? "7 days")
    ).pipe(Effect.mapError(redisFailure("refresh a heartbeat")))
    return reply === 1
  })

/**
 * How a run ended, for {@link finish}.
 *
 * @category options
 * @since 0.1.0
 */
export interface FinishOptions extends RegistryOptions {
  readonly status: "interrupted" | "completed" | "failed"
  readonly checkpoint: typeof CheckpointOutcome.Type
  readonly reason?: string | undefined
  readonly detail?: string | undefined
  readonly workflow?: string | undefined
  readonly runTtl?: Duration.Input | undefined
}

/**
 * Records the end of a claimed run and removes its heartbeat. Does nothing (`false`) when a newer
 * claim owns the run.
 *
 * @category worker side
 * @since 0.1.0
 */
export const finish = (claimed: Claim, options: FinishOptions): Effect.Effect<boolean, RegistryError, Redis.Redis> =>
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    const k = yield* Keys.resolve(options.prefix)
    const now = yield* nowStamp
    const reply = yield* redis.eval(finishScript)(k, claimed, options, now.iso, now.ms, positiveMillis(options.runTtl ?? "7 days"))
      .pipe(Effect.mapError(redisFailure("record the end of a run")))
    return reply === 1
  })
