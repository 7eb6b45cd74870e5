/**
 * Agent-interrupt on Redis: the journal store (`RedisStore`), remote control (`RemoteControl`), and
 * the control plane for every process sharing one Redis (`RedisExecutions`).
 *
 * Import from `agent-interrupt/redis`.
 *
 * @since 0.1.0
 */
export * as RedisKeys from "./Keys.ts"
export * as RedisConnection from "./RedisConnection.ts"
export * as RedisExecutions from "./RedisExecutions.ts"
export * as RedisStore from "./RedisStore.ts"
export * as RemoteControl from "./RemoteControl.ts"
