import { Effect } from "effect"
import { ExecutionState, type ExecutionStateOptions } from "../../src/index.ts"

/** Provides a fresh execution (state id `test` unless given) with its own bus. */
export const withState = (options: ExecutionStateOptions = {}) =>
  Effect.provide(ExecutionState.layerWithBus({ stateId: "test", ...options }))
