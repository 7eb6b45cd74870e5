/**
 * `agent-interrupt serve`: the HTTP control API, its live event streams and the web page, on Node's
 * HTTP server.
 *
 * The bearer token comes from `AGENT_INTERRUPT_TOKEN` (its caller name from `AGENT_INTERRUPT_CALLER`,
 * default `api-client`); without one, a random token is generated and printed. Checkpoints go to the
 * state directory, as for `demo` and `resume`. With `--redis`, the server joins the workers sharing
 * the Redis at `REDIS_URL` (key prefix `AGENT_INTERRUPT_REDIS_PREFIX`): checkpoints go to Redis, the
 * API lists and controls the runs of every worker (`RedisExecutions.layerRedis`), and every server
 * instance shares the interrupt rate limit. The first Ctrl-C (or SIGTERM) shuts down gracefully:
 * new starts are refused, every running execution is interrupted with `system_shutdown` (drained up to
 * 10 s by default) and checkpointed, then the server closes; a second Ctrl-C exits at once (130).
 */
import { NodeServices } from "@effect/platform-node"
import { Config, Console, Context, Duration, Effect, Layer, Logger, Option, Queue, Redacted, Schema } from "effect"
import { Command, Flag } from "effect/cli"
import { HttpServer, type HttpServerError } from "effect/http"
import { RateLimiter } from "effect/persistence"
import { type CheckpointError, CheckpointStore } from "../Checkpoint.ts"
import { Executions } from "../Executions.ts"
import * as Auth from "../http/Auth.ts"
import * as Server from "../http/Server.ts"
import type { StopPolicies } from "../Interrupt.ts"
import * as RedisConnection from "../redis/RedisConnection.ts"
import * as RedisExecutions from "../redis/RedisExecutions.ts"
import type * as Workflow from "../Workflow.ts"
import { Signals } from "./runMain.ts"

/**
 * What the `serve` command serves.
 *
 * - `workflows`: what clients may start (none unless given: the command line gives its demo).
 * - `stopPolicy`: stop policies per interrupt reason (default: `system_shutdown` drains 10 s).
 */
export interface ServeOptions {
  readonly workflows?: ReadonlyArray<Workflow.Registered> | undefined
  readonly stopPolicy?: StopPolicies | undefined
}

/** The server could not listen (the port is taken, the address is not local...). */
export class ListenFailed extends Schema.TaggedError<ListenFailed>()("ListenFailed", {
  address: Schema.String,
  detail: Schema.String
}) {
  override get message() {
    return `Cannot listen on ${this.address}: ${this.detail} (choose another --port or --host)`
  }
}

/** Redis could not be reached when the server started. */
export class RedisConnectFailed extends Schema.TaggedError<RedisConnectFailed>()("RedisConnectFailed", {
  url: Schema.String,
  detail: Schema.String
}) {
  override get message() {
    return `Cannot connect to Redis at ${this.url}: ${this.detail} (start Redis, or set REDIS_URL)`
  }
}

const storeLayer = (dir: string) => CheckpointStore.layerFileSystem(dir).pipe(Layer.provide(NodeServices.layer))

