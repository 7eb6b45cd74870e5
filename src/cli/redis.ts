/**
 * The command line's distributed commands, on Redis (`REDIS_URL`, default `redis://127.0.0.1:6379`;
 * `AGENT_INTERRUPT_REDIS_PREFIX`, default `agent-interrupt:`):
 *
 * - `worker`: runs the research demo as a Redis worker (or `--resume`s a run from its Redis
 *   checkpoint), printing its events; any process can stop it with `interrupt`.
 * - `interrupt <stateId>`: sends a remote interrupt and prints the receipt's stages as they are
 *   reached (exit 0 when the stop is complete, 1 when it timed out or no worker owns the run).
 * - `listRedisRuns`: the registry's runs, for `list` when `REDIS_URL` is set.
 *
 * The helpers it shares with `main.ts` come in through {@link Deps}, so the two modules do not import
 * each other.
 */
import { Cause, Config, Console, Duration, Effect, Layer, Option, Schema, type Scope } from "effect"
import type { NodeRedis } from "@effect/platform-node"
import type { Redis } from "effect/persistence"
import { Argument, Command, Flag } from "effect/cli"
import type { CheckpointStore } from "../Checkpoint.ts"
import type { BusEvent } from "../EventBus.ts"
import { InterruptReason } from "../Interrupt.ts"
import { RedisUnavailable } from "../redis/Errors.ts"
import * as RedisConnection from "../redis/RedisConnection.ts"
import * as RedisStore from "../redis/RedisStore.ts"
import * as RedisWorker from "../redis/RedisWorker.ts"
import * as Registry from "../redis/Registry.ts"
import * as RemoteInterrupt from "../redis/RemoteInterrupt.ts"
import type * as Run from "../Run.ts"
import * as Workflow from "../Workflow.ts"
import type { ExitCode, Invocation } from "./main.ts"
import type { Signals } from "./runMain.ts"

/**
 * What the Redis commands take from `main.ts`.
 */
export interface Deps {
  readonly exit: { readonly completed: number; readonly failed: number; readonly interrupted: number }
  readonly setExit: (code: number) => Effect.Effect<void, never, ExitCode>
  readonly command: Effect.Effect<string, never, Invocation>
  readonly signals: Effect.Effect<Signals["Service"], never, Signals>
  readonly onSignals: (signals: Signals["Service"]) => RedisWorker.OnStart
  readonly output: (json: boolean) => Effect.Effect<(event: BusEvent) => Effect.Effect<void>, Config.ConfigError>
  readonly parseDuration: (text: string) => Option.Option<Duration.Duration>
  readonly workflow: Workflow.Registered
  readonly workflows: ReadonlyArray<Workflow.Registered>
}

// -----------------------------------------------------------------------------
// Connection
// -----------------------------------------------------------------------------

const connection = Effect.gen(function*() {
  const options = yield* RedisConnection.config
  const url = options.url ?? RedisConnection.DEFAULT_URL
  const prefix = options.prefix ?? ""
  return { url, prefix, options }
})

/** Provides Redis (and a Redis checkpoint store) from `REDIS_URL`; a failed connection names the URL. */
const withRedis = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<
  A,
  E | RedisUnavailable | Config.ConfigError,
  Exclude<Exclude<R, Redis.Redis | NodeRedis.NodeRedis | CheckpointStore>, Scope.Scope>
> =>
  Effect.scoped(Effect.gen(function*() {
    const { options, url } = yield* connection
    const context = yield* Layer.build(RedisStore.layerRedis().pipe(Layer.provideMerge(RedisConnection.layer(options))))
      .pipe(
        Effect.mapError((error) =>
          new RedisUnavailable({
            operation: `connect to ${url}`,
            detail: error.cause instanceof Error ? error.cause.message : String(error.cause)
          })
        )
      )
    return yield* Effect.provide(effect, context)
  }))

