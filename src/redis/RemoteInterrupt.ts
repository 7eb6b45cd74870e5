/**
 * Interrupting an execution from any process, and learning how far the stop got.
 *
 * `interruptRemote(stateId, signal)` writes the request (the signal, Schema-encoded JSON) to the key
 * `{prefix}interrupt:{stateId}` with a TTL and publishes it on the channel of the same name, in one
 * atomic script: a worker subscribed to the channel hears it at once (push), a worker polling the
 * key at its checkpoints finds it later (poll), and a worker that starts afterwards finds it when it
 * claims the run (tombstone). Once delivered, the key is deleted, so a later resume starts clean.
 *
 * The stop goes through stages — `requested → delivered → stopped → checkpointed` — each recorded
 * with a timestamp in the receipt hash `{prefix}receipt:{stateId}`. `interruptRemote` returns a
 * `Receipt`; `awaitStage(receipt, stage, timeout)` waits for a stage and tells the truth: reached,
 * timed out (and the last stage reached), no worker owns the run (not started, finished, or its
 * worker died), or the receipt is gone (expired).
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, Option, Queue, Schema } from "effect"
import { Redis } from "effect/persistence"
import { isStateId, type RequestInterruptOptions, StateId } from "../ExecutionState.ts"
import { InterruptSignal, IsoTimestamp } from "../Interrupt.ts"
import { isoNow, positiveMillis } from "../internal/time.ts"
import { InvalidSignal, InvalidStateId, RedisUnavailable } from "./Errors.ts"
import * as Keys from "./Keys.ts"
import { CheckpointOutcome, fromFields, fromPairs, RunStatus } from "./Registry.ts"

// -----------------------------------------------------------------------------
// Models
// -----------------------------------------------------------------------------

/**
 * The stages of a remote stop, in order: `requested` (the request is in Redis), `delivered` (a
 * worker received it), `stopped` (the worker's run was interrupted: its `interrupted` event
 * happened), `checkpointed` (its snapshot was saved).
 *
 * @category models
 * @since 0.1.0
 */
export const Stage = Schema.Literals(["requested", "delivered", "stopped", "checkpointed"])

/**
 * @category models
 * @since 0.1.0
 */
export type Stage = typeof Stage.Type

/**
 * Every stage, in order.
 *
 * @category models
 * @since 0.1.0
 */
export const stages: ReadonlyArray<Stage> = Stage.literals

/**
 * How the worker received the request: `push` (the channel), `poll` (its checker read the key at a
 * checkpoint) or `tombstone` (the request was waiting when the run started).
 *
 * @category models
 * @since 0.1.0
 */
export const Delivery = Schema.Literals(["push", "poll", "tombstone"])

/**
 * @category models
 * @since 0.1.0
 */
export type Delivery = typeof Delivery.Type

/**
 * What goes on the interrupt key and channel: the signal and the id of the request.
 *
 * @category models
 * @since 0.1.0
 */
export class InterruptRequest extends Schema.Class<InterruptRequest>("agent-interrupt/redis/InterruptRequest")({
  requestId: Schema.String,
  signal: InterruptSignal
}) {}

/**
 * `InterruptRequest` as JSON, as stored and published. A bare `InterruptSignal` JSON (what a
 * `redis-cli PUBLISH` would send) is accepted too, with request id `external`.
 *
 * @category codecs
 * @since 0.1.0
 */
export const InterruptRequestJson = Schema.fromJsonString(InterruptRequest)

const decodeRequest = Schema.decodeUnknownEffect(InterruptRequestJson)
const decodeBareSignal = Schema.decodeUnknownEffect(Schema.fromJsonString(InterruptSignal))
const encodeRequest = Schema.encodeEffect(InterruptRequestJson)

/**
 * Decodes a message from the interrupt key or channel (a request, or a bare signal).
 *
 * @category codecs
 * @since 0.1.0
 */
export const decodeMessage = (raw: string): Effect.Effect<InterruptRequest, Schema.SchemaError> =>
  decodeRequest(raw).pipe(
    Effect.catch((error) =>
      decodeBareSignal(raw).pipe(
        Effect.map((signal) => new InterruptRequest({ requestId: "external", signal })),
        Effect.mapError(() => error)
      )
    )
  )