/** Builds the `serve` command over a list of workflows. */
export const makeServe = (options: ServeOptions = {}) => {
  const workflows = options.workflows ?? []
  return Command.make("serve", {
    port: Flag.Int("port").pipe(
      Flag.withDescription("Port to listen on (0 picks a free one; default 8080, or AGENT_INTERRUPT_PORT)"),
      Flag.withFallbackConfig(Config.Port("AGENT_INTERRUPT_PORT")),
      Flag.withDefault(8080)
    ),
    host: Flag.String("host").pipe(
      Flag.withDescription("Address to listen on (default 127.0.0.1, or AGENT_INTERRUPT_HOST)"),
      Flag.withFallbackConfig(Config.String("AGENT_INTERRUPT_HOST")),
      Flag.withDefault("127.0.0.1")
    ),
    stateDir: Flag.String("state-dir").pipe(
      Flag.withDescription("Where checkpoints are kept (default ./.agent-interrupt, or AGENT_INTERRUPT_STATE_DIR)"),
      Flag.withFallbackConfig(Config.String("AGENT_INTERRUPT_STATE_DIR")),
      Flag.withDefault(".agent-interrupt")
    ),
    retention: Flag.String("retention").pipe(
      Flag.withDescription("How long finished runs stay listed (\"1 hour\", \"30 minutes\"; default 1 hour)"),
      Flag.withSchema(Schema.DurationFromString),
      Flag.withDefault(Duration.hours(1))
    ),
    redis: Flag.Boolean("redis").pipe(
      Flag.withDescription(
        "Use the Redis at REDIS_URL: list and control the runs of every worker, checkpoints in Redis, " +
          "one interrupt rate limit for all server instances"
      ),
      Flag.withDefault(false)
    )
  }, (flags) =>
    Effect.scoped(Effect.gen(function*() {
      const signals = yield* Signals
      // Listen first: a Ctrl-C during start-up is a graceful shutdown too.
      const received = yield* signals.listen
      const configured = yield* Config.Redacted("AGENT_INTERRUPT_TOKEN").pipe(Config.option)
      const caller = yield* Config.String("AGENT_INTERRUPT_CALLER").pipe(Config.withDefault("api-client"))
      const token = Option.getOrElse(configured, Auth.generateToken)

      const server = (rateLimitStore?: Layer.Layer<RateLimiter.RateLimiterStore>) =>
        Server.layer({
          port: flags.port,
          host: flags.host,
          auth: { credentials: [{ token, caller }] },
          ...(rateLimitStore === undefined ? {} : { rateLimitStore })
        })
      const executionOptions = { workflows, retention: flags.retention, stopPolicy: options.stopPolicy }
      const redis = flags.redis ? Option.some(yield* RedisConnection.config) : Option.none()
      const served = yield* Option.match(redis, {
        onNone: () =>
          Effect.succeed<Layer.Layer<Executions | HttpServer.HttpServer, HttpServerError.ServeError | CheckpointError>>(
            server().pipe(
              Layer.provideMerge(Executions.layerLocal(executionOptions)),
              Layer.provide(storeLayer(flags.stateDir))
            )
          ),
        onSome: (connection) =>
          Effect.gen(function*() {
            // One connection, opened first, for the executions, the checkpoint store and the rate limiter.
            const url = connection.url ?? RedisConnection.DEFAULT_URL
            const connected = Layer.succeedContext(
              yield* Layer.build(RedisConnection.layer(connection)).pipe(
                Effect.mapError((error) =>
                  new RedisConnectFailed({
                    url,
                    detail: error.cause instanceof Error ? error.cause.message : String(error.cause)
                  })
                )
              )
            )
            const limits = RateLimiter.layerStoreRedis({ prefix: `${connection.prefix ?? ""}ratelimit:` }).pipe(
              Layer.provide(connected)
            )
            return server(limits).pipe(
              Layer.provideMerge(RedisExecutions.layerWithStore(executionOptions)),
              Layer.provide(connected)
            )
          })
      })
      const context = yield* Layer.build(served).pipe(
        Effect.catchTag("ServeError", (error) =>
          Effect.fail(
            new ListenFailed({
              address: `${flags.host}:${flags.port}`,
              detail: error.cause instanceof Error ? error.cause.message : String(error.cause)
            })
          ))
      )
      const url = HttpServer.formatAddress(Context.get(context, HttpServer.HttpServer).address)
      const executions = Context.get(context, Executions)

      yield* Console.log(`agent-interrupt control API listening on ${url}`)
      yield* Console.log(`  page:     ${url}/`)
      yield* Console.log(`  API:      ${url}/api (OpenAPI: ${url}/api/openapi.json)`)
      yield* Console.log(`  caller:   ${caller}`)
      if (Option.isNone(configured)) {
        yield* Console.log(`  token:    ${Redacted.value(token)}`)
        yield* Console.log("            (generated for this run; set AGENT_INTERRUPT_TOKEN to choose one)")
      } else {
        yield* Console.log("  token:    from AGENT_INTERRUPT_TOKEN")
      }
      yield* Console.log(
        `  workflows: ${workflows.map((w) => w.name).join(", ")}; ${
          Option.match(redis, {
            onNone: () => `checkpoints in ${flags.stateDir}`,
            onSome: (c) =>
              `on Redis ${c.url ?? RedisConnection.DEFAULT_URL} (prefix ${c.prefix ?? ""}): runs of every worker, checkpoints in Redis`
          })
        }`
      )
      yield* Console.log("Press Ctrl-C to stop (running executions are interrupted and checkpointed).")

      const signal = yield* Queue.take(received)
      yield* Console.log(`\n${signal}: shutting down; interrupting running executions (system_shutdown)…`)
      const stopped = yield* executions.shutdown
      for (const execution of stopped) {
        const checkpoint = execution.checkpointId === undefined
          ? `checkpoint ${execution.checkpoint ?? "not saved"}`
          : `checkpoint saved; resume with POST /api/executions/${execution.checkpointId}/resume`
        yield* Console.log(`  ■ ${execution.executionId} ${execution.status}, ${checkpoint}`)
      }
      yield* Console.log(`Stopped ${stopped.length} running execution(s); server closed.`)
    }).pipe(
      // One logfmt line per log entry, with the audit fields (who, when, why, which run).
      Effect.provide(Logger.layer([Logger.consoleLogFmt]))
    ))).pipe(
      Command.withDescription("Serve the HTTP control API, live event streams and the web page with a Stop button")
    )
}

/** `agent-interrupt serve` with the research demo workflow. */
export const serve = makeServe()