// -----------------------------------------------------------------------------
// Formatting
// -----------------------------------------------------------------------------

const time = (iso: string) => iso.slice(11, 23)

const delta = (from: string, to: string) => {
  const ms = Date.parse(to) - Date.parse(from)
  return `${ms >= 0 ? "+" : ""}${ms} ms`
}

const stageLine = (stage: RemoteInterrupt.Stage, at: string, status: RemoteInterrupt.ReceiptStatus) => {
  const details = stage === "delivered"
    ? `to ${status.deliveredTo ?? "?"} via ${status.via ?? "?"}`
    : stage === "checkpointed"
    ? `checkpoint ${status.checkpointId ?? status.stateId}`
    : ""
  const when = stage === "requested" ? "" : delta(status.requested, at)
  return `  ${stage.padEnd(13)}${time(at)}  ${when.padEnd(10)}${details}`.trimEnd()
}

const describeEnd = (
  receipt: RemoteInterrupt.Receipt,
  result: Exclude<RemoteInterrupt.StageResult, RemoteInterrupt.Reached>,
  wait: Duration.Duration
): string => {
  const id = receipt.stateId
  switch (result._tag) {
    case "TimedOut":
      return `Timed out after ${Duration.format(wait)} waiting for "${result.stage}": the stop reached "${result.lastStage}" (its worker is alive).`
    case "ReceiptGone":
      return `The receipt of ${id} is gone (it expired, or a newer interrupt replaced it).`
    case "NoWorker": {
      const status = result.runStatus
      if (status === undefined) {
        return `No worker runs ${id} yet: the interrupt waits for it and is honoured when it starts (until it expires).`
      }
      if (status === "completed") return `${id} already completed: there is nothing left to stop.`
      if (result.lastStage === "requested") {
        return `${id} is not running (${status}): the interrupt waits and is honoured when it is resumed (until it expires).`
      }
      return status === "lost"
        ? `The worker of ${id} died (its heartbeat expired) after the stop reached "${result.lastStage}".`
        : `${id} ended ${status}; the stop reached "${result.lastStage}" (checkpoint ${
          result.status.checkpoint ?? "not saved"
        }).`
    }
  }
}

const table = (rows: ReadonlyArray<ReadonlyArray<string>>) => {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)))
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd())
}

// -----------------------------------------------------------------------------
// Commands
// -----------------------------------------------------------------------------

/**
 * Builds the `worker` and `interrupt` commands and the `list` addition.
 */
