/**
 * Distributed control on Redis: remote interrupts with delivery receipts, the worker side (push +
 * poll + tombstones + heartbeat), the execution registry, and the Redis checkpoint store.
 *
 * Import from `agent-interrupt/redis`.
 *
 * @since 0.1.0
 */
export { AlreadyOwned, InvalidSignal, InvalidStateId, RedisUnavailable } from "./Errors.ts"
export * as RedisKeys from "./Keys.ts"
export * as RedisConnection from "./RedisConnection.ts"
export * as RedisStore from "./RedisStore.ts"
export * as RedisWorker from "./RedisWorker.ts"
export * as Registry from "./Registry.ts"
export * as RemoteInterrupt from "./RemoteInterrupt.ts"
export { awaitStage, interruptRemote, Receipt, RemoteInterruptError, Stage, StageResult } from "./RemoteInterrupt.ts"
