/**
 * The worker side of distributed control: run an execution so that any process can stop it through
 * Redis, and so that the registry and the receipts say what happened.
 *
 * `attach(stateId)` prepares a run before it starts: it subscribes to the execution's interrupt
 * channel (so no request published from then on is missed), claims the run in the registry (which
 * also reads a request that was already waiting — a tombstone) and keeps its heartbeat alive. Its
 * `runOptions` go into `Run.run` / `Run.resume`: the `onStart` hook turns each request into
 * `requestInterrupt` the moment it arrives (push), installs a checker that reads the interrupt key at
 * most once per `pollInterval` (poll: the safety net for a message lost while the subscription was
 * down), honours the tombstone, and records `delivered` as soon as a request arrives. When the run
 * ends, `stopped` (the time of its first `interrupted` event), `checkpointed` (its final snapshot was
 * saved) and the end of the run in the registry are written from the bus history: no bus subscriber
 * runs during the run, so remote control adds no work to the stop itself.
 *
 * With `publishEvents: true`, the run's bus events also go to the Redis Stream
 * `{prefix}events:{stateId}` (one entry per event, id `0-{sequence}` with the sequence growing
 * across resumes while the stream lives, trimmed to about `eventsMaxLength` entries, expiring
 * `eventsTtl` after the run ends), and the registry record says which run generation publishes
 * (field `events`), so any process can follow the run (the control API on Redis does). It is off by
 * default: it adds a bus subscriber and one Redis write per event to the run; a failed write is
 * logged (once per outage) and the run goes on.
 *
 * `runWorker(workflow, input)` and `resumeWorker(workflows, stateId)` do all of it for a registered
 * workflow.
 *
 * A malformed request is logged (and shown on the bus as a warning `LogEvent`) and ignored. When Redis
 * goes away the run goes on: the checker's failures go through `onCheckerError` (default
 * `"continue"`), the heartbeat and receipt writes are logged, and the subscription is renewed once
 * Redis is back.
 *
 * @since 0.1.0
 */
import { Cause, Clock, Duration, Effect, Fiber, Option, Queue, Ref, Schedule, Schema, type Scope } from "effect"
import { Redis } from "effect/persistence"
import * as os from "node:os"
import type { ActorContractError } from "../Actor.ts"
import { CheckpointError, CheckpointStore } from "../Checkpoint.ts"
import { type BusEvent, BusEventJson, type ExecutionEvent, type ExecutionFinished } from "../EventBus.ts"
import { isStateId } from "../ExecutionState.ts"
import type { ExecutionInterrupted, InterruptChecker } from "../Interrupt.ts"
import * as Run from "../Run.ts"
import * as Workflow from "../Workflow.ts"
import { isoNow, positiveMillis } from "../internal/time.ts"
import { AlreadyOwned, InvalidStateId, RedisUnavailable } from "./Errors.ts"
import * as Keys from "./Keys.ts"
import * as Registry from "./Registry.ts"
import * as RemoteInterrupt from "./RemoteInterrupt.ts"

// -----------------------------------------------------------------------------
// Models
// -----------------------------------------------------------------------------

/**
 * A worker could not take a run; `reason` says why.
 *
 * @category errors
 * @since 0.1.0
 */
export class WorkerError extends Schema.TaggedError<WorkerError>("agent-interrupt/redis/WorkerError")(
  "WorkerError",
  { reason: Schema.Union([InvalidStateId, AlreadyOwned, RedisUnavailable]) }
) {
  override get message(): string {
    return this.reason.message
  }
}

/**
 * Options of {@link attach}.
 *
 * **Details**
 *
 * - `prefix`: the key prefix (default: the current `KeyPrefix`).
 * - `owner`: this worker's id in the registry and the receipts (default `{hostname}:{pid}:{random}`).
 * - `workflow`: the workflow name recorded in the registry.
 * - `pollInterval`: the checker reads the interrupt key at most this often (default 1 second); it is
 *   the run's `checkerInterval`.
 * - `pollTimeout`: how long one read may take before it counts as a checker failure (default 500 ms).
 * - `heartbeatInterval`: how often the heartbeat is refreshed (default 1 second).
 * - `heartbeatTtl`: how long the heartbeat outlives the last refresh; after that the run is `lost`
 *   (default 5 seconds).
 * - `receiptTtl`: how long receipts are kept after their last stage (default 24 hours).
 * - `runTtl`: how long registry records are kept after their last update (default 7 days).
 * - `publishEvents`: also write the run's bus events to its Redis Stream, so other processes can
 *   follow it (default `false`).
 * - `eventsMaxLength`: about how many events the stream keeps (default 10,000; trimmed with `~`).
 * - `eventsTtl`: how long the stream is kept after the run ends (default 1 hour).
 *
 * @category options
 * @since 0.1.0
 */
