/**
 * Helpers for the Redis integration tests: unique ids, raw Redis commands, a control plane of its
 * own (another machine), the worker fixture and the command line as child processes, and bounded
 * waits on Redis state.
 */
import { Context, Effect, Layer, Schedule } from "effect"
import { Redis } from "effect/persistence"
import { CheckpointStore, Executions } from "../../src/index.ts"
import * as Keys from "../../src/redis/Keys.ts"
import * as RedisExecutions from "../../src/redis/RedisExecutions.ts"
import { RedisServer, redisLayer } from "../utils/redisServer.ts"
import { bin, type EventLine, eventOf, fixture, runToEnd, spawnNode } from "./children.ts"

/** A unique state id per test (the server may be shared through REDIS_URL). */
export const uid = (name: string) => `${name}-${globalThis.crypto.randomUUID().slice(0, 8)}`

/** The keys of the test server's prefix. */
export const keys = Effect.map(RedisServer, (server) => Keys.make(server.prefix))

/** A raw Redis command. */
export const send = <A = unknown>(command: string, ...args: ReadonlyArray<string>) =>
  Effect.flatMap(Redis.Redis, (redis) => redis.send<A>(command, ...args))

/**
 * A control plane of its own on the test server: its own connection, remote control, store and
 * runs, as another machine would have; closed with the scope.
 */
export const controlPlane = (options: RedisExecutions.RedisExecutionsOptions = {}) =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const context = yield* Layer.buildWithScope(
      RedisExecutions.layerWithStore({ followInterval: "200 millis", pollInterval: "200 millis", ...options }).pipe(
        Layer.provideMerge(redisLayer)
      ),
      scope
    )
    return {
      executions: Context.get(context, Executions),
      store: Context.get(context, CheckpointStore),
      redis: Context.get(context, Redis.Redis)
    }
  })

/** The environment that points a child process at the test server. */
export const childEnv = Effect.map(RedisServer, (server) => ({
  REDIS_URL: server.url,
  AGENT_INTERRUPT_REDIS_PREFIX: server.prefix
}))

/** The worker fixture (`run <id> [--pace p]` or `resume <id>`) in a child process. */
export const worker = (args: ReadonlyArray<string>) =>
  Effect.flatMap(childEnv, (env) => spawnNode(fixture("redis-worker.ts"), args, env))

/** The command line in a child process, on the test server. */
export const cli = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.flatMap(childEnv, (server) => spawnNode(bin, args, { ...server, ...env }))

/** The command line run to its end, on the test server (or with `env` overriding it). */
export const cliToEnd = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.flatMap(childEnv, (server) => runToEnd(bin, args, { ...server, ...env }))

/** The event lines among a child's stdout lines. */
export const eventsIn = (lines: ReadonlyArray<string>): Array<EventLine> =>
  lines.flatMap((line) => {
    const event = eventOf(line)
    return event === undefined ? [] : [event]
  })

/** A step event (`ExecutionEvent`) with that status whose address includes `where`. */
export const isStep = (item: EventLine | undefined, status: string, where = ""): item is EventLine =>
  item?.event._tag === "ExecutionEvent" && item.event["status"] === status &&
  String(item.event["address"]).includes(where)

/** Retries `check` (every 20 ms, up to `times`) until it succeeds: a bounded wait on Redis state. */
export const eventually = <A, E, R>(check: Effect.Effect<A, E, R>, times = 150) =>
  Effect.retry(check, Schedule.spaced("20 millis").pipe(Schedule.upTo({ times })))

/** Fails unless `value` satisfies `predicate` (for `eventually`). */
export const expectThat = <A>(value: A, predicate: (a: A) => boolean, what: string) =>
  predicate(value) ? Effect.succeed(value) : Effect.fail(new Error(`not yet: ${what}`))
