/**
 * Remote control on Redis: the control plane's backend for executions that run in other processes.
 *
 * A run of this process, once attached, publishes its bus events to the Redis Stream
 * `{prefix}{stateId}:events` (entry id `0-{sequence}`, so a reader resumes with the id it saw, across
 * resumes and processes) and listens for requests addressed to its owner: pushed on the channel
 * `{prefix}{stateId}:control`, and kept in `{prefix}{stateId}:request` so that a checker finds one
 * whose message was lost (at most once per `pollInterval`). A request names the owner of the
 * attempt it targets (the holder of the execution's lease): it is written only while that lease is
 * held — a run that is not running answers `not_running` and nothing is left behind — and a later
 * attempt (another owner) never sees it.
 *
 * Any process follows a run through its stream (`XREAD BLOCK` on a reserved connection) until its
 * attempt ends or its lease is gone.
 *
 * @since 0.2.0
 */
import { Context, Duration, Effect, Fiber, Layer, Option, Queue, Ref, Schema, Stream } from "effect"
import { Redis } from "effect/persistence"
import { BusEventJson, type Sequenced } from "../EventBus.ts"
import { BackendUnavailable, type Remote } from "../Executions.ts"
import { InterruptSignal } from "../Interrupt.ts"
import { errorMessage } from "../internal/text.ts"
import { positiveMillis } from "../internal/time.ts"
import * as Keys from "./Keys.ts"

// -----------------------------------------------------------------------------
// Models
// -----------------------------------------------------------------------------

/**
 * What goes on a run's request key or answers hash and its control channel, for the owner of the
 * attempt it targets: an interrupt (`signal`), or an answer to one of its waiting inputs (`answer`).
 *
 * @category models
 * @since 0.2.0
 */
export class ControlRequest extends Schema.Class<ControlRequest>("agent-interrupt/redis/ControlRequest")({
  requestId: Schema.String,
  owner: Schema.String,
  signal: Schema.optionalKey(InterruptSignal),
  answer: Schema.optionalKey(Schema.Struct({
    inputId: Schema.String,
    value: Schema.Json,
    answeredBy: Schema.optionalKey(Schema.String)
  }))
}) {}

/**
 * `ControlRequest` as JSON.
 *
 * @category codecs
 * @since 0.2.0
 */
export const ControlRequestJson = Schema.fromJsonString(ControlRequest)

/**
 * Options of {@link RemoteControl.layer}.
 *
 * **Details**
 *
 * - `prefix`: the key prefix (default: the current `KeyPrefix`).
 * - `pollInterval`: how often a run's checker reads its request key, for a request whose message was
 *   lost (default 1 second).
 * - `requestTtl`: how long a request waits for its owner (default 1 hour).
 * - `eventsMaxLength`: about how many events a run's stream keeps (default 10,000; trimmed with `~`).
 * - `eventsTtl`: how long a run's stream is kept after its attempt ends (default 1 hour).
 * - `followInterval`: how long one blocking read of a followed run lasts; between two reads its lease
 *   is checked, so following a run whose owner died ends within about this time (default 1 second).
 *
 * @category options
 * @since 0.2.0
 */
export interface RemoteControlOptions {
  readonly prefix?: string | undefined
  readonly pollInterval?: Duration.Input | undefined
  readonly requestTtl?: Duration.Input | undefined
  readonly eventsMaxLength?: number | undefined
  readonly eventsTtl?: Duration.Input | undefined
  readonly followInterval?: Duration.Input | undefined
}

// -----------------------------------------------------------------------------
// Scripts
// -----------------------------------------------------------------------------

// KEYS: lease, request, control channel; ARGV: request id, signal JSON, ttl ms
const interruptScript = Redis.script(
  (k: Keys.Keys, stateId: string, requestId: string, signal: string, ttl: number) => [
    k.lease(stateId),
    k.request(stateId),
    k.control(stateId),
    requestId,
    signal,
    ttl
  ],
  {
    numberOfKeys: 3,
    lua: `
local owner = redis.call('GET', KEYS[1])
if not owner then return {'not_running', ''} end
local pending = redis.call('GET', KEYS[2])
if pending then
  local ok, decoded = pcall(cjson.decode, pending)
  if ok and type(decoded) == 'table' and decoded.owner == owner then return {'duplicate', owner} end
end
local request = cjson.encode({requestId = ARGV[1], owner = owner, signal = cjson.decode(ARGV[2])})
redis.call('SET', KEYS[2], request, 'PX', ARGV[3])
redis.call('PUBLISH', KEYS[3], request)
return {'sent', owner}
`
  }
).withReturnType<readonly [string, string]>()

