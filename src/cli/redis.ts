/**
 * The commands of a Redis deployment (`REDIS_URL`, default `redis://127.0.0.1:6379`;
 * `AGENT_INTERRUPT_REDIS_PREFIX`, default `agent-interrupt:`), over the control plane on Redis
 * (`RedisExecutions`):
 *
 * - `worker`: starts the research demo (or `--resume`s a run, wherever it ran before) in this
 *   process, printing its events; any process can stop it with `interrupt`.
 * - `interrupt <stateId>`: interrupts a run on whichever process owns it and prints its stages as
 *   they are reached (exit 0 when the stop is complete, 1 when it is not running, timed out or its
 *   owner died).
 * - `listRedisRuns`: the executions on Redis, for `list` when `REDIS_URL` is set.
 */
import { NodeServices } from "@effect/platform-node"
import { Config, Console, Duration, Effect, Layer, Logger, Option, Schema, Stream } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { Research } from "../demo/index.ts"
import type { ExecutionInfo, InterruptStage, StageReached } from "../ExecutionInfo.ts"
import { AlreadyInterrupted, Executions, InterruptAccepted, watch } from "../Executions.ts"
import { InterruptReason, isStateId, STATE_ID_RULE } from "../Interrupt.ts"
import { errorMessage } from "../internal/text.ts"
import * as RedisConnection from "../redis/RedisConnection.ts"
import * as RedisExecutions from "../redis/RedisExecutions.ts"
import * as Workflow from "../Workflow.ts"
import {
  answerAndFollow,
  answerCommand,
  cliLogger,
  EXIT,
  follow,
  Invocation,
  jsonFlag,
  paceFlag,
  report,
  setExit,
  table,
  toDuration,
  topicFlag,
  UsageError
} from "./common.ts"

const workflows: ReadonlyArray<Workflow.Registered> = [Workflow.register(Research.research)]

/**
 * Redis could not be reached (down, unreachable, a bad URL): one line, exit 2 for a bad URL, 1 when
 * it is unavailable.
 */
export class RedisUnreachable extends Schema.TaggedError<RedisUnreachable>()("RedisUnreachable", {
  url: Schema.String,
  detail: Schema.String,
  badUrl: Schema.Boolean
}) {
  override get message() {
    return this.badUrl
      ? `REDIS_URL ${JSON.stringify(this.url)} is not a Redis URL (${this.detail}); use redis://host:port`
      : `Redis at ${this.url} is unavailable: ${this.detail} (start it, or set REDIS_URL)`
  }
}

/** The connection settings from `REDIS_URL` / `AGENT_INTERRUPT_REDIS_PREFIX`. */
export const connection = Effect.gen(function*() {
  const options = yield* RedisConnection.config
  return { url: options.url ?? RedisConnection.DEFAULT_URL, prefix: options.prefix ?? "", options }
})

/** The control plane on the Redis at `REDIS_URL`, journals in Redis. */
const withRedis = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.scoped(Effect.gen(function*() {
    const { options, url } = yield* connection
    if (!/^rediss?:\/\//.test(url)) {
      return yield* new RedisUnreachable({ url, detail: "it does not start with redis://", badUrl: true })
    }
    try {
      new URL(url)
    } catch (error) {
      return yield* new RedisUnreachable({ url, detail: errorMessage(error), badUrl: true })
    }
    // The client logs each failed connection attempt; until the first one succeeds, the one line
    // of RedisUnreachable says it all. Later (a reconnect mid-run), its warnings are shown.
    let connected = false
    const logger = Logger.make<unknown, void>((entry) => {
      const first = Array.isArray(entry.message) ? entry.message[0] : entry.message
      if (!connected && first === "NodeRedis client error") return
      cliLogger.log(entry)
    })
    const context = yield* Layer.build(
      RedisExecutions.layerWithStore({ workflows }).pipe(
        Layer.provideMerge(RedisConnection.layer(options)),
        Layer.provideMerge(NodeServices.layer)
      )
    ).pipe(
      Effect.mapError((error) => new RedisUnreachable({ url, detail: errorMessage(error.cause), badUrl: false })),
      Effect.provide(Logger.layer([logger]))
    )
    connected = true
    return yield* Effect.provide(effect, context)
  }))