export interface WorkerOptions {
  readonly prefix?: string | undefined
  readonly owner?: string | undefined
  readonly workflow?: string | undefined
  readonly pollInterval?: Duration.Input | undefined
  readonly pollTimeout?: Duration.Input | undefined
  readonly heartbeatInterval?: Duration.Input | undefined
  readonly heartbeatTtl?: Duration.Input | undefined
  readonly receiptTtl?: Duration.Input | undefined
  readonly runTtl?: Duration.Input | undefined
  readonly publishEvents?: boolean | undefined
  readonly eventsMaxLength?: number | undefined
  readonly eventsTtl?: Duration.Input | undefined
}

/**
 * The `onStart` hook of a worker run.
 *
 * @category models
 * @since 0.1.0
 */
export type OnStart = (execution: Run.RunningExecution) => Effect.Effect<void, never, Scope.Scope>

/**
 * A run prepared by {@link attach}: spread `runOptions` into the options of one `Run.run` /
 * `Run.resume` (one run per attachment).
 *
 * @category models
 * @since 0.1.0
 */
export interface Attachment {
  readonly stateId: string
  readonly owner: string
  readonly generation: number
  readonly runOptions: {
    readonly stateId: string
    readonly checkerInterval: Duration.Duration
    readonly onStart: OnStart
  }
}

/**
 * Options of {@link runWorker} and {@link resumeWorker}: the worker's options plus those of the run.
 *
 * @category options
 * @since 0.1.0
 */
export interface RunWorkerOptions
  extends WorkerOptions, Omit<Run.RunOptions, "stateId" | "workflow" | "input" | "checkerInterval">
{
  /** The execution's id (default `{workflow}-{random}`). */
  readonly stateId?: string | undefined
}

/**
 * What a workflow run through a worker can fail with.
 *
 * @category models
 * @since 0.1.0
 */
export type WorkflowFailure = ExecutionInterrupted | ActorContractError | Workflow.WorkflowError

type Update =
  | {
    readonly _tag: "Delivered"
    readonly raw: string
    readonly request: RemoteInterrupt.InterruptRequest
    readonly via: RemoteInterrupt.Delivery
    readonly at: string
  }
  | { readonly _tag: "Stopped"; readonly at: string }
  | { readonly _tag: "Finished"; readonly event: ExecutionFinished }

// -----------------------------------------------------------------------------
// Helpers
// -----------------------------------------------------------------------------

const MODULE = "agent-interrupt/redis/RedisWorker"

/**
 * A worker id: `{hostname}:{pid}:{4 random hex digits}`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeOwner = (): string => `${os.hostname()}:${process.pid}:${globalThis.crypto.randomUUID().slice(0, 4)}`


const firstLine = (text: string) => text.split("\n")[0] ?? text

const preview = (raw: string) => raw.length > 120 ? `${raw.slice(0, 120)}…` : raw

/**
 * The Redis Stream a run publishes its events to (`{prefix}events:{stateId}`). Each entry has the
 * fields `gen` (the run generation that published it) and `event` (the bus event as JSON); its id
 * is `0-{sequence}`.
 *
 * @category keys
 * @since 0.1.0
 */
export const eventsKey = (k: Keys.Keys, stateId: string): string => `${k.prefix}events:${stateId}`

/**
 * The registry record's field naming the run generation that publishes its events.
 *
 * @category keys
 * @since 0.1.0
 */
export const EVENTS_FIELD = "events"