// KEYS: lease, answers, control channel; ARGV: request id, input id, answer JSON, ttl ms
const answerScript = Redis.script(
  (k: Keys.Keys, stateId: string, requestId: string, inputId: string, answer: string, ttl: number) => [
    k.lease(stateId),
    k.answers(stateId),
    k.control(stateId),
    requestId,
    inputId,
    answer,
    ttl
  ],
  {
    numberOfKeys: 3,
    lua: `
local owner = redis.call('GET', KEYS[1])
if not owner then return 'not_running' end
-- the answer is embedded as sent: decoding and encoding it again would lose its key order
local request = '{"requestId":' .. cjson.encode(ARGV[1]) .. ',"owner":' .. cjson.encode(owner) .. ',"answer":' .. ARGV[3] .. '}'
redis.call('HSET', KEYS[2], ARGV[2], request)
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('PUBLISH', KEYS[3], request)
return 'sent'
`
  }
).withReturnType<string>()

// KEYS: request; ARGV: request id. Deletes the waiting request if it is that one.
const deliveredScript = Redis.script(
  (k: Keys.Keys, stateId: string, requestId: string) => [k.request(stateId), requestId],
  {
    numberOfKeys: 1,
    lua: `
local pending = redis.call('GET', KEYS[1])
if not pending then return 0 end
local ok, decoded = pcall(cjson.decode, pending)
if ok and type(decoded) == 'table' and decoded.requestId == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
return 0
`
  }
).withReturnType<number>()

// KEYS: events, attempt; ARGV: max length, ttl ms, then (sequence, JSON, kind) per event where kind
// is 's' (ExecutionStarted), 'f' (ExecutionFinished) or '-'. Events at or below the stream's top are
// skipped (already published).
const publishScript = Redis.script(
  (k: Keys.Keys, stateId: string, maxLength: number, ttl: number, events: ReadonlyArray<readonly [number, string, string]>) => [
    k.events(stateId),
    k.attempt(stateId),
    maxLength,
    ttl,
    ...events.flatMap(([sequence, json, kind]) => [sequence, json, kind])
  ],
  {
    numberOfKeys: 2,
    lua: `
for i = 3, #ARGV, 3 do
  local added = redis.pcall('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '0-' .. ARGV[i], 'e', ARGV[i + 1])
  if type(added) ~= 'table' or not added.err then
    if ARGV[i + 2] == 's' then
      redis.call('SET', KEYS[2], ARGV[i])
      redis.call('PERSIST', KEYS[1])
    elseif ARGV[i + 2] == 'f' then
      redis.call('PEXPIRE', KEYS[1], ARGV[2])
      redis.call('PEXPIRE', KEYS[2], ARGV[2])
    end
  end
end
return 1
`
  }
).withReturnType<number>()

// -----------------------------------------------------------------------------
// Service
// -----------------------------------------------------------------------------

const Entries = Schema.Array(Schema.Tuple([Schema.String, Schema.Array(Schema.String)]))
const decodeEntries = Schema.decodeUnknownOption(Entries)
const XReadReply = Schema.NullOr(Schema.Array(Schema.Tuple([Schema.String, Entries])))
const decodeXRead = Schema.decodeUnknownOption(XReadReply)
const decodeEvent = Schema.decodeUnknownOption(BusEventJson)
const encodeEvent = Schema.encodeSync(BusEventJson)
const decodeRequest = Schema.decodeUnknownOption(ControlRequestJson)
const encodeSignal = Schema.encodeSync(Schema.fromJsonString(InterruptSignal))

const sequenceOf = (id: string) => Number(id.slice(id.indexOf("-") + 1))

// Stream entries as sequenced events (an entry that does not decode is skipped: a foreign writer).
const toSequenced = (entries: ReadonlyArray<readonly [string, ReadonlyArray<string>]>): Array<Sequenced> => {
  const out: Array<Sequenced> = []
  for (const [id, fields] of entries) {
    const at = fields.indexOf("e")
    if (at < 0 || at + 1 >= fields.length) continue
    const event = decodeEvent(fields[at + 1])
    if (Option.isSome(event)) out.push({ sequence: sequenceOf(id), event: event.value })
  }
  return out
}

/**
 * The control plane's Redis backend: what `RedisExecutions.layer` gives `Executions` so it can see
 * and reach the runs of every process sharing this Redis.
 *
 * @category services
 * @since 0.2.0
 */