// -----------------------------------------------------------------------------
// worker
// -----------------------------------------------------------------------------

const worker = Command.make("worker", {
  json: jsonFlag,
  stateId: Flag.String("state-id").pipe(Flag.withDescription("Use this state id (default: a new one)"), Flag.optional),
  resume: Flag.String("resume").pipe(
    Flag.withDescription("Resume this run from its journal in Redis (interrupted, or lost with its worker)"),
    Flag.optional
  ),
  topic: topicFlag,
  pace: paceFlag,
  ask: Flag.Boolean("ask").pipe(
    Flag.withDescription("Ask for an approval before publishing the summary; the worker waits for it (answer from any process)"),
    Flag.withDefault(false)
  ),
  timeout: Flag.String("timeout").pipe(
    Flag.withDescription("Interrupt with reason timeout after this long (5s, 500ms, 2m)"),
    Flag.optional
  ),
  force: Flag.Boolean("force").pipe(
    Flag.withDescription("Start over an existing run of that id, or take over one whose owner is still alive"),
    Flag.withDefault(false)
  )
}, (flags) =>
  withRedis(Effect.gen(function*() {
    const timeout = Option.isSome(flags.timeout) ? Option.some(yield* toDuration("timeout", flags.timeout.value)) : Option.none()
    const { prefix, url } = yield* connection
    const { command } = yield* Invocation
    const executions = yield* Executions
    const stateId = Option.getOrElse(
      Option.orElse(flags.resume, () => flags.stateId),
      () => Workflow.newStateId(Research.research.name, Date.now())
    )
    if (!isStateId(stateId)) {
      return yield* new UsageError({ message: `Invalid state id ${JSON.stringify(stateId)}: ${STATE_ID_RULE}` })
    }
    const runOptions = Option.isSome(timeout) ? { timeout: timeout.value } : {}
    let after = 0
    if (Option.isSome(flags.resume)) {
      after = (yield* executions.get(stateId)).lastSequence
      yield* executions.resume(stateId, { resumedBy: "cli", force: flags.force, ...runOptions })
    } else {
      yield* executions.start(Research.research.name, {
        topic: flags.topic,
        pace: flags.pace,
        ...(flags.ask ? { ask: true } : {})
      }, {
        stateId,
        startedBy: "cli",
        force: flags.force,
        ...runOptions
      })
    }
    yield* flags.json
      ? Console.log(JSON.stringify({ _tag: "WorkerStarted", stateId, url, prefix }))
      : Console.log(`Worker runs ${stateId} on ${url} (prefix ${prefix}).\nStop it from any process with: ${command} interrupt ${stateId}\n`)
    // a question: the worker keeps the run and waits; any process may answer it
    const info = yield* follow(executions, stateId, {
      after,
      json: flags.json,
      onQuestion: (question) =>
        flags.json ? Effect.void : Console.log(`Answer from any process with: ${answerCommand(command, "")(stateId, question, true)}`)
    })
    return yield* report(info, {
      json: flags.json,
      resumeHint: (id) => `${command} worker --resume ${id}`,
      answerHint: answerCommand(command, "")
    })
  }))).pipe(
  Command.withDescription(
    "Run the research demo as a worker on Redis (REDIS_URL): stoppable from any process, journaled in Redis"
  )
)

// -----------------------------------------------------------------------------
// interrupt
// -----------------------------------------------------------------------------

const encodeReceipt = Schema.encodeSync(Schema.Union([InterruptAccepted, AlreadyInterrupted]))

const time = (iso: string) => iso.slice(11, 23)