// KEYS: run record, events stream; ARGV: generation
// The stream lives while the run runs (a TTL left by an earlier run is removed).
const markPublishingScript = Redis.script(
  (k: Keys.Keys, stateId: string, generation: number) => [k.run(stateId), eventsKey(k, stateId), generation],
  {
    numberOfKeys: 2,
    lua: `
redis.call('HSET', KEYS[1], '${EVENTS_FIELD}', ARGV[1])
redis.call('PERSIST', KEYS[2])
return 1
`
  }
).withReturnType<number>()

// KEYS: events stream; ARGV: max length, generation, event JSON, ttl ms
const publishLastScript = Redis.script(
  (k: Keys.Keys, stateId: string, maxLength: number, generation: number, json: string, ttl: number) => [
    eventsKey(k, stateId),
    maxLength,
    generation,
    json,
    ttl
  ],
  {
    numberOfKeys: 1,
    lua: `
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '0-*', 'gen', ARGV[2], 'event', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return id
`
  }
).withReturnType<string>()

const encodeEvent = Schema.encodeEffect(BusEventJson)


// Renewing a lost subscription: quickly at first, then every 2 seconds at most.
const resubscribeSchedule = Schedule.exponential("100 millis").pipe(
  Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, Duration.seconds(2))))
)

// -----------------------------------------------------------------------------
// attach
// -----------------------------------------------------------------------------