/**
 * What `interruptRemote` returns: the request in effect for the run, with what the registry said
 * when it was made.
 *
 * **Details**
 *
 * - `duplicate`: an earlier request was already in effect (waiting, or being delivered to the
 *   running worker); the receipt is that request's, and this call changed nothing (first one wins).
 * - `owner`, `runStatus`: the worker that owned the run and its status at the time; no `runStatus`
 *   means the run was not registered yet (the request waits for it as a tombstone).
 *
 * @category models
 * @since 0.1.0
 */
export class Receipt extends Schema.Class<Receipt>("agent-interrupt/redis/Receipt")({
  stateId: StateId,
  requestId: Schema.String,
  signal: InterruptSignal,
  requestedAt: IsoTimestamp,
  duplicate: Schema.Boolean,
  owner: Schema.optionalKey(Schema.String),
  runStatus: Schema.optionalKey(RunStatus)
}) {}

/**
 * The receipt as Redis holds it now: when each stage was reached, by whom and how.
 *
 * @category models
 * @since 0.1.0
 */
export class ReceiptStatus extends Schema.Class<ReceiptStatus>("agent-interrupt/redis/ReceiptStatus")({
  stateId: StateId,
  requestId: Schema.String,
  requested: IsoTimestamp,
  delivered: Schema.optionalKey(IsoTimestamp),
  stopped: Schema.optionalKey(IsoTimestamp),
  checkpointed: Schema.optionalKey(IsoTimestamp),
  deliveredTo: Schema.optionalKey(Schema.String),
  via: Schema.optionalKey(Delivery),
  checkpoint: Schema.optionalKey(CheckpointOutcome),
  checkpointId: Schema.optionalKey(Schema.String)
}) {
  /** When `stage` was reached, if it was. */
  at(stage: Stage): string | undefined {
    return this[stage]
  }

  /** The furthest stage reached. */
  get lastStage(): Stage {
    if (this.checkpointed !== undefined) return "checkpointed"
    if (this.stopped !== undefined) return "stopped"
    if (this.delivered !== undefined) return "delivered"
    return "requested"
  }
}

/**
 * `awaitStage`: the stage was reached, at `at`.
 *
 * @category models
 * @since 0.1.0
 */
export class Reached extends Schema.TaggedClass<Reached>("agent-interrupt/redis/Reached")("Reached", {
  stage: Stage,
  at: IsoTimestamp,
  status: ReceiptStatus
}) {}

/**
 * `awaitStage`: a worker owns the run and is alive, but the stage was not reached in time.
 *
 * @category models
 * @since 0.1.0
 */
export class TimedOut extends Schema.TaggedClass<TimedOut>("agent-interrupt/redis/TimedOut")("TimedOut", {
  stage: Stage,
  lastStage: Stage,
  status: ReceiptStatus
}) {}

/**
 * `awaitStage`: no living worker owns the run, so the stage will not be reached by one: the run is not
 * registered (not started: the request waits as a tombstone until its TTL), it ended before reaching
 * the stage (`runStatus` `completed`, `failed`, `interrupted` without a saved checkpoint...), or its
 * worker died (`lost`; a resume will honour a request still waiting).
 *
 * @category models
 * @since 0.1.0
 */
export class NoWorker extends Schema.TaggedClass<NoWorker>("agent-interrupt/redis/NoWorker")("NoWorker", {
  stage: Stage,
  lastStage: Stage,
  status: ReceiptStatus,
  runStatus: Schema.optionalKey(RunStatus)
}) {}

/**
 * `awaitStage`: the receipt is no longer in Redis (its TTL expired, or a newer request for a later
 * run of the same execution replaced it).
 *
 * @category models
 * @since 0.1.0
 */
export class ReceiptGone extends Schema.TaggedClass<ReceiptGone>("agent-interrupt/redis/ReceiptGone")("ReceiptGone", {
  stage: Stage
}) {}

/**
 * What `awaitStage` found.
 *
 * @category models
 * @since 0.1.0
 */
