/**
 * The failure reasons of distributed control. Each Redis module fails with one wrapper error whose
 * `reason` is one of these (`RemoteInterruptError`, `RegistryError`, `WorkerError`), so callers
 * handle a reason the same way everywhere with `Effect.catchReason` or by its `_tag`.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import type { Redis } from "effect/persistence"

/**
 * A state id that is not safe as a key part: rejected before anything is written.
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidStateId extends Schema.TaggedError<InvalidStateId>("agent-interrupt/redis/InvalidStateId")(
  "InvalidStateId",
  { stateId: Schema.String }
) {
  override get message(): string {
    return `Invalid state id ${
      JSON.stringify(this.stateId)
    }: use 1 to 128 letters, digits, '.', '_' or '-', not starting with '.'`
  }
}

/**
 * An interrupt signal that does not validate (an unknown reason, a bad timestamp): rejected before
 * anything is written.
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidSignal extends Schema.TaggedError<InvalidSignal>("agent-interrupt/redis/InvalidSignal")(
  "InvalidSignal",
  { detail: Schema.String }
) {
  override get message(): string {
    return `Invalid interrupt signal: ${this.detail}`
  }
}

/**
 * Redis did not answer (down, restarting, unreachable) or refused the command.
 *
 * @category errors
 * @since 0.1.0
 */
export class RedisUnavailable extends Schema.TaggedError<RedisUnavailable>("agent-interrupt/redis/RedisUnavailable")(
  "RedisUnavailable",
  { operation: Schema.String, detail: Schema.String, cause: Schema.optionalKey(Schema.Defect()) }
) {
  override get message(): string {
    return `Redis is unavailable (${this.operation}): ${this.detail}`
  }

  /** Wraps the `RedisError` of `operation`. */
  static fromRedisError(operation: string) {
    return (error: Redis.RedisError): RedisUnavailable =>
      new RedisUnavailable({ operation, detail: describe(error.cause), cause: error.cause })
  }
}

/**
 * Another worker owns the execution and its heartbeat is alive.
 *
 * @category errors
 * @since 0.1.0
 */
export class AlreadyOwned extends Schema.TaggedError<AlreadyOwned>("agent-interrupt/redis/AlreadyOwned")(
  "AlreadyOwned",
  { stateId: Schema.String, owner: Schema.String }
) {
  override get message(): string {
    return `Execution ${this.stateId} is already running on worker ${this.owner}`
  }
}

const describe = (u: unknown): string => {
  if (u instanceof Error) return u.message === "" ? u.name : u.message
  return String(u)
}