/**
 * Prepares the run of `stateId` on this worker: subscribes to its interrupt channel, claims it in
 * the registry (failing with `AlreadyOwned` when a living worker runs it), and keeps its heartbeat
 * alive for as long as the scope lives. Returns the options to give `Run.run` / `Run.resume`.
 *
 * **Example** (A program of your own as a Redis worker)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { checkInterrupt, RedisWorker, Run } from "agent-interrupt"
 *
 * const program = Effect.forever(Effect.andThen(checkInterrupt, Effect.sleep("100 millis")))
 * const worker = Effect.scoped(Effect.gen(function*() {
 *   const attached = yield* RedisWorker.attach("job-42")
 *   return yield* Run.run(program, attached.runOptions)
 * }))
 * // => Interrupted once any process calls RemoteInterrupt.interruptRemote("job-42")
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const attach = (
  stateId: string,
  options: WorkerOptions = {}
): Effect.Effect<Attachment, WorkerError, Redis.Redis | Scope.Scope> =>
  Effect.gen(function*() {
    if (!isStateId(stateId)) return yield* new WorkerError({ reason: new InvalidStateId({ stateId }) })
    const redis = yield* Redis.Redis
    const k = yield* Keys.resolve(options.prefix)
    const owner = options.owner ?? makeOwner()
    const pollInterval = Duration.fromInputUnsafe(options.pollInterval ?? "1 second")
    const pollTimeout = Duration.fromInputUnsafe(options.pollTimeout ?? "500 millis")
    const heartbeatInterval = Duration.fromInputUnsafe(options.heartbeatInterval ?? "1 second")
    const heartbeatTtl = options.heartbeatTtl ?? "5 seconds"
    const runTtl = options.runTtl ?? "7 days"
    const publishEvents = options.publishEvents ?? false
    const eventsMaxLength = options.eventsMaxLength ?? 10_000
    const eventsTtl = positiveMillis(options.eventsTtl ?? "1 hour")
    const recordOptions = { prefix: k.prefix, ttl: options.receiptTtl ?? "24 hours" }
    const registryOptions = { prefix: k.prefix, workflow: options.workflow, heartbeatTtl, runTtl }
    const annotate = Effect.annotateLogs({ module: MODULE, stateId })

    // 1. Subscribe before anything else: from here on, no published request is missed.
    const channel = k.interruptChannel(stateId)
    const firstSubscription = yield* redis.subscribe(channel)

    // 2. Claim the run; the request already waiting for it (a tombstone) comes back in the same step.
    const claimed = yield* Registry.claim(stateId, { ...registryOptions, owner }).pipe(
      Effect.mapError((error) => new WorkerError({ reason: error.reason }))
    )

    // The run's followers learn that this generation publishes its events. Without it they are
    // told there is nothing to follow; the run itself goes on.
    if (publishEvents) {
      yield* redis.eval(markPublishingScript)(k, stateId, claimed.generation).pipe(
        Effect.catch((error) =>
          Effect.logWarning("Could not announce the run's event stream; nobody can follow it", String(error.cause))
        ),
        annotate
      )
    }

    // 3. The heartbeat lives as long as the scope; a failed refresh is logged and retried next time.
    yield* Registry.beat(claimed, registryOptions).pipe(
      Effect.catch((error) => Effect.logWarning("Heartbeat could not be refreshed", error.message)),
      Effect.repeat(Schedule.spaced(heartbeatInterval)),
      annotate,
      Effect.forkScoped
    )

    const onStart: OnStart = ({ bus, state }) =>
      Effect.gen(function*() {
        // --- the recorder: receipt stages and the registry, written in order by one fiber -----------
        const updates = yield* Queue.unbounded<Update, Cause.Done>()
        const offer = (update: Update) => Effect.sync(() => void Queue.offerUnsafe(updates, update))
        const write = (update: Update): Effect.Effect<void> => {
          const effect: Effect.Effect<unknown, RemoteInterrupt.RemoteInterruptError | Registry.RegistryError, Redis.Redis> =
            update._tag === "Delivered"
              ? RemoteInterrupt.recordDelivered(stateId, {
                raw: update.raw,
                request: update.request,
                at: update.at,
                owner,
                via: update.via,
                generation: claimed.generation
              }, recordOptions)
              : update._tag === "Stopped"
              ? RemoteInterrupt.recordStopped(stateId, update.at, claimed.generation, recordOptions)
              : Effect.andThen(
                RemoteInterrupt.recordFinished(stateId, {
                  at: update.event.timestamp,
                  generation: claimed.generation,
                  interrupted: update.event.status === "interrupted",
                  checkpoint: update.event.checkpoint,
                  checkpointId: update.event.checkpointId
                }, recordOptions),
                Registry.finish(claimed, {
                  ...registryOptions,
                  status: update.event.status,
                  checkpoint: update.event.checkpoint,
                  reason: update.event.signal?.reason,
                  detail: update.event.detail
                })
              )
          return effect.pipe(
            Effect.provideService(Redis.Redis, redis),
            Effect.catch((error) => Effect.logWarning(`Could not record ${update._tag} in Redis`, error.message)),
            Effect.asVoid,
            // a write in flight finishes even while the run is shutting down
            Effect.uninterruptible
          )
        }
        const recorder = yield* Queue.take(updates).pipe(
          Effect.flatMap(write),
          Effect.forever,
          // the queue ends (Done) when the run's scope closes
          Effect.catchIf(Cause.isDone, () => Effect.void),
          annotate,
          Effect.forkScoped({ startImmediately: true })
        )
        // When the run has ended, its bus history holds the first `interrupted` event and
        // `ExecutionFinished`: `stopped`, `checkpointed` and the registry's status are written from
        // them (with the events' own timestamps), then the recorder finishes. No bus subscriber runs
        // during the run, so remote control adds no fiber to wake on the stop path.
        yield* Effect.addFinalizer(() =>
          Effect.gen(function*() {
            const history = yield* bus.history
            const stop = history.find((event): event is ExecutionEvent =>
              event._tag === "ExecutionEvent" && event.status === "interrupted"
            )
            const end = history.findLast((event): event is ExecutionFinished => event._tag === "ExecutionFinished")
            if (stop !== undefined) yield* offer({ _tag: "Stopped", at: stop.timestamp })
            if (end !== undefined) yield* offer({ _tag: "Finished", event: end })
            yield* Queue.end(updates)
            yield* Fiber.await(recorder).pipe(Effect.timeoutOption("5 seconds"))
          })
        )

        // --- events for followers (opt-in) ------------------------------------------------------------
        // Subscribed after the recorder's finalizer, so its drain (which publishes ExecutionFinished)
        // runs before the registry records the end: a follower that sees the run ended finds its end
        // in the stream.
        if (publishEvents) {
          const failing = yield* Ref.make(false)
          const publish = (event: BusEvent): Effect.Effect<void> =>
            encodeEvent(event).pipe(
              Effect.mapError((error) => error.message),
              Effect.flatMap((json) =>
                (event._tag === "ExecutionFinished"
                  ? redis.eval(publishLastScript)(k, stateId, eventsMaxLength, claimed.generation, json, eventsTtl)
                  : redis.send<string>(
                    "XADD",
                    eventsKey(k, stateId),
                    "MAXLEN",
                    "~",
                    String(eventsMaxLength),
                    "0-*",
                    "gen",
                    String(claimed.generation),
                    "event",
                    json
                  )).pipe(Effect.mapError((error) => RedisUnavailable.fromRedisError("publish an event")(error).message))
              ),
              Effect.matchEffect({
                // logged once per outage: a run with many events must not flood the log
                onFailure: (message) =>
                  Effect.flatMap(Ref.getAndSet(failing, true), (already) =>
                    already
                      ? Effect.void
                      : Effect.logWarning("Could not publish the run's events to Redis; its followers miss them", message)),
                onSuccess: () => Ref.set(failing, false)
              }),
              annotate,
              // a write in flight finishes when the run's scope closes the subscription
              Effect.uninterruptible
            )
          yield* bus.subscribe(publish)
        }

        // --- delivery -------------------------------------------------------------------------------
        const delivered = (
          raw: string,
          request: RemoteInterrupt.InterruptRequest,
          via: RemoteInterrupt.Delivery,
          at: string
        ) => offer({ _tag: "Delivered", raw, request, via, at })
        // The stop first, then its receipt (stamped with the arrival time) for the recorder.
        const deliver = (raw: string, request: RemoteInterrupt.InterruptRequest, via: RemoteInterrupt.Delivery) =>
          Effect.flatMap(isoNow, (at) =>
            Effect.andThen(state.requestInterrupt(request.signal), delivered(raw, request, via, at)))

        const malformed = (where: string, raw: string, error: Schema.SchemaError) =>
          Effect.gen(function*() {
            const message = `Ignored a malformed interrupt request on ${where}: ${firstLine(error.message)}`
            yield* Effect.logWarning(message, preview(raw)).pipe(annotate)
            yield* bus.publish({ _tag: "LogEvent", stateId, level: "warning", message, timestamp: yield* isoNow })
          })

        // --- push: every message on the channel, the moment it arrives ------------------------------
        const handle = (message: Redis.RedisMessage) =>
          RemoteInterrupt.decodeMessage(message.message).pipe(
            Effect.matchEffect({
              onFailure: (error) => malformed(`channel ${channel}`, message.message, error),
              onSuccess: (request) => Effect.asVoid(deliver(message.message, request, "push"))
            })
          )
        const consume = (subscription: Queue.Dequeue<Redis.RedisMessage, Redis.RedisError>) =>
          Effect.forever(Effect.flatMap(Queue.take(subscription), handle))
        const renew = Effect.scoped(Effect.flatMap(redis.subscribe(channel), consume)).pipe(
          Effect.tapError((error) => Effect.logWarning("Interrupt subscription lost; renewing it", error.cause)),
          Effect.retry(resubscribeSchedule)
        )
        yield* consume(firstSubscription).pipe(
          Effect.catch((error) =>
            Effect.logWarning("Interrupt subscription lost; renewing it", error.cause).pipe(Effect.andThen(renew))
          ),
          annotate,
          Effect.forkScoped({ startImmediately: true })
        )

        // --- tombstone: a request that was waiting when the run was claimed --------------------------
        if (Option.isSome(claimed.pending)) {
          const raw = claimed.pending.value
          yield* RemoteInterrupt.decodeMessage(raw).pipe(
            Effect.matchEffect({
              onFailure: (error) => malformed(`key ${k.interrupt(stateId)}`, raw, error),
              onSuccess: (request) => Effect.asVoid(deliver(raw, request, "tombstone"))
            })
          )
        }

        // --- poll: the checker reads the key (at most once per pollInterval, via checkerInterval) ----
        const lastMalformed = yield* Ref.make<string | undefined>(undefined)
        const key = k.interrupt(stateId)
        const poll = redis.send<string | null>("GET", key).pipe(
          Effect.mapError(RedisUnavailable.fromRedisError("poll the interrupt key")),
          Effect.timeoutOrElse({
            duration: pollTimeout,
            orElse: () =>
              Effect.fail(
                new RedisUnavailable({
                  operation: "poll the interrupt key",
                  detail: `no answer within ${Duration.format(pollTimeout)}`
                })
              )
          }),
          Effect.flatMap((raw) =>
            Effect.gen(function*() {
              if (raw === null || raw === (yield* Ref.get(lastMalformed))) return undefined
              const decoded = yield* Effect.result(RemoteInterrupt.decodeMessage(raw))
              if (decoded._tag === "Failure") {
                yield* Ref.set(lastMalformed, raw)
                yield* malformed(`key ${key}`, raw, decoded.failure)
                return undefined
              }
              yield* delivered(raw, decoded.success, "poll", yield* isoNow)
              return decoded.success.signal
            })
          )
        )
        const checker: InterruptChecker = () => poll
        yield* state.setInterruptChecker(checker)
      })

    return {
      stateId,
      owner,
      generation: claimed.generation,
      runOptions: { stateId, checkerInterval: pollInterval, onStart }
    }
  })

// -----------------------------------------------------------------------------
// runWorker / resumeWorker
// -----------------------------------------------------------------------------

const splitOptions = (options: RunWorkerOptions) => {
  const {
    heartbeatInterval,
    heartbeatTtl,
    onStart,
    owner,
    pollInterval,
    pollTimeout,
    prefix,
    receiptTtl,
    runTtl,
    publishEvents,
    eventsMaxLength,
    eventsTtl,
    stateId: _stateId,
    workflow: _workflow,
    ...run
  } = options
  const worker: WorkerOptions = {
    publishEvents,
    eventsMaxLength,
    eventsTtl,
    heartbeatInterval,
    heartbeatTtl,
    owner,
    pollInterval,
    pollTimeout,
    prefix,
    receiptTtl,
    runTtl
  }
  return { worker, run, onStart }
}

const withAttachment = (attached: Attachment, onStart: Run.RunOptions["onStart"]) => ({
  checkerInterval: attached.runOptions.checkerInterval,
  onStart: onStart === undefined
    ? attached.runOptions.onStart
    : ((execution: Parameters<OnStart>[0]) => Effect.andThen(attached.runOptions.onStart(execution), onStart(execution)))
})

/**
 * Runs a registered workflow as a Redis worker: `attach`, then `Run.run`, with the workflow and its
 * input recorded in the snapshot. With a `CheckpointStore` in context (`RedisStore.layerRedis`), the
 * final snapshot is saved there, so another worker can resume it.
 *
 * @category constructors
 * @since 0.1.0
 */
