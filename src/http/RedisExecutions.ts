/**
 * The executions of every server and worker sharing one Redis, behind the same control API.
 *
 * `layerRedis(options)` provides `Executions` on top of the in-process implementation: the runs it
 * starts or resumes execute in this process exactly as with `Executions.layerLocal`, but each is
 * attached to Redis first (`RedisWorker.attach`: registered, remote-interruptible, checkpointed in
 * the Redis `CheckpointStore`, events published to the run's Redis Stream). `list` and `get` also
 * show the runs of other workers from the registry (`running`, `stopping`, `interrupted`,
 * `completed`, `failed`, `lost`, with their owner); `interrupt` goes through
 * `RemoteInterrupt.interruptRemote` for every running run, local or not, and answers with the
 * receipt's stages; `resume` brings an interrupted or `lost` run back in this process from its Redis
 * checkpoint, wherever it ran before; `events` follows a run of another worker through its Redis
 * Stream when that worker publishes it (`publishEvents`), and answers 409 (`EventsNotPublished`)
 * when it does not.
 *
 * When Redis does not answer, the API answers 503 (`BackendUnavailable`) and changes nothing; the
 * runs of this process go on (see the worker's delivery guarantees), and an event stream that follows
 * another worker's run ends, so its reader reconnects with its `Last-Event-ID`.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Layer, Option, Ref, Schema, type Scope, Stream } from "effect"
import { Redis } from "effect/persistence"
import { CheckpointStore, type StateSnapshot } from "../Checkpoint.ts"
import { BusEventJson, type Sequenced } from "../EventBus.ts"
import { isStateId } from "../ExecutionState.ts"
import { InterruptSignal } from "../Interrupt.ts"
import { RedisUnavailable } from "../redis/Errors.ts"
import * as Keys from "../redis/Keys.ts"
import * as RedisWorker from "../redis/RedisWorker.ts"
import * as Registry from "../redis/Registry.ts"
import * as RemoteInterrupt from "../redis/RemoteInterrupt.ts"
import { positiveMillis } from "../internal/time.ts"
import {
  AlreadyInterrupted,
  BackendUnavailable,
  EventsNotPublished,
  ExecutionInfo,
  ExecutionNotFound,
  ExecutionNotRunning,
  Executions,
  InterruptAccepted,
  type InterruptOptions,
  type InterruptReceipt,
  type LocalExecution,
  type LocalOptions,
  makeEngine,
  NotResumable,
  type PreparedRun,
  type StageReached
} from "./Executions.ts"

// -----------------------------------------------------------------------------
// Options
// -----------------------------------------------------------------------------

/**
 * Options of {@link layerRedis}: those of `Executions.layerLocal` (for the runs of this process),
 * plus the Redis side.
 *
 * **Details**
 *
 * - `prefix`: the key prefix (default: the current `KeyPrefix`, as set by `RedisConnection.layer`).
 * - `owner`: this server's worker id in the registry and the receipts (default `{hostname}:{pid}:{random}`).
 * - `worker`: the worker options of its runs (`pollInterval`, `heartbeatInterval`, `heartbeatTtl`,
 *   `receiptTtl`, `runTtl`, `eventsMaxLength`, `eventsTtl`; see `RedisWorker.WorkerOptions`).
 * - `publishEvents`: publish the events of this server's runs to Redis, so every server can stream
 *   them (default `true`).
 * - `deliveryTimeout`: how long an interrupt without `await` waits for the run's worker to receive
 *   it before answering (default 1 second; the answer then says `requested` only).
 * - `followInterval`: how long one blocking read of another worker's event stream lasts; between two
 *   reads the run's liveness is checked, so the stream of a run whose worker died ends within about
 *   this time (default 1 second).
 *
 * @category options
 * @since 0.1.0
 */
export interface RedisOptions extends LocalOptions {
  readonly prefix?: string | undefined
  readonly owner?: string | undefined
  readonly worker?: Omit<RedisWorker.WorkerOptions, "prefix" | "owner" | "workflow" | "publishEvents"> | undefined
  readonly publishEvents?: boolean | undefined
  readonly deliveryTimeout?: Duration.Input | undefined
  readonly followInterval?: Duration.Input | undefined
}