export const StageResult = Schema.Union([Reached, TimedOut, NoWorker, ReceiptGone])

/**
 * @category models
 * @since 0.1.0
 */
export type StageResult = typeof StageResult.Type

/**
 * A remote interrupt could not be sent or followed; `reason` says why.
 *
 * @category errors
 * @since 0.1.0
 */
export class RemoteInterruptError extends Schema.TaggedError<RemoteInterruptError>(
  "agent-interrupt/redis/RemoteInterruptError"
)("RemoteInterruptError", { reason: Schema.Union([InvalidStateId, InvalidSignal, RedisUnavailable]) }) {
  override get message(): string {
    return this.reason.message
  }
}

/**
 * Options of {@link interruptRemote}.
 *
 * **Details**
 *
 * - `prefix`: the key prefix (default: the current `KeyPrefix`).
 * - `ttl`: how long the request and its receipt are kept (default 24 hours). A run that starts after
 *   the TTL no longer sees the request.
 *
 * @category options
 * @since 0.1.0
 */
export interface InterruptRemoteOptions {
  readonly prefix?: string | undefined
  readonly ttl?: Duration.Input | undefined
}

/**
 * Options of {@link awaitStage}.
 *
 * **Details**
 *
 * - `prefix`: the key prefix (default: the current `KeyPrefix`).
 * - `checkEvery`: how often the owner's liveness is re-read while waiting (default 250 ms); stage
 *   changes themselves wake the waiter at once.
 *
 * @category options
 * @since 0.1.0
 */
export interface AwaitStageOptions {
  readonly prefix?: string | undefined
  readonly checkEvery?: Duration.Input | undefined
}

// -----------------------------------------------------------------------------
// Scripts
// -----------------------------------------------------------------------------

// KEYS: interrupt (key and channel), receipt, run, heartbeat, updates channel
// ARGV: request JSON, request id, requestedAt, ttl ms
const requestScript = Redis.script(
  (k: Keys.Keys, stateId: string, json: string, requestId: string, requestedAt: string, ttl: number) => [
    k.interrupt(stateId),
    k.receipt(stateId),
    k.run(stateId),
    k.heartbeat(stateId),
    k.updatesChannel(stateId),
    json,
    requestId,
    requestedAt,
    ttl
  ],
  {
    numberOfKeys: 5,
    lua: `
local run = redis.call('HMGET', KEYS[3], 'status', 'owner', 'generation')
local alive = redis.call('EXISTS', KEYS[4])
local status = run[1] or ''
local owner = run[2] or ''
local pending = redis.call('GET', KEYS[1])
if pending then
  local ok, decoded = pcall(cjson.decode, pending)
  if ok and type(decoded) == 'table' then
    return {'pending', pending, redis.call('HGET', KEYS[2], 'requested') or '', status, owner, alive}
  end
end
local r = redis.call('HMGET', KEYS[2], 'request', 'requested', 'delivered', 'generation')
if r[3] and status == 'running' and alive == 1 and r[4] == run[3] then
  return {'stopping', r[1], r[2], status, owner, alive}
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'requestId', ARGV[2], 'request', ARGV[1], 'requested', ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[4])
redis.call('PUBLISH', KEYS[1], ARGV[1])
redis.call('PUBLISH', KEYS[5], 'stage:requested')
return {'new', ARGV[1], ARGV[3], status, owner, alive}
`
  }
).withReturnType<ReadonlyArray<string | number>>()

// KEYS: receipt, run, heartbeat
const readScript = Redis.script(
  (k: Keys.Keys, stateId: string) => [k.receipt(stateId), k.run(stateId), k.heartbeat(stateId)],
  {
    numberOfKeys: 3,
    lua: `return {redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2]), redis.call('EXISTS', KEYS[3])}`
  }
).withReturnType<readonly [unknown, unknown, number]>()