export const runWorker = (
  workflow: Workflow.Registered,
  input: unknown,
  options: RunWorkerOptions = {}
): Effect.Effect<
  Run.Outcome<unknown, WorkflowFailure>,
  WorkerError | CheckpointError | Workflow.InvalidWorkflowInput,
  Redis.Redis
> =>
  Effect.scoped(Effect.gen(function*() {
    const prepared = yield* workflow.prepare(input)
    const stateId = options.stateId ?? Workflow.newStateId(workflow.name, yield* Clock.currentTimeMillis)
    const { onStart, run, worker } = splitOptions(options)
    const attached = yield* attach(stateId, { ...worker, workflow: workflow.name })
    return yield* Run.run(prepared.program, {
      ...run,
      ...withAttachment(attached, onStart),
      stateId,
      workflow: workflow.name,
      input: prepared.input
    })
  }))

/**
 * Resumes an execution from its checkpoint as a Redis worker — typically on another machine than the
 * one it was interrupted (or lost) on: loads the snapshot, finds its workflow among `workflows`,
 * `attach`es and `Run.resume`s it. Completed events are replayed, not run again.
 *
 * @category constructors
 * @since 0.1.0
 */
export const resumeWorker = (
  workflows: ReadonlyArray<Workflow.Registered>,
  stateId: string,
  options: Omit<RunWorkerOptions, "stateId"> = {}
): Effect.Effect<
  Run.Outcome<unknown, WorkflowFailure>,
  WorkerError | CheckpointError | Workflow.UnknownWorkflow | Workflow.InvalidWorkflowInput,
  Redis.Redis | CheckpointStore
> =>
  Effect.scoped(Effect.gen(function*() {
    const snapshot = yield* Run.loadResumable(stateId)
    const { program, workflow } = yield* Run.workflowOf(workflows, snapshot)
    const { onStart, run, worker } = splitOptions(options)
    const attached = yield* attach(stateId, { ...worker, workflow: workflow.name })
    return yield* Run.resume(stateId, program, { ...run, ...withAttachment(attached, onStart) })
  }))