// -----------------------------------------------------------------------------
// Helpers
// -----------------------------------------------------------------------------

const decodeReceiptStatus = Schema.decodeUnknownOption(RemoteInterrupt.ReceiptStatus)
const decodeEvent = Schema.decodeUnknownEffect(BusEventJson)

/** The receipt of an execution's latest interrupt, with the signal it carries and the generation it reached. */
interface CurrentReceipt {
  readonly status: RemoteInterrupt.ReceiptStatus
  readonly signal: Option.Option<InterruptSignal>
  /** The run generation it was delivered to; none while it waits for a worker. */
  readonly generation: number | undefined
}

const stagesOfReceipt = (status: RemoteInterrupt.ReceiptStatus): Array<StageReached> =>
  RemoteInterrupt.stages.flatMap((stage) => {
    const at = status.at(stage)
    return at === undefined ? [] : [{ stage, at }]
  })

// Whether a receipt is about the record's current run: delivered to its generation, or waiting for
// it (a run that is running, or lost and to be resumed).
const isCurrent = (record: Registry.RunRecord, receipt: CurrentReceipt): boolean =>
  receipt.generation === undefined
    ? record.status === "running" || record.status === "lost"
    : receipt.generation === record.generation

// KEYS: the pending interrupt; ARGV: a request id. Deletes the pending request if it is that one.
const withdrawScript = Redis.script(
  (k: Keys.Keys, stateId: string, requestId: string) => [k.interrupt(stateId), requestId],
  {
    numberOfKeys: 1,
    lua: `
local pending = redis.call('GET', KEYS[1])
if pending and string.find(pending, ARGV[1], 1, true) then redis.call('DEL', KEYS[1]) return 1 end
return 0
`
  }
).withReturnType<number>()

const emptyProgress = { events: 0, started: 0, completed: 0, failed: 0, interrupted: 0, retrying: 0, recovered: 0 }

const byNewest = (a: ExecutionInfo, b: ExecutionInfo) =>
  b.createdAt.localeCompare(a.createdAt) || a.executionId.localeCompare(b.executionId)

interface StreamEntry {
  readonly id: string
  readonly sequence: number
  readonly generation: number
  readonly json: string
}

// The entries of an XREAD reply: `[[key, [[id, [field, value, ...]], ...]]]` (RESP2), or the same
// per key as a map (RESP3); `null` when nothing arrived.
const entriesOf = (reply: unknown): Array<StreamEntry> => {
  const streams: Array<unknown> = Array.isArray(reply)
    ? reply.map((stream) => Array.isArray(stream) ? stream[1] : undefined)
    : typeof reply === "object" && reply !== null
    ? Object.values(reply)
    : []
  const out: Array<StreamEntry> = []
  for (const entries of streams) {
    if (!Array.isArray(entries)) continue
    for (const entry of entries) {
      if (!Array.isArray(entry)) continue
      const id = String(entry[0])
      const fields = Registry.fromPairs(entry[1])
      const sequence = Number(id.split("-")[1])
      if (!Number.isSafeInteger(sequence) || fields["event"] === undefined) continue
      out.push({ id, sequence, generation: Number(fields["gen"] ?? 0), json: fields["event"] })
    }
  }
  return out
}

type View =
  | { readonly _tag: "Local"; readonly local: LocalExecution }
  | { readonly _tag: "Remote"; readonly record: Registry.RunRecord }

// -----------------------------------------------------------------------------
// Constructor
// -----------------------------------------------------------------------------