// KEYS: interrupt, receipt, updates channel
// ARGV: raw message, request id, nowIso, owner, via, generation, ttl ms
const deliveredScript = Redis.script(
  (
    k: Keys.Keys,
    stateId: string,
    raw: string,
    requestId: string,
    at: string,
    owner: string,
    via: Delivery,
    generation: number,
    ttl: number
  ) => [k.interrupt(stateId), k.receipt(stateId), k.updatesChannel(stateId), raw, requestId, at, owner, via, generation, ttl],
  {
    numberOfKeys: 3,
    lua: `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
local r = redis.call('HMGET', KEYS[2], 'requestId', 'delivered', 'generation')
if r[2] and r[3] == ARGV[6] then return 0 end
if r[1] ~= ARGV[2] then
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[2], 'requestId', ARGV[2], 'request', ARGV[1], 'requested', ARGV[3])
end
redis.call('HDEL', KEYS[2], 'stopped', 'checkpointed', 'checkpoint', 'checkpointId')
redis.call('HSET', KEYS[2], 'delivered', ARGV[3], 'deliveredTo', ARGV[4], 'via', ARGV[5], 'generation', ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[7])
redis.call('PUBLISH', KEYS[3], 'stage:delivered')
return 1
`
  }
).withReturnType<number>()

// KEYS: receipt, updates channel
// ARGV: at, generation, ttl ms
const stoppedScript = Redis.script(
  (k: Keys.Keys, stateId: string, at: string, generation: number, ttl: number) => [
    k.receipt(stateId),
    k.updatesChannel(stateId),
    at,
    generation,
    ttl
  ],
  {
    numberOfKeys: 2,
    lua: `
if redis.call('HGET', KEYS[1], 'generation') ~= ARGV[2] then return 0 end
if redis.call('HSETNX', KEYS[1], 'stopped', ARGV[1]) == 0 then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', KEYS[2], 'stage:stopped')
return 1
`
  }
).withReturnType<number>()

// KEYS: receipt, updates channel
// ARGV: at, generation, interrupted (1/0), checkpoint, checkpointId, ttl ms
const finishedScript = Redis.script(
  (
    k: Keys.Keys,
    stateId: string,
    at: string,
    generation: number,
    interrupted: boolean,
    checkpoint: string,
    checkpointId: string,
    ttl: number
  ) => [k.receipt(stateId), k.updatesChannel(stateId), at, generation, interrupted ? 1 : 0, checkpoint, checkpointId, ttl],
  {
    numberOfKeys: 2,
    lua: `
if redis.call('HGET', KEYS[1], 'generation') ~= ARGV[2] then return 0 end
if ARGV[3] == '1' then redis.call('HSETNX', KEYS[1], 'stopped', ARGV[1]) end
redis.call('HSET', KEYS[1], 'checkpoint', ARGV[4])
if ARGV[4] == 'saved' then
  redis.call('HSETNX', KEYS[1], 'checkpointed', ARGV[1])
  redis.call('HSET', KEYS[1], 'checkpointId', ARGV[5])
end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('PUBLISH', KEYS[2], 'stage:finished')
return 1
`
  }
).withReturnType<number>()

// -----------------------------------------------------------------------------
// Helpers
// -----------------------------------------------------------------------------

const fail = (reason: RemoteInterruptError["reason"]) => Effect.fail(new RemoteInterruptError({ reason }))

const redisFailure = (operation: string) => (error: Redis.RedisError) =>
  new RemoteInterruptError({ reason: RedisUnavailable.fromRedisError(operation)(error) })



const DEFAULT_TTL = "24 hours"

const decodeSignal = Schema.decodeUnknownEffect(InterruptSignal, { errors: "all", reportInput: true })
const encodeSignal = Schema.encodeUnknownEffect(InterruptSignal)

// A signal from options or an instance, validated through its schema (an instance built with
// `disableChecks`, or a reason that came from a command line, is checked here).
const toSignal = (
  input: InterruptSignal | RequestInterruptOptions
): Effect.Effect<InterruptSignal, RemoteInterruptError> =>
  Effect.gen(function*() {
    const candidate: unknown = input instanceof InterruptSignal
      ? yield* encodeSignal(input).pipe(
        Effect.mapError((error) => new RemoteInterruptError({ reason: new InvalidSignal({ detail: error.message }) }))
      )
      : {
        reason: input.reason ?? "user_cancelled",
        triggeredAt: yield* isoNow,
        triggeredBy: input.triggeredBy ?? "remote",
        saveCheckpoint: input.saveCheckpoint ?? true,
        ...(input.message === undefined ? {} : { message: input.message })
      }
    return yield* decodeSignal(candidate).pipe(
      Effect.mapError((error) => new RemoteInterruptError({ reason: new InvalidSignal({ detail: error.message }) }))
    )
  })