const delta = (from: string, to: string) => {
  const ms = Date.parse(to) - Date.parse(from)
  return `${ms >= 0 ? "+" : ""}${ms} ms`
}

const stageLine = (stage: InterruptStage, at: string, requested: string, info: ExecutionInfo, detail?: string) => {
  const details = stage === "delivered"
    ? `to ${info.owner ?? "?"}${detail === undefined ? "" : ` via ${detail}`}`
    : stage === "checkpointed"
    ? `checkpoint ${info.checkpointId ?? info.executionId}`
    : ""
  const when = stage === "requested" ? "" : delta(requested, at)
  return `  ${stage.padEnd(13)}${time(at)}  ${when.padEnd(10)}${details}`.trimEnd()
}

const interrupt = Command.make("interrupt", {
  stateId: Argument.String("stateId").pipe(Argument.withDescription("The execution to stop")),
  reason: Flag.Literals("reason", InterruptReason.literals).pipe(
    Flag.withDescription("Why (default user_cancelled)"),
    Flag.withDefault("user_cancelled" as const)
  ),
  message: Flag.String("message").pipe(Flag.withDescription("A message for the run's watchers"), Flag.optional),
  noCheckpoint: Flag.Boolean("no-checkpoint").pipe(
    Flag.withDescription("Do not keep the run resumable"),
    Flag.withDefault(false)
  ),
  wait: Flag.String("wait").pipe(
    Flag.withDescription("How long to follow the stop's stages (default 30s; 0 to only send it)"),
    Flag.withDefault("30s")
  ),
  json: jsonFlag
}, (flags) =>
  withRedis(Effect.gen(function*() {
    const wait = /^\s*0+(\.0+)?\s*[a-z]*\s*$/i.test(flags.wait) ? Duration.zero : yield* toDuration("wait", flags.wait)
    if (!isStateId(flags.stateId)) {
      return yield* new UsageError({ message: `Invalid state id ${JSON.stringify(flags.stateId)}: ${STATE_ID_RULE}` })
    }
    const executions = yield* Executions
    const receipt = yield* executions.interrupt(flags.stateId, {
      reason: flags.reason,
      triggeredBy: "cli",
      saveCheckpoint: !flags.noCheckpoint,
      ...(Option.isSome(flags.message) ? { message: flags.message.value } : {})
    }).pipe(
      Effect.catchTags({
        ExecutionNotRunning: (error) =>
          Effect.andThen(Console.error(`${flags.stateId} is not running (${error.status}): nothing to interrupt`), Effect.succeed(undefined)),
        ExecutionNotFound: () =>
          Effect.andThen(Console.error(`${flags.stateId} is not running (unknown): nothing to interrupt`), Effect.succeed(undefined))
      })
    )
    if (receipt === undefined) return yield* setExit(EXIT.failed)
    const requested = receipt.signal.triggeredAt
    const info0 = yield* executions.get(flags.stateId)
    if (flags.json) {
      yield* Console.log(JSON.stringify(encodeReceipt(receipt)))
    } else {
      yield* Console.log(
        receipt._tag === "AlreadyInterrupted"
          ? `An earlier interrupt of ${flags.stateId} is already in effect (${receipt.signal.reason}); following it (owner ${info0.owner ?? "?"}):`
          : `Interrupt ${receipt.signal.reason} sent to ${flags.stateId} (running on ${info0.owner ?? "?"}):`
      )
    }
    const wanted: ReadonlyArray<InterruptStage> = receipt.signal.saveCheckpoint
      ? ["requested", "delivered", "stopped", "checkpointed"]
      : ["requested", "delivered", "stopped"]
    const printed = new Set<InterruptStage>()
    const print = (info: ExecutionInfo, stages: ReadonlyArray<StageReached> = info.interruptStages) =>
      Effect.forEach(wanted, (stage) => {
        if (printed.has(stage)) return Effect.void
        const reached = stages.find((s) => s.stage === stage)
        if (reached === undefined) return Effect.void
        printed.add(stage)
        return flags.json
          ? Console.log(JSON.stringify({ _tag: "Reached", stage, at: reached.at }))
          : Console.log(stageLine(stage, reached.at, requested, info, reached.detail))
      }, { discard: true })
    yield* print(info0, receipt.stages)
    if (Duration.isZero(wait)) return yield* setExit(EXIT.completed)
    const last = yield* watch(executions, flags.stateId).pipe(
      Stream.tap((info) => print(info)),
      Stream.takeUntil(() => printed.size === wanted.length),
      Stream.runLast,
      Effect.timeoutOption(wait),
      Effect.map(Option.flatten)
    )
    if (printed.size === wanted.length) return yield* setExit(EXIT.completed)
    const missing = wanted.find((stage) => !printed.has(stage))!
    const final = Option.isSome(last) ? last.value : yield* executions.get(flags.stateId)
    yield* Console.log(
      final.status === "lost"
        ? `The owner of ${flags.stateId} died (its lease expired) before the stop reached "${missing}".`
        : final.status === "running" || final.status === "cancelling"
        ? `Timed out after ${Duration.format(wait)} waiting for "${missing}" (its owner is alive).`
        : `${flags.stateId} ended ${final.status} before the stop reached "${missing}" (checkpoint ${final.checkpoint ?? "not saved"}).`
    )
    return yield* setExit(EXIT.failed)
  }))).pipe(
  Command.withDescription(
    "Stop a run on any worker through Redis (REDIS_URL) and print its stages: requested → delivered → stopped → checkpointed"
  )
)