/**
 * Builds the executions service on Redis (see {@link layerRedis}). Its own runs, retention timers
 * and event logs live in the scope; closing the scope runs `shutdown` first.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeRedis = Effect.fnUntraced(function*(
  options: RedisOptions = {}
): Effect.fn.Return<Executions["Service"], never, Redis.Redis | CheckpointStore | Scope.Scope> {
  const redis = yield* Redis.Redis
  const store = yield* CheckpointStore
  const k = yield* Keys.resolve(options.prefix)
  const prefix = k.prefix
  const owner = options.owner ?? RedisWorker.makeOwner()
  const publishEvents = options.publishEvents ?? true
  const deliveryTimeout = options.deliveryTimeout ?? "1 second"
  const followBlock = positiveMillis(options.followInterval ?? "1 second")

  // The generation of each execution's latest run in this process (to tell a local record from one
  // whose run has since moved to another worker), and the readers following other workers' runs.
  const generations = yield* Ref.make(new Map<string, number>())
  const followers = yield* Ref.make(new Map<string, number>())

  const withRedis = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, Exclude<R, Redis.Redis>> =>
    Effect.provideService(effect, Redis.Redis, redis)

  // Redis failing is a typed `BackendUnavailable` (503) on every endpoint. `error` is a module's
  // wrapper error (its `reason` says what failed) or the reason itself.
  const unavailable = (operation: string) => (error: { readonly message: string; readonly reason?: unknown }) =>
    Effect.fail(
      new BackendUnavailable({
        operation,
        detail: error instanceof RedisUnavailable
          ? error.detail
          : error.reason instanceof RedisUnavailable
          ? error.reason.detail
          : error.message
      })
    )

  const redisDown = (operation: string) => (error: Redis.RedisError) =>
    unavailable(operation)(RedisUnavailable.fromRedisError(operation)(error))

  // --- the runs of this process, attached to Redis ------------------------------------------------

  const prepareRun = (run: { readonly executionId: string; readonly workflow: string }) =>
    withRedis(RedisWorker.attach(run.executionId, {
      ...options.worker,
      prefix,
      owner,
      workflow: run.workflow,
      publishEvents
    })).pipe(
      Effect.tap((attached) =>
        Effect.sync(() => void Ref.getUnsafe(generations).set(run.executionId, attached.generation))
      ),
      Effect.map((attached): PreparedRun => ({
        checkerInterval: attached.runOptions.checkerInterval,
        onStart: attached.runOptions.onStart
      })),
      Effect.catch((error): Effect.Effect<never, NotResumable | BackendUnavailable> => {
        switch (error.reason._tag) {
          case "AlreadyOwned":
            return Effect.fail(
              new NotResumable({
                executionId: run.executionId,
                status: "running",
                detail: `it is running on worker ${error.reason.owner}`
              })
            )
          case "RedisUnavailable":
            return unavailable(`register execution ${run.executionId} in Redis`)(error.reason)
          case "InvalidStateId":
            return Effect.die(error)
        }
      })
    )

  const engine = yield* makeEngine(options, { prepareRun })
  const local = engine.service

  const withOwner = (info: ExecutionInfo) => new ExecutionInfo({ ...info, owner }, { disableChecks: true })

  // --- reading Redis -------------------------------------------------------------------------------

  const readRecord = (executionId: string) =>
    withRedis(Registry.get(executionId, { prefix })).pipe(
      Effect.catch((error) => unavailable(`read execution ${executionId}`)(error))
    )

  const readRecords = withRedis(Registry.list({ prefix })).pipe(
    Effect.catch((error) => unavailable("list the executions in Redis")(error))
  )

  const readReceipt = (executionId: string): Effect.Effect<Option.Option<CurrentReceipt>, BackendUnavailable> =>
    Effect.gen(function*() {
      const reply = yield* redis.send<unknown>("HGETALL", k.receipt(executionId)).pipe(
        Effect.catch(redisDown(`read the interrupt receipt of ${executionId}`))
      )
      const fields = Registry.fromPairs(reply)
      const status = decodeReceiptStatus({ ...fields, stateId: executionId })
      if (Option.isNone(status)) return Option.none()
      const raw = fields["request"]
      const signal = raw === undefined
        ? Option.none<InterruptSignal>()
        : Option.map(yield* Effect.option(RemoteInterrupt.decodeMessage(raw)), (request) => request.signal)
      const generation = fields["generation"] === undefined ? undefined : Number(fields["generation"])
      return Option.some({ status: status.value, signal, generation })
    })

  // A checkpoint that cannot be read only leaves fields out of the status.
  const readSnapshot = (executionId: string): Effect.Effect<Option.Option<StateSnapshot>> =>
    store.load(executionId).pipe(
      Effect.catch((error) =>
        Effect.as(
          Effect.logWarning("Could not read the checkpoint of an execution", error.message).pipe(
            Effect.annotateLogs({ executionId })
          ),
          Option.none()
        )
      )
    )

  // The record of this process while its run runs here or Redis has nothing newer; the registry's
  // otherwise (another worker runs it, or took it over since).
  const view = (executionId: string): Effect.Effect<View, ExecutionNotFound | BackendUnavailable> =>
    Effect.gen(function*() {
      if (!isStateId(executionId)) return yield* new ExecutionNotFound({ executionId })
      const found = engine.find(executionId)
      if (Option.isSome(found) && found.value.runningHere) return { _tag: "Local", local: found.value } as const
      const record = yield* readRecord(executionId)
      if (Option.isSome(found)) {
        if (Option.isNone(record) || record.value.generation === Ref.getUnsafe(generations).get(executionId)) {
          return { _tag: "Local", local: found.value } as const
        }
      }
      if (Option.isSome(record)) return { _tag: "Remote", record: record.value } as const
      return yield* new ExecutionNotFound({ executionId })
    })

  // The status of a run of another worker, from its registry record, its receipt and (for `get`)
  // its checkpoint.
  const remoteInfo = (
    record: Registry.RunRecord,
    receipt: Option.Option<CurrentReceipt>,
    snapshot: Option.Option<StateSnapshot>
  ): ExecutionInfo => {
    const current = Option.filter(receipt, (r) => isCurrent(record, r))
    const snap = Option.getOrUndefined(snapshot)
    const stopping = record.status === "running" &&
      Option.isSome(current) && current.value.status.delivered !== undefined
    const signal = Option.getOrUndefined(Option.flatMap(current, (r) => r.signal)) ??
      (record.status === "interrupted" && snap?.status === "interrupted" ? snap.metadata.interrupt : undefined)
    const saved = record.checkpoint === "saved" || (record.status === "lost" && snap !== undefined)
    let stages: ReadonlyArray<StageReached> = []
    if (Option.isSome(current)) stages = stagesOfReceipt(current.value.status)
    else if (signal !== undefined) {
      // stopped without a request through Redis (a timeout, a checker): raised and received at once
      const end = record.finishedAt
      stages = [
        { stage: "requested", at: signal.triggeredAt },
        { stage: "delivered", at: signal.triggeredAt },
        ...(end === undefined ? [] : [{ stage: "stopped" as const, at: end }]),
        ...(end === undefined || record.checkpoint !== "saved" ? [] : [{ stage: "checkpointed" as const, at: end }])
      ]
    }
    return new ExecutionInfo({
      executionId: record.stateId,
      workflow: record.workflow ?? snap?.metadata.workflow ?? "unknown",
      input: snap?.metadata.input ?? null,
      status: stopping ? "stopping" : record.status,
      startedBy: record.owner,
      createdAt: record.startedAt,
      updatedAt: record.updatedAt,
      ...(record.finishedAt === undefined ? {} : { finishedAt: record.finishedAt }),
      runs: record.generation,
      ...(signal === undefined ? {} : { interrupt: signal }),
      interruptStages: stages,
      progress: emptyProgress,
      ...(record.checkpoint === undefined ? {} : { checkpoint: record.checkpoint }),
      ...(saved ? { checkpointId: record.stateId } : {}),
      ...(record.status === "failed" && record.detail !== undefined ? { error: record.detail } : {}),
      watchers: Ref.getUnsafe(followers).get(record.stateId) ?? 0,
      owner: record.owner
    }, { disableChecks: true })
  }

  // --- list / get ------------------------------------------------------------------------------------

  const list: Effect.Effect<ReadonlyArray<ExecutionInfo>, BackendUnavailable> = Effect.gen(function*() {
    const records = yield* readRecords
    const byId = new Map(records.map((record) => [record.stateId, record]))
    const mine = Ref.getUnsafe(generations)
    const locals = (yield* local.list).filter((info) => {
      const record = byId.get(info.executionId)
      return record === undefined || record.generation === mine.get(info.executionId) ||
        Option.exists(engine.find(info.executionId), (found) => found.runningHere)
    })
    const shown = new Set(locals.map((info) => info.executionId))
    const remote = records.filter((record) => !shown.has(record.stateId))
    const receipts = yield* Effect.forEach(remote, (record) => readReceipt(record.stateId), { concurrency: 16 })
    return [
      ...locals.map(withOwner),
      ...remote.map((record, i) => remoteInfo(record, receipts[i] ?? Option.none(), Option.none()))
    ].sort(byNewest)
  })

  const get = (executionId: string): Effect.Effect<ExecutionInfo, ExecutionNotFound | BackendUnavailable> =>
    Effect.gen(function*() {
      const found = yield* view(executionId)
      if (found._tag === "Local") return withOwner(found.local.info)
      const [receipt, snapshot] = yield* Effect.all([readReceipt(executionId), readSnapshot(executionId)], {
        concurrency: "unbounded"
      })
      return remoteInfo(found.record, receipt, snapshot)
    })

  // --- interrupt -------------------------------------------------------------------------------------

  // A run already interrupted elsewhere: the winning signal from its receipt, its checkpoint, or
  // (when neither has it) the reason the registry recorded.
  const alreadyInterrupted = (executionId: string, record: Registry.RunRecord) =>
    Effect.gen(function*() {
      const info = remoteInfo(record, yield* readReceipt(executionId), yield* readSnapshot(executionId))
      const signal = info.interrupt ?? new InterruptSignal({
        reason: record.reason ?? "custom",
        triggeredAt: record.finishedAt ?? record.updatedAt,
        triggeredBy: record.owner
      })
      return new AlreadyInterrupted({
        executionId,
        signal,
        stages: info.interruptStages,
        ...(info.checkpointId === undefined ? {} : { checkpointId: info.checkpointId })
      })
    })

  const interruptThroughRedis = (executionId: string, request: InterruptOptions) =>
    Effect.gen(function*() {
      const receipt = yield* withRedis(RemoteInterrupt.interruptRemote(executionId, {
        reason: request.reason ?? "user_cancelled",
        triggeredBy: request.triggeredBy,
        ...(request.message === undefined ? {} : { message: request.message }),
        ...(request.saveCheckpoint === undefined ? {} : { saveCheckpoint: request.saveCheckpoint })
      }, { prefix })).pipe(
        Effect.catch((error) =>
          error.reason._tag === "RedisUnavailable"
            ? unavailable(`interrupt execution ${executionId}`)(error.reason)
            : Effect.die(error)
        )
      )
      // The run ended between our read and the request, which now waits for a resume that it would
      // stop at once: withdraw it, and answer as for a finished run.
      const ended = receipt.runStatus
      if (!receipt.duplicate && ended !== undefined && ended !== "running" && ended !== "lost") {
        yield* redis.eval(withdrawScript)(k, executionId, receipt.requestId).pipe(
          Effect.catch(redisDown(`withdraw the interrupt of ${executionId}`))
        )
        if (ended === "interrupted") {
          const record = yield* readRecord(executionId)
          if (Option.isSome(record)) return yield* alreadyInterrupted(executionId, record.value)
        }
        return yield* new ExecutionNotRunning({ executionId, status: ended })
      }
      // Answer once the worker has the request (or at the stage asked for), or at the timeout.
      const result = yield* withRedis(RemoteInterrupt.awaitStage(
        receipt,
        request.await ?? "delivered",
        request.await === undefined ? deliveryTimeout : (request.awaitTimeout ?? "30 seconds"),
        { prefix }
      )).pipe(Effect.catch((error) => unavailable(`follow the interrupt of ${executionId}`)(error)))
      const status = result._tag === "ReceiptGone" ? undefined : result.status
      const fields = {
        executionId,
        signal: receipt.signal,
        stages: status === undefined ? [{ stage: "requested" as const, at: receipt.requestedAt }] : stagesOfReceipt(status),
        ...(status?.checkpointId === undefined ? {} : { checkpointId: status.checkpointId })
      }
      return receipt.duplicate ? new AlreadyInterrupted(fields) : new InterruptAccepted(fields)
    })

  const interrupt = (
    executionId: string,
    request: InterruptOptions
  ): Effect.Effect<InterruptReceipt, ExecutionNotFound | ExecutionNotRunning | BackendUnavailable> =>
    Effect.gen(function*() {
      const found = yield* view(executionId)
      if (found._tag === "Local") {
        // A run of this process that already ended or already has its signal (from a request, a
        // timeout or a shutdown): the in-process answer is exact and changes nothing.
        if (!found.local.runningHere || found.local.info.interrupt !== undefined) {
          return yield* local.interrupt(executionId, request)
        }
        return yield* interruptThroughRedis(executionId, request)
      }
      const record = found.record
      switch (record.status) {
        case "completed":
        case "failed":
          return yield* new ExecutionNotRunning({ executionId, status: record.status })
        case "interrupted":
          return yield* alreadyInterrupted(executionId, record)
        case "running":
        case "lost":
          // a lost run keeps the request until it is resumed
          return yield* interruptThroughRedis(executionId, request)
      }
    })

  // --- events ----------------------------------------------------------------------------------------

  // Another worker's run, through its Redis Stream: blocking reads on a connection of its own (the
  // shared one must not block), resuming after `after`, ending after the current run's
  // ExecutionFinished — or, when the run stopped without one (its worker died), once what it
  // published has been read.
  const follow = (executionId: string, generation: number, after: number): Stream.Stream<Sequenced> => {
    const key = RedisWorker.eventsKey(k, executionId)
    const annotate = Effect.annotateLogs({ module: "agent-interrupt/http/RedisExecutions", executionId })
    const stillRunning = Effect.map(
      withRedis(Registry.get(executionId, { prefix })),
      (record) => Option.exists(record, (r) => r.status === "running" && r.generation === generation)
    )
    const count = (delta: number) =>
      Effect.sync(() => {
        const map = Ref.getUnsafe(followers)
        map.set(executionId, (map.get(executionId) ?? 0) + delta)
      })
    interface Cursor {
      readonly id: string
      readonly running: boolean
    }
    return Stream.unwrap(
      Effect.gen(function*() {
        yield* Effect.acquireRelease(count(1), () => count(-1))
        const connection = yield* redis.reserve.pipe(
          Effect.mapError(RedisUnavailable.fromRedisError("reserve a connection"))
        )
        const page = (cursor: Cursor) =>
          Effect.gen(function*() {
            const reply = yield* connection.send<unknown>(
              "XREAD",
              "COUNT",
              "500",
              ...(cursor.running ? ["BLOCK", String(followBlock)] : []),
              "STREAMS",
              key,
              cursor.id
            ).pipe(Effect.mapError(RedisUnavailable.fromRedisError("read the event stream")))
            const entries = entriesOf(reply)
            // Nothing new: once the run no longer runs, what it published has been read.
            if (entries.length === 0) {
              if (!cursor.running) return [[], Option.none<Cursor>()] as const
              return [[], Option.some({ id: cursor.id, running: yield* stillRunning })] as const
            }
            const out: Array<Sequenced> = []
            for (const entry of entries) {
              const event = yield* Effect.option(decodeEvent(entry.json))
              if (Option.isNone(event)) {
                yield* Effect.logWarning("Skipped an unreadable event in a run's event stream", entry.id).pipe(annotate)
                continue
              }
              out.push({ sequence: entry.sequence, event: event.value })
              // the end of the current run (the ends of earlier runs pass by, as in-process)
              if (event.value._tag === "ExecutionFinished" && entry.generation >= generation) {
                return [out, Option.none<Cursor>()] as const
              }
            }
            return [out, Option.some({ id: entries[entries.length - 1]!.id, running: cursor.running })] as const
          })
        return Stream.paginate({ id: `0-${after}`, running: yield* stillRunning }, page)
      })
    ).pipe(
      // Redis went away: the stream ends, and the reader reconnects with its Last-Event-ID.
      Stream.catch((error) =>
        Stream.fromEffect(
          Effect.logWarning("Stopped following a run's events: Redis failed", error.message).pipe(annotate)
        ).pipe(Stream.drain)
      )
    )
  }

  const events = (
    executionId: string,
    eventOptions: { readonly after?: number | undefined } = {}
  ): Effect.Effect<Stream.Stream<Sequenced>, ExecutionNotFound | EventsNotPublished | BackendUnavailable> =>
    Effect.gen(function*() {
      const found = yield* view(executionId)
      if (found._tag === "Local") return yield* local.events(executionId, eventOptions)
      const record = found.record
      const publishing = yield* redis.send<string | null>("HGET", k.run(executionId), RedisWorker.EVENTS_FIELD).pipe(
        Effect.catch(redisDown(`read the event stream of ${executionId}`))
      )
      if (publishing !== String(record.generation)) {
        return yield* new EventsNotPublished({ executionId, owner: record.owner })
      }
      return follow(executionId, record.generation, eventOptions.after ?? 0)
    })

  // --- resume ----------------------------------------------------------------------------------------

  const resume = (executionId: string, resumeOptions: { readonly resumedBy: string }) =>
    Effect.gen(function*() {
      if (!isStateId(executionId)) return yield* new ExecutionNotFound({ executionId })
      const found = engine.find(executionId)
      if (Option.isSome(found) && found.value.runningHere) return yield* engine.resume(executionId, resumeOptions)
      const record = yield* readRecord(executionId)
      if (Option.isNone(record)) return yield* engine.resume(executionId, resumeOptions)
      const r = record.value
      const refuse = (detail: string) => new NotResumable({ executionId, status: r.status, detail })
      switch (r.status) {
        case "running":
          return yield* refuse(`it is running on worker ${r.owner}`)
        case "completed":
        case "failed":
          return yield* refuse(`it is ${r.status}, not interrupted`)
        case "interrupted":
          if (r.checkpoint !== "saved") return yield* refuse("no checkpoint was saved when it was interrupted")
          break
        case "lost":
          break
      }
      // The record of this process is stale when another worker ran the execution since (and a lost
      // run resumes from the store's checkpoint in any case).
      const stale = Ref.getUnsafe(generations).get(executionId) !== r.generation
      if (Option.isSome(found) && (stale || r.status === "lost")) yield* engine.forget(executionId)
      return yield* engine.resume(executionId, {
        resumedBy: resumeOptions.resumedBy,
        // a lost run's last checkpoint may be one saved while it ran (saveEvery: "event")
        resumable: r.status === "lost" ? ["interrupted", "running"] : ["interrupted"]
      }).pipe(
        Effect.catchTag("ExecutionNotFound", () => Effect.fail(refuse("no checkpoint of it was saved")))
      )
    })

  return Executions.of({
    workflows: local.workflows,
    start: local.start,
    list,
    get,
    interrupt,
    events,
    resume,
    shutdown: local.shutdown
  })
})

/**
 * The executions of every server and worker sharing one Redis (see the module description). Needs
 * Effect's `Redis` service (`RedisConnection.layer` / `layerConfig`) and a `CheckpointStore` —
 * normally `CheckpointStore.layerRedis()`, so that any server can resume any run. On close it runs
 * `shutdown` (the runs of this process are interrupted with `system_shutdown` and checkpointed).
 *
 * **Example** (The control API on Redis)
 *
 * ```ts
 * import { Layer, Redacted } from "effect"
 * import { CheckpointStore } from "agent-interrupt"
 * import { RedisExecutions, Server } from "agent-interrupt/http"
 * import { RedisConnection } from "agent-interrupt/redis"
 *
 * const token = Redacted.make("a-long-random-secret-token")
 * const api = Server.layer({ port: 8080, auth: { credentials: [{ token, caller: "ops" }] } }).pipe(
 *   Layer.provideMerge(RedisExecutions.layerRedis({ owner: "api-8080" })),
 *   Layer.provide(CheckpointStore.layerRedis()),
 *   Layer.provide(RedisConnection.layerConfig())
 * )
 * // => GET /api/executions lists the runs of every worker; POST …/interrupt stops any of them
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerRedis = (
  options: RedisOptions = {}
): Layer.Layer<Executions, never, Redis.Redis | CheckpointStore> => Layer.effect(Executions, makeRedis(options))
