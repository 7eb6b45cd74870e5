/**
 * agent-interrupt: run agent / LLM workflows on Effect that can be stopped at any moment without
 * losing work.
 *
 * @since 0.1.0
 */
export {
  ExecutionInterrupted,
  type ExecutionInterruptedProps,
  ExecutionStatus,
  type InterruptChecker,
  InterruptCheckerError,
  type InterruptCheckerResult,
  InterruptEvent,
  InterruptReason,
  interruptReasons,
  InterruptSignal,
  InterruptSignalJson,
  isExecutionInterrupted,
  IsoTimestamp,
  type OnCheckerError,
  type StopPolicies,
  StopPolicy
} from "./Interrupt.ts"

export {
  ActorKind,
  BusEvent,
  BusEventJson,
  eventDepth,
  EventBus,
  type EventBusOptions,
  ExecutionEvent,
  ExecutionFinished,
  GroupEvent,
  GroupStatus,
  isInterruptEvent,
  LogEvent,
  LogLevel,
  type Sequenced,
  type StreamOptions
} from "./EventBus.ts"

export {
  awaitInterrupt,
  cancelTimeout,
  checkInterrupt,
  ExecutionState,
  type ExecutionStateOptions,
  type ExecutionStorage,
  externalCheckerSignal,
  interruptSignal,
  isInterrupted,
  isStateId,
  killGenerators,
  registerGenerator,
  requestInterrupt,
  type RequestInterruptOptions,
  type RestoredState,
  setInterruptChecker,
  setTimeout,
  StateId,
  type StoppableOptions,
  unregisterGenerator
} from "./ExecutionState.ts"

export * as Actor from "./Actor.ts"
export { ActorContractError, type Condition, type HandlerContext } from "./Actor.ts"

export {
  CurrentGroup,
  CurrentPartialOutput,
  CurrentPath,
  errorMessage,
  errorTag,
  type ExecutionResult,
  type PartialOutput,
  runEvent,
  type RunEventOptions,
  toResult
} from "./Event.ts"

export { parallel, type ParallelOptions } from "./Parallel.ts"

export * as Retry from "./Retry.ts"
export { type RetryOptions } from "./Retry.ts"

export { interruptible, type InterruptibleOptions } from "./Streams.ts"

export {
  CheckpointError,
  CheckpointErrorReason,
  CheckpointStore,
  type CheckpointSummary,
  SNAPSHOT_VERSION,
  SnapshotMetadata,
  SnapshotStatus,
  StateSnapshot,
  StateSnapshotJson
} from "./Checkpoint.ts"

export * as Run from "./Run.ts"
export { type Outcome, type RunOptions, saveCheckpoint } from "./Run.ts"

export * as Printer from "./Printer.ts"

export * as Workflow from "./Workflow.ts"
export { InvalidWorkflowInput, UnknownWorkflow, WorkflowError } from "./Workflow.ts"

export * as Research from "./demo/Research.ts"