const decodeStatus = Schema.decodeUnknownOption(ReceiptStatus)

const statusOf = (stateId: string, fields: Record<string, string>): Option.Option<ReceiptStatus> =>
  fields["requestId"] === undefined ? Option.none() : decodeStatus({ ...fields, stateId })

const runStatusOf = (status: string | number | undefined, alive: boolean): RunStatus | undefined => {
  switch (status) {
    case "running":
      return alive ? "running" : "lost"
    case "interrupted":
    case "completed":
    case "failed":
      return status
    default:
      return undefined
  }
}

// -----------------------------------------------------------------------------
// Controller side
// -----------------------------------------------------------------------------

/**
 * Interrupts an execution from any process: writes the request to its key (with a TTL) and
 * publishes it on its channel, atomically, then returns the receipt.
 *
 * **Details**
 *
 * - The state id and the signal are validated first: an invalid one fails with `InvalidStateId` /
 *   `InvalidSignal` and nothing is written.
 * - `signal` is an `InterruptSignal`, or the options of `requestInterrupt` (`reason` defaults to
 *   `user_cancelled`, `triggeredBy` to `remote`, `triggeredAt` to now).
 * - First request wins: while an earlier request is waiting or being delivered to the running
 *   worker, the call changes nothing and returns that request's receipt (`duplicate: true`).
 * - For a run that has not started (or whose worker died), the request waits as a tombstone and is
 *   honoured when a worker starts (or resumes) it within the TTL.
 *
 * **Example** (Stop a run on another machine and wait for its checkpoint)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { RemoteInterrupt } from "agent-interrupt"
 *
 * const stop = Effect.gen(function*() {
 *   const receipt = yield* RemoteInterrupt.interruptRemote("research-1", { reason: "user_cancelled" })
 *   return yield* RemoteInterrupt.awaitStage(receipt, "checkpointed", "10 seconds")
 * })
 * // => Reached { stage: "checkpointed", at: "2026-11-24T10:00:00.123Z", ... }
 * ```
 *
 * @category controller side
 * @since 0.1.0
 */
export const interruptRemote = (
  stateId: string,
  signal: InterruptSignal | RequestInterruptOptions = {},
  options: InterruptRemoteOptions = {}
): Effect.Effect<Receipt, RemoteInterruptError, Redis.Redis> =>
  Effect.gen(function*() {
    if (!isStateId(stateId)) return yield* fail(new InvalidStateId({ stateId }))
    const valid = yield* toSignal(signal)
    const redis = yield* Redis.Redis
    const k = yield* Keys.resolve(options.prefix)
    const requestId = globalThis.crypto.randomUUID()
    const json = yield* encodeRequest(new InterruptRequest({ requestId, signal: valid })).pipe(
      Effect.mapError((error) => new RemoteInterruptError({ reason: new InvalidSignal({ detail: error.message }) }))
    )
    const requestedAt = yield* isoNow
    const reply = yield* redis.eval(requestScript)(k, stateId, json, requestId, requestedAt, positiveMillis(options.ttl ?? DEFAULT_TTL))
      .pipe(Effect.mapError(redisFailure("send an interrupt")))
    const [disposition, rawInEffect, requestedInEffect, status, owner, alive] = reply
    const runStatus = runStatusOf(status, alive === 1)
    const common = {
      stateId,
      ...(owner === undefined || owner === "" ? {} : { owner: String(owner) }),
      ...(runStatus === undefined ? {} : { runStatus })
    }
    if (disposition === "new") {
      return new Receipt({ ...common, requestId, signal: valid, requestedAt, duplicate: false })
    }
    // an earlier request is in effect: its receipt
    const earlier = yield* decodeMessage(String(rawInEffect)).pipe(Effect.option)
    return Option.match(earlier, {
      onNone: () => new Receipt({ ...common, requestId, signal: valid, requestedAt, duplicate: false }),
      onSome: (request) =>
        new Receipt({
          ...common,
          requestId: request.requestId,
          signal: request.signal,
          requestedAt: requestedInEffect === undefined || requestedInEffect === ""
            ? request.signal.triggeredAt
            : String(requestedInEffect),
          duplicate: true
        })
    })
  })