// -----------------------------------------------------------------------------
// answer
// -----------------------------------------------------------------------------

/** Whether `REDIS_URL` is set (so the commands look at Redis too). */
export const configured = Effect.map(
  Config.String("REDIS_URL").pipe(Config.option),
  (url) => Option.isSome(url) && url.value !== ""
)

/** Answers a question of a run on Redis, and follows the run (on its worker, or resumed here). */
export const answerOnRedis = (stateId: string, inputId: string | undefined, value: unknown, json: boolean) =>
  withRedis(Effect.gen(function*() {
    const { command } = yield* Invocation
    return yield* answerAndFollow(stateId, inputId, value, {
      json,
      resumeHint: (id) => `${command} worker --resume ${id}`,
      answerHint: answerCommand(command, "")
    })
  }))

// -----------------------------------------------------------------------------
// list
// -----------------------------------------------------------------------------

/** With `REDIS_URL` set: the executions on Redis after the local ones (a second JSON line with --json). */
export const listRedisRuns = (json: boolean) =>
  Effect.gen(function*() {
    const configured = yield* Config.String("REDIS_URL").pipe(Config.option)
    if (Option.isNone(configured) || configured.value === "") return
    yield* withRedis(Effect.gen(function*() {
      const { prefix, url } = yield* connection
      const executions = yield* Executions
      const infos = yield* executions.list()
      const broken = yield* executions.unreadable
      if (json) return yield* Console.log(JSON.stringify({ redis: infos, unreadable: broken }))
      yield* Console.log(`\nExecutions on Redis ${url} (prefix ${prefix}):`)
      if (infos.length === 0 && broken.length === 0) return yield* Console.log("  none")
      const rows = [
        ["STATE ID", "STATUS", "OWNER", "UPDATED", "WORKFLOW", "REASON"],
        ...infos.map((r) => [r.executionId, r.status, r.owner ?? "-", r.updatedAt, r.workflow, r.interrupt?.reason ?? "-"]),
        ...broken.map((b) => [b.executionId, "corrupt", "-", "-", "-", b.error.replace(/\s+/g, " ")])
      ]
      for (const line of table(rows)) yield* Console.log(line)
    }))
  })

export const commands = [worker, interrupt] as const
