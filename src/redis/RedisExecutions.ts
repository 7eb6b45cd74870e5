/**
 * The control plane on Redis: `Executions` for every process sharing one Redis.
 *
 * `layer(options)` is `Executions` over Redis remote control (`RemoteControl`): the runs it starts
 * or resumes execute in this process, as with `Executions.layerLocal`, with their journals and
 * leases in the `CheckpointStore` in context (`RedisStore.layerRedis` makes it Redis) and their events
 * published; `list` and `get` also show the runs of other processes (from the store, folded from the
 * events they publish; `lost` when their lease expired); `interrupt` reaches the owner of a run that
 * runs elsewhere through Redis (a run of this process is interrupted here, never through a round
 * trip to Redis); `events` follows another process's run through its stream; `resume` brings an
 * interrupted or lost run back in this process, wherever it ran before.
 *
 * A worker is this layer and a program that starts or resumes what it is given (the `worker`
 * command).
 *
 * @since 0.2.0
 */
import { Effect, Layer } from "effect"
import type { Redis } from "effect/persistence"
import { CheckpointStore } from "../Checkpoint.ts"
import { Executions, type LocalOptions, make as makeExecutions } from "../Executions.ts"
import * as RedisStore from "./RedisStore.ts"
import * as RemoteControl from "./RemoteControl.ts"

/**
 * Options of {@link layer}: those of the runs of this process (`LocalOptions`), of remote control and
 * of the Redis store.
 *
 * @category options
 * @since 0.2.0
 */
export interface RedisExecutionsOptions
  extends LocalOptions, RemoteControl.RemoteControlOptions, Omit<RedisStore.RedisStoreOptions, "prefix">
{}

/**
 * `Executions` over Redis remote control; journals in the `CheckpointStore` in context.
 *
 * @category layers
 * @since 0.2.0
 */
export const layer = (
  options: RedisExecutionsOptions = {}
): Layer.Layer<Executions, never, Redis.Redis | CheckpointStore> =>
  Layer.effect(
    Executions,
    Effect.flatMap(RemoteControl.make(options), (remote) => makeExecutions(options, remote))
  )

/**
 * `Executions` on Redis with its journals in Redis too (`RedisStore.layerRedis`): everything a
 * server or a worker of a Redis deployment needs from one `Redis` connection.
 *
 * **Example** (A control plane shared by every process on one Redis)
 *
 * ```ts
 * import { Layer } from "effect"
 * import { RedisConnection, RedisExecutions } from "agent-interrupt/redis"
 *
 * const executions = RedisExecutions.layerWithStore({ workflows: [] }).pipe(
 *   Layer.provide(RedisConnection.layerConfig())
 * )
 * // => Layer<Executions | CheckpointStore, RedisError | ConfigError>
 * ```
 *
 * @category layers
 * @since 0.2.0
 */
export const layerWithStore = (
  options: RedisExecutionsOptions = {}
): Layer.Layer<Executions | CheckpointStore, never, Redis.Redis> =>
  layer(options).pipe(
    Layer.provideMerge(
      RedisStore.layerRedis({
        ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
        ...(options.leaseTtl === undefined ? {} : { leaseTtl: options.leaseTtl }),
        ...(options.heartbeatInterval === undefined ? {} : { heartbeatInterval: options.heartbeatInterval })
      })
    )
  )