/**
 * The interrupt request waiting for an execution (not yet delivered), if any.
 *
 * @category controller side
 * @since 0.1.0
 */
export const pendingInterrupt = (
  stateId: string,
  options: { readonly prefix?: string | undefined } = {}
): Effect.Effect<Option.Option<InterruptRequest>, RemoteInterruptError, Redis.Redis> =>
  Effect.gen(function*() {
    if (!isStateId(stateId)) return yield* fail(new InvalidStateId({ stateId }))
    const redis = yield* Redis.Redis
    const k = yield* Keys.resolve(options.prefix)
    const raw = yield* redis.send<string | null>("GET", k.interrupt(stateId)).pipe(
      Effect.mapError(redisFailure("read a pending interrupt"))
    )
    return raw === null ? Option.none() : yield* Effect.option(decodeMessage(raw))
  })

/**
 * The receipt of an execution's current interrupt as Redis holds it now, if any.
 *
 * @category controller side
 * @since 0.1.0
 */
export const receiptStatus = (
  stateId: string,
  options: { readonly prefix?: string | undefined } = {}
): Effect.Effect<Option.Option<ReceiptStatus>, RemoteInterruptError, Redis.Redis> =>
  Effect.gen(function*() {
    if (!isStateId(stateId)) return yield* fail(new InvalidStateId({ stateId }))
    const redis = yield* Redis.Redis
    const k = yield* Keys.resolve(options.prefix)
    const fields = yield* redis.send<unknown>("HGETALL", k.receipt(stateId)).pipe(
      Effect.mapError(redisFailure("read a receipt"))
    )
    return statusOf(stateId, fromPairs(fields))
  })

/**
 * Waits until the stop of `receipt` reaches `stage`, for at most `timeout`, and says what happened.
 *
 * **Details**
 *
 * - `Reached`: the stage was reached (at once, when it already was).
 * - `NoWorker`: no living worker owns the run, so nothing will move the stop forward: returned as soon
 *   as the run is known to have ended or lost its worker, or at the timeout when it never started.
 * - `TimedOut`: a living worker owns the run, but the stage was not reached in time.
 * - `ReceiptGone`: the receipt expired or was replaced by a request for a later run.
 *
 * Stage changes wake the waiter at once (a subscription to `{prefix}updates:{stateId}`); the owner's
 * liveness is re-read every `checkEvery`.
 *
 * @category controller side
 * @since 0.1.0
 */
export const awaitStage = (
  receipt: Receipt,
  stage: Stage,
  timeout: Duration.Input,
  options: AwaitStageOptions = {}
): Effect.Effect<StageResult, RemoteInterruptError, Redis.Redis> =>
  Effect.scoped(Effect.gen(function*() {
    const redis = yield* Redis.Redis
    const k = yield* Keys.resolve(options.prefix)
    const stateId = receipt.stateId
    const checkEvery = positiveMillis(options.checkEvery ?? "250 millis")
    const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(Duration.fromInputUnsafe(timeout))
    // Subscribe first, then read: a change made in between wakes the first wait.
    const wake = yield* redis.subscribe(k.updatesChannel(stateId))
    const read = redis.eval(readScript)(k, stateId).pipe(Effect.mapError(redisFailure("read a receipt")))
    while (true) {
      const [receiptFields, runFields, alive] = yield* read
      const status = statusOf(stateId, fromPairs(receiptFields))
      if (Option.isNone(status) || status.value.requestId !== receipt.requestId) return new ReceiptGone({ stage })
      const current = status.value
      const at = current.at(stage)
      if (at !== undefined) return new Reached({ stage, at, status: current })
      const run = fromFields(fromPairs(runFields), alive === 1)
      const runStatus = Option.getOrUndefined(Option.map(run, (r) => r.status))
      const noWorker = () =>
        new NoWorker({
          stage,
          lastStage: current.lastStage,
          status: current,
          ...(runStatus === undefined ? {} : { runStatus })
        })
      if (runStatus !== undefined && runStatus !== "running") return noWorker()
      const remaining = deadline - (yield* Clock.currentTimeMillis)
      if (remaining <= 0) {
        return runStatus === "running"
          ? new TimedOut({ stage, lastStage: current.lastStage, status: current })
          : noWorker()
      }
      const wait = Math.min(remaining, checkEvery)
      // A failed subscription (Redis went away) degrades to reading every `checkEvery`.
      yield* Queue.take(wake).pipe(
        Effect.timeoutOption(wait),
        Effect.catch(() => Effect.sleep(wait))
      )
    }
  }))

