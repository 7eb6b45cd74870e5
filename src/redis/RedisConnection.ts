/**
 * The connection to Redis: Effect's own `Redis` service (`effect/persistence`), provided by `NodeRedis`
 * from `@effect/platform-node` (the `redis` npm client), plus the key prefix.
 *
 * `layer(options)` takes plain options; `layerConfig()` reads `REDIS_URL` (default
 * `redis://127.0.0.1:6379`) and `AGENT_INTERRUPT_REDIS_PREFIX` (default `agent-interrupt:`) through
 * Effect `Config`, or any `Config.Wrap` you pass.
 *
 * @since 0.1.0
 */
import { NodeRedis } from "@effect/platform-node"
import { Config, Duration, Effect, Layer } from "effect"
import type { Redis } from "effect/persistence"
import { DEFAULT_PREFIX, KeyPrefix } from "./Keys.ts"

/**
 * The URL used when none is given.
 *
 * @category constants
 * @since 0.1.0
 */
export const DEFAULT_URL = "redis://127.0.0.1:6379"

/**
 * Options of {@link layer}.
 *
 * **Details**
 *
 * - `url`: the server (default `redis://127.0.0.1:6379`).
 * - `prefix`: the key prefix of every key and channel (default `agent-interrupt:`).
 * - `connectTimeout`: how long one connection attempt may take (default 5 seconds).
 *
 * @category options
 * @since 0.1.0
 */
export interface ConnectionOptions {
  readonly url?: string | undefined
  readonly prefix?: string | undefined
  readonly connectTimeout?: Duration.Input | undefined
}

/**
 * Connects to Redis: provides `Redis` and `NodeRedis`, and sets `KeyPrefix` for the modules built on it.
 *
 * **Details**
 *
 * Commands fail at once while the client is reconnecting (no offline queue): a checker or a
 * heartbeat never hangs on a dead server, it fails and is retried at its next turn. The client and
 * every subscription reconnect on their own (node-redis backoff, at most about 2 seconds apart) and
 * subscriptions are renewed after a reconnect.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  options: ConnectionOptions = {}
): Layer.Layer<Redis.Redis | NodeRedis.NodeRedis, Redis.RedisError> => {
  const connectTimeout = Duration.toMillis(Duration.fromInputUnsafe(options.connectTimeout ?? "5 seconds"))
  return Layer.merge(
    NodeRedis.layer({
      url: options.url ?? DEFAULT_URL,
      disableOfflineQueue: true,
      socket: { connectTimeout }
    }),
    Layer.succeed(KeyPrefix, options.prefix ?? DEFAULT_PREFIX)
  )
}

/**
 * The default configuration: `REDIS_URL` and `AGENT_INTERRUPT_REDIS_PREFIX`, with their defaults.
 *
 * @category config
 * @since 0.1.0
 */
export const config: Config.Config<ConnectionOptions> = Config.all({
  url: Config.String("REDIS_URL").pipe(Config.withDefault(DEFAULT_URL)),
  prefix: Config.String("AGENT_INTERRUPT_REDIS_PREFIX").pipe(Config.withDefault(DEFAULT_PREFIX))
})

/**
 * {@link layer} with its options read from `Config` (by default {@link config}: `REDIS_URL`,
 * `AGENT_INTERRUPT_REDIS_PREFIX`).
 *
 * @category layers
 * @since 0.1.0
 */
export const layerConfig = (
  options: Config.Wrap<ConnectionOptions> = config
): Layer.Layer<Redis.Redis | NodeRedis.NodeRedis, Redis.RedisError | Config.ConfigError> =>
  Layer.unwrap(Effect.map(Config.unwrap(options), layer))