export class RemoteControl extends Context.Service<RemoteControl, Remote>()("agent-interrupt/redis/RemoteControl") {
  /**
   * Remote control over the `Redis` service in context (`RedisConnection.layer`).
   */
  static readonly layer = (options: RemoteControlOptions = {}): Layer.Layer<RemoteControl, never, Redis.Redis> =>
    Layer.effect(RemoteControl, make(options))
}

/**
 * Builds remote control: resolves `Redis`, the keys and the defaults once.
 *
 * @category constructors
 * @since 0.2.0
 */
export const make = Effect.fnUntraced(function*(options: RemoteControlOptions = {}) {
  const redis = yield* Redis.Redis
  const k = yield* Keys.resolve(options.prefix)
  const pollInterval = Duration.fromInputUnsafe(options.pollInterval ?? "1 second")
  const requestTtl = positiveMillis(options.requestTtl ?? "1 hour")
  const eventsMaxLength = options.eventsMaxLength ?? 10_000
  const eventsTtl = positiveMillis(options.eventsTtl ?? "1 hour")
  const followMs = positiveMillis(options.followInterval ?? "1 second")
  const unavailable = (operation: string) => (error: Redis.RedisError) =>
    new BackendUnavailable({ operation, detail: errorMessage(error.cause) })
  const annotate = Effect.annotateLogs({ module: "agent-interrupt/redis/RemoteControl" })

  // --- controller side ----------------------------------------------------------------

  const interrupt: Remote["interrupt"] = (stateId, signal) =>
    Effect.map(
      redis.eval(interruptScript)(k, stateId, globalThis.crypto.randomUUID(), encodeSignal(signal), requestTtl).pipe(
        Effect.mapError(unavailable("send an interrupt"))
      ),
      ([disposition]) => disposition === "sent" ? "sent" : disposition === "duplicate" ? "duplicate" : "not_running"
    )

  const answer: Remote["answer"] = (stateId, given) =>
    Effect.map(
      redis.eval(answerScript)(
        k,
        stateId,
        globalThis.crypto.randomUUID(),
        given.inputId,
        JSON.stringify(given),
        requestTtl
      ).pipe(Effect.mapError(unavailable("send an answer"))),
      (disposition) => disposition === "sent" ? "sent" : "not_running"
    )

  // --- following ----------------------------------------------------------------------

  const follow: Remote["follow"] = (stateId, after, live) =>
    Stream.unwrap(Effect.gen(function*() {
      const attemptStart = Number((yield* redis.send<string | null>("GET", k.attempt(stateId)).pipe(
        Effect.mapError(unavailable("follow an execution"))
      )) ?? 0)
      // a later attempt's end, or a run whose lease is gone, ends a live stream
      const isEnd = (item: Sequenced) => item.event._tag === "ExecutionFinished" && item.sequence > attemptStart
      const history = Stream.paginate(after, (from) =>
        Effect.map(
          redis.send<unknown>("XRANGE", k.events(stateId), `(0-${from}`, "+", "COUNT", "500").pipe(
            Effect.mapError(unavailable("read an execution's events"))
          ),
          (reply) => {
            const items = toSequenced(Option.getOrElse(decodeEntries(reply), () => []))
            const next = items.length === 0 ? from : items[items.length - 1]!.sequence
            return [items, items.length < 500 ? Option.none<number>() : Option.some(next)] as const
          }
        ))
      if (!live) return history
      const tail = (from: number) =>
        Stream.unwrap(Effect.gen(function*() {
          const connection = yield* redis.reserve.pipe(Effect.mapError(unavailable("follow an execution")))
          return Stream.paginate(from, (last) =>
            Effect.gen(function*() {
              const reply = yield* connection.send<unknown>(
                "XREAD",
                "BLOCK",
                String(followMs),
                "STREAMS",
                k.events(stateId),
                `0-${last}`
              ).pipe(Effect.mapError(unavailable("follow an execution")))
              const items = toSequenced(
                Option.getOrElse(decodeXRead(reply), () => null)?.flatMap(([, entries]) => entries) ?? []
              )
              if (items.length > 0) return [items, Option.some(items[items.length - 1]!.sequence)] as const
              const alive = yield* redis.send<number>("EXISTS", k.lease(stateId)).pipe(
                Effect.mapError(unavailable("follow an execution"))
              )
              return [items, alive === 1 ? Option.some(last) : Option.none<number>()] as const
            }))
        }))
      let last = after
      return Stream.concat(
        history.pipe(Stream.tap((item) => Effect.sync(() => void (last = item.sequence)))),
        Stream.suspend(() => tail(last))
      ).pipe(Stream.takeUntil(isEnd))
    }))

  // --- owner side -----------------------------------------------------------------------

  const attach: Remote["attach"] = ({ bus, journal, owner, state, stateId }) =>
    Effect.gen(function*() {
      const log = (message: string, detail: unknown) =>
        Effect.logWarning(message, detail).pipe(annotate, Effect.annotateLogs({ stateId }))

      // 1. Events: everything on the bus goes to the run's stream, in order, in batches, up to the
      //    end of this attempt (its ExecutionFinished, published before the run's scope closes).
      const history = yield* Stream.runCollect(bus.streamWith({ live: false, untilInterrupt: false }))
      const attemptStart = history.findLast((item) => item.event._tag === "ExecutionStarted")?.sequence ?? 0
      const publish = (batch: ReadonlyArray<Sequenced>) =>
        redis.eval(publishScript)(
          k,
          stateId,
          eventsMaxLength,
          eventsTtl,
          batch.map((item) =>
            [
              item.sequence,
              encodeEvent(item.event),
              item.event._tag === "ExecutionStarted" ? "s" : item.event._tag === "ExecutionFinished" ? "f" : "-"
            ] as const
          )
        )
      const failing = yield* Ref.make(false)
      const publisher = yield* bus.streamWith({ untilInterrupt: false }).pipe(
        Stream.takeUntil((item) => item.event._tag === "ExecutionFinished" && item.sequence > attemptStart),
        Stream.runForEachArray((batch) =>
          publish(batch).pipe(
            Effect.matchEffect({
              // logged once per outage: a run with many events must not flood the log
              onFailure: (error) =>
                Effect.flatMap(Ref.getAndSet(failing, true), (already) =>
                  already
                    ? Effect.void
                    : log("Could not publish the run's events to Redis; its followers miss them", errorMessage(error.cause))),
              onSuccess: () => Ref.set(failing, false)
            })
          )
        ),
        Effect.forkScoped({ startImmediately: true })
      )
      yield* Effect.addFinalizer(() => Effect.asVoid(Fiber.await(publisher).pipe(Effect.timeoutOption("5 seconds"))))

      // 2. Requests: pushed on the control channel; a request whose message was lost (sent while the
      //    subscription was down) is found in its key, read every `pollInterval` as a safety net.
      const deliver = (request: ControlRequest, via: "push" | "poll") => {
        if (request.owner !== owner) return Effect.void
        const given = request.answer
        if (given !== undefined) {
          // journaled and handed to the step here (or refused: the step publishes why)
          return Effect.andThen(
            journal.answer(given.inputId, given.value, { answeredBy: given.answeredBy }),
            redis.send("HDEL", k.answers(stateId), given.inputId).pipe(
              Effect.catch((error) => log("Could not clear a delivered answer", errorMessage(error.cause)))
            )
          )
        }
        if (request.signal === undefined) return Effect.void
        return Effect.andThen(
          state.requestInterrupt(request.signal, { via }),
          redis.eval(deliveredScript)(k, stateId, request.requestId).pipe(
            Effect.catch((error) => log("Could not clear a delivered request", errorMessage(error.cause)))
          )
        )
      }
      const subscription = yield* redis.subscribe(k.control(stateId))
      yield* Queue.take(subscription).pipe(
        Effect.flatMap((message) =>
          Option.match(decodeRequest(message.message), {
            onNone: () => log("Ignored a malformed control request", message.message.slice(0, 200)),
            onSome: (request) => deliver(request, "push")
          })
        ),
        Effect.forever,
        Effect.catch((error) => log("Control subscription lost", errorMessage(error.cause))),
        Effect.forkScoped({ startImmediately: true })
      )
      const poll = (via: "push" | "poll") =>
        redis.send<string | null>("GET", k.request(stateId)).pipe(
          Effect.map((raw) => raw === null ? Option.none<ControlRequest>() : decodeRequest(raw)),
          Effect.flatMap(Option.match({ onNone: () => Effect.void, onSome: (request) => deliver(request, via) })),
          Effect.andThen(redis.send<ReadonlyArray<string>>("HVALS", k.answers(stateId))),
          Effect.flatMap((answers) =>
            Effect.forEach(answers, (raw) =>
              Option.match(decodeRequest(raw), { onNone: () => Effect.void, onSome: (request) => deliver(request, via) }), {
              discard: true
            })
          ),
          Effect.catch((error) => log("Could not read the waiting requests", errorMessage(error.cause)))
        )
      // a request sent between the lease and the subscription is waiting in its key already
      yield* poll("push")
      yield* poll("poll").pipe(Effect.delay(pollInterval), Effect.forever, Effect.forkScoped)
    })

  return RemoteControl.of({ location: `redis:${k.prefix}`, attach, follow, interrupt, answer })
})