// -----------------------------------------------------------------------------
// Worker side
// -----------------------------------------------------------------------------

/**
 * Options of the worker-side receipt writers.
 *
 * @category options
 * @since 0.1.0
 */
export interface RecordOptions {
  readonly prefix?: string | undefined
  /** How long the receipt is kept after this update (default 24 hours). */
  readonly ttl?: Duration.Input | undefined
}

/**
 * Records `delivered`: the worker `owner` (run generation `generation`) received `request` (`raw` as
 * it came) via push, poll or tombstone. Deletes the pending key, so a later run starts clean. Only
 * the first delivery to a generation counts (`false` for the others).
 *
 * @category worker side
 * @since 0.1.0
 */
export const recordDelivered = (
  stateId: string,
  delivery: {
    readonly raw: string
    readonly request: InterruptRequest
    readonly at: string
    readonly owner: string
    readonly via: Delivery
    readonly generation: number
  },
  options: RecordOptions = {}
): Effect.Effect<boolean, RemoteInterruptError, Redis.Redis> =>
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    const k = yield* Keys.resolve(options.prefix)
    const reply = yield* redis.eval(deliveredScript)(
      k,
      stateId,
      delivery.raw,
      delivery.request.requestId,
      delivery.at,
      delivery.owner,
      delivery.via,
      delivery.generation,
      positiveMillis(options.ttl ?? DEFAULT_TTL)
    ).pipe(Effect.mapError(redisFailure("record a delivery")))
    return reply === 1
  })

/**
 * Records `stopped` for the interrupt delivered to run generation `generation`; ignored when the
 * receipt belongs to another generation (the run was stopped locally, not by a remote request).
 *
 * @category worker side
 * @since 0.1.0
 */
export const recordStopped = (
  stateId: string,
  at: string,
  generation: number,
  options: RecordOptions = {}
): Effect.Effect<boolean, RemoteInterruptError, Redis.Redis> =>
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    const k = yield* Keys.resolve(options.prefix)
    const reply = yield* redis.eval(stoppedScript)(k, stateId, at, generation, positiveMillis(options.ttl ?? DEFAULT_TTL))
      .pipe(Effect.mapError(redisFailure("record a stop")))
    return reply === 1
  })

/**
 * Records the end of the run on the receipt of the interrupt delivered to generation `generation`:
 * `stopped` (if interrupted and not yet recorded), the checkpoint outcome, and `checkpointed` when
 * the snapshot was saved.
 *
 * @category worker side
 * @since 0.1.0
 */
export const recordFinished = (
  stateId: string,
  end: {
    readonly at: string
    readonly generation: number
    readonly interrupted: boolean
    readonly checkpoint: typeof CheckpointOutcome.Type
    readonly checkpointId?: string | undefined
  },
  options: RecordOptions = {}
): Effect.Effect<boolean, RemoteInterruptError, Redis.Redis> =>
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    const k = yield* Keys.resolve(options.prefix)
    const reply = yield* redis.eval(finishedScript)(
      k,
      stateId,
      end.at,
      end.generation,
      end.interrupted,
      end.checkpoint,
      end.checkpointId ?? "",
      positiveMillis(options.ttl ?? DEFAULT_TTL)
    ).pipe(Effect.mapError(redisFailure("record the end of a stop")))
    return reply === 1
  })