export const make = (deps: Deps) => {
  const jsonFlag = Flag.Boolean("json").pipe(
    Flag.withDescription("Print events (or stages) as JSON lines instead of text"),
    Flag.withDefault(false)
  )
  // `0` (with or without a unit) is a valid duration here: "do not wait".
  const parseDuration = (text: string) =>
    /^\s*0+(\.0+)?\s*[a-z]*\s*$/i.test(text) ? Option.some(Duration.zero) : deps.parseDuration(text)
  const durationFlag = (name: string, description: string) =>
    Flag.String(name).pipe(
      Flag.withDescription(description),
      Flag.filterMap(parseDuration, (text) => `Invalid duration ${JSON.stringify(text)}: use 5s, 500ms, 2m or 1h`)
    )

  // --- worker ------------------------------------------------------------------

  const reportWorker = (outcome: Run.Outcome<unknown, unknown>, json: boolean) =>
    Effect.gen(function*() {
      const command = yield* deps.command
      switch (outcome._tag) {
        case "Completed": {
          yield* Console.log(
            json
              ? JSON.stringify({ _tag: "Result", stateId: outcome.stateId, value: outcome.value })
              : `Result: ${JSON.stringify(outcome.value)}`
          )
          return yield* deps.setExit(deps.exit.completed)
        }
        case "Interrupted": {
          if (!json) {
            yield* Option.match(outcome.checkpointId, {
              onNone: () => Console.log("Nothing was saved, so this run cannot be resumed."),
              onSome: (id) => Console.log(`Resume on any machine with: ${command} worker --resume ${id}`)
            })
          }
          return yield* deps.setExit(deps.exit.interrupted)
        }
        case "Failed": {
          yield* Console.error(`error: the run failed: ${Cause.pretty(outcome.cause).split("\n")[0]}`)
          return yield* deps.setExit(deps.exit.failed)
        }
      }
    })

  const worker = Command.make("worker", {
    json: jsonFlag,
    stateId: Flag.String("state-id").pipe(Flag.withDescription("Use this state id (default: a new one)"), Flag.optional),
    resume: Flag.String("resume").pipe(
      Flag.withDescription("Resume this run from its checkpoint in Redis instead of starting a new one"),
      Flag.optional
    ),
    owner: Flag.String("owner").pipe(Flag.withDescription("This worker's id (default host:pid:random)"), Flag.optional),
    topic: Flag.String("topic").pipe(Flag.withDescription("What to research"), Flag.withDefault("interruptible agents")),
    pace: Flag.Finite("pace").pipe(
      Flag.withDescription("Speed of the simulated calls: 1 = real-looking, 0.1 = ten times faster"),
      Flag.withDefault(1)
    ),
    timeout: durationFlag("timeout", "Interrupt with reason timeout after this long (5s, 500ms, 2m)").pipe(Flag.optional),
    publishEvents: Flag.Boolean("publish-events").pipe(
      Flag.withDescription("Publish the run's events to Redis, so `serve --redis` can stream them"),
      Flag.withDefault(false)
    )
  }, (flags) =>
    withRedis(Effect.gen(function*() {
      const { prefix, url } = yield* connection
      const owner = Option.getOrElse(flags.owner, RedisWorker.makeOwner)
      const stateId = Option.getOrElse(
        Option.orElse(flags.resume, () => flags.stateId),
        () => Workflow.newStateId(deps.workflow.name, Date.now())
      )
      const command = yield* deps.command
      const printer = yield* deps.output(flags.json)
      const signals = yield* deps.signals
      const announce = flags.json
        ? Console.log(JSON.stringify({ _tag: "WorkerStarted", stateId, owner, url, prefix }))
        : Console.log(
          `Worker ${owner} runs ${stateId} on ${url} (prefix ${prefix}).\n` +
            `Stop it from any process with: ${command} interrupt ${stateId}\n`
        )
      const options: RedisWorker.RunWorkerOptions = {
        stateId,
        owner,
        subscribers: [printer],
        onStart: (execution) => Effect.andThen(deps.onSignals(signals)(execution), announce),
        publishEvents: flags.publishEvents,
        ...(Option.isSome(flags.timeout) ? { timeout: flags.timeout.value } : {})
      }
      const outcome = Option.isSome(flags.resume)
        ? yield* RedisWorker.resumeWorker(deps.workflows, stateId, options)
        : yield* RedisWorker.runWorker(deps.workflow, { topic: flags.topic, pace: flags.pace }, options)
      return yield* reportWorker(outcome, flags.json)
    }))).pipe(
    Command.withDescription(
      "Run the research demo as a worker on Redis (REDIS_URL): stoppable from any process, checkpoints in Redis"
    )
  )

  // --- interrupt ---------------------------------------------------------------

  const interrupt = Command.make("interrupt", {
    stateId: Argument.String("stateId").pipe(Argument.withDescription("The execution to stop")),
    reason: Flag.Literals("reason", InterruptReason.literals).pipe(
      Flag.withDescription("Why (default user_cancelled)"),
      Flag.withDefault("user_cancelled" as const)
    ),
    message: Flag.String("message").pipe(Flag.withDescription("A message for the run's watchers"), Flag.optional),
    noCheckpoint: Flag.Boolean("no-checkpoint").pipe(
      Flag.withDescription("Do not save a checkpoint when stopping"),
      Flag.withDefault(false)
    ),
    wait: durationFlag("wait", "How long to follow the stop's stages (default 30s; 0 to only send it)").pipe(
      Flag.withDefault(Duration.seconds(30))
    ),
    json: jsonFlag
  }, (flags) =>
    withRedis(Effect.gen(function*() {
      const receipt = yield* RemoteInterrupt.interruptRemote(flags.stateId, {
        reason: flags.reason,
        triggeredBy: "cli",
        saveCheckpoint: !flags.noCheckpoint,
        ...(Option.isSome(flags.message) ? { message: flags.message.value } : {})
      })
      const encode = Schema.encodeSync(RemoteInterrupt.StageResult)
      if (flags.json) {
        yield* Console.log(JSON.stringify({ _tag: "Receipt", ...Schema.encodeSync(RemoteInterrupt.Receipt)(receipt) }))
      } else {
        const owner = receipt.runStatus === undefined
          ? "no worker runs it yet"
          : `${receipt.runStatus}${receipt.owner === undefined ? "" : ` on ${receipt.owner}`}`
        yield* Console.log(
          receipt.duplicate
            ? `An earlier interrupt of ${receipt.stateId} is already in effect (${receipt.signal.reason}); following it (${owner}):`
            : `Interrupt ${receipt.signal.reason} sent to ${receipt.stateId} (${owner}):`
        )
        yield* Console.log(`  ${"requested".padEnd(13)}${time(receipt.requestedAt)}`)
      }
      const wanted: ReadonlyArray<RemoteInterrupt.Stage> = receipt.signal.saveCheckpoint
        ? ["delivered", "stopped", "checkpointed"]
        : ["delivered", "stopped"]
      const deadline = Date.now() + Duration.toMillis(flags.wait)
      for (const stage of Duration.isZero(flags.wait) ? [] : wanted) {
        const result = yield* RemoteInterrupt.awaitStage(receipt, stage, Math.max(0, deadline - Date.now()))
        if (flags.json) yield* Console.log(JSON.stringify(encode(result)))
        if (result._tag !== "Reached") {
          if (!flags.json) yield* Console.log(describeEnd(receipt, result, flags.wait))
          return yield* deps.setExit(deps.exit.failed)
        }
        if (!flags.json) yield* Console.log(stageLine(stage, result.at, result.status))
      }
      return yield* deps.setExit(deps.exit.completed)
    }))).pipe(
    Command.withDescription(
      "Stop a run on any worker through Redis (REDIS_URL) and print its receipt: requested → delivered → stopped → checkpointed"
    )
  )

  // --- list ----------------------------------------------------------------------

  /** With `REDIS_URL` set: the registry's runs after the file checkpoints (a second JSON line with --json). */
  const listRedisRuns = (json: boolean) =>
    Effect.gen(function*() {
      const configured = yield* Config.String("REDIS_URL").pipe(Config.option)
      if (Option.isNone(configured) || configured.value === "") return
      yield* withRedis(Effect.gen(function*() {
        const { prefix, url } = yield* connection
        const runs = yield* Registry.list()
        if (json) return yield* Console.log(JSON.stringify({ redisRuns: runs.map((r) => Schema.encodeSync(Registry.RunRecord)(r)) }))
        yield* Console.log(`\nRedis runs on ${url} (prefix ${prefix}):`)
        if (runs.length === 0) return yield* Console.log("  none")
        const rows = [["STATE ID", "STATUS", "OWNER", "UPDATED", "WORKFLOW", "REASON"], ...runs.map((r) => [
          r.stateId,
          r.status,
          r.owner,
          r.updatedAt,
          r.workflow ?? "-",
          r.reason ?? "-"
        ])]
        for (const line of table(rows)) yield* Console.log(line)
      }))
    })

  return { worker, interrupt, listRedisRuns }
}
