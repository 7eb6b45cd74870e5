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
  isRunActive,
  isStateId,
  type OnCheckerError,
  RunStatus,
  StateId,
  type StopPolicies,
  StopPolicy
} from "./Interrupt.ts"

export {
  ActorKind,
  BusEvent,
  BusEventJson,
  CheckpointOutcome,
  eventDepth,
  EventBus,
  type EventBusOptions,
  ExecutionEvent,
  ExecutionFinished,
  GroupEvent,
  GroupStatus,
  InputEvent,
  InputRequest,
  isInterruptEvent,
  LogEvent,
  LogLevel,
  OutputDelta,
  type Sequenced,
  type StreamOptions,
  TokenUsage
} from "./EventBus.ts"

export {
  awaitInterrupt,
  cancelTimeout,
  checkInterrupt,
  type Execution,
  ExecutionState,
  type ExecutionStateOptions,
  externalCheckerSignal,
  interruptSignal,
  isInterrupted,
  killGenerators,
  registerGenerator,
  requestInterrupt,
  type RequestInterruptOptions,
  setInterruptChecker,
  setTimeout,
  type StoppableOptions,
  unregisterGenerator
} from "./ExecutionState.ts"

export {
  Durability,
  type ExecutionStorage,
  fold,
  type FlushResult,
  Journal,
  type AnswerResult,
  InputAnswered,
  InputRequested,
  InputState,
  type JournalOptions,
  JournalRecord,
  JournalRecordJson,
  type JournalSink,
  type OfferedAnswer,
  RunFinished,
  RunInterrupted,
  RunStarted,
  Snapshot,
  StepCompleted,
  StepInterrupted,
  stepKey,
  storage,
  StorageDeleted,
  StorageSet
} from "./Journal.ts"

export * as Actor from "./Actor.ts"
export { ActorContractError, type Condition, type HandlerContext } from "./Actor.ts"

export {
  CurrentGroup,
  CurrentPartialOutput,
  CurrentStep,
  type CurrentStepInfo,
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
  type AcquireOptions,
  CheckpointError,
  CheckpointErrorReason,
  CheckpointStore,
  type CheckpointSummary,
  type FileSystemOptions,
  type Lease,
  type LeaseInfo,
  SNAPSHOT_VERSION,
  SnapshotMetadata,
  SnapshotStatus,
  StateSnapshot,
  StateSnapshotJson
} from "./Checkpoint.ts"

export { ExecutionInfo, InterruptStage, Progress, StageReached } from "./ExecutionInfo.ts"
export * as ExecutionsFold from "./ExecutionInfo.ts"
export {
  Approval,
  type ApprovalOptions,
  awaitInput,
  type AwaitInputOptions,
  checkAnswer,
  inputIdOf,
  requireApproval
} from "./Input.ts"
export {
  AlreadyInterrupted,
  AnswerAccepted,
  type AnswerOptions,
  BackendUnavailable,
  ExecutionExists,
  ExecutionNotFound,
  ExecutionNotRunning,
  Executions,
  InputAlreadyAnswered,
  InputNotFound,
  InterruptAccepted,
  type InterruptOptions,
  type InterruptReceipt,
  InvalidAnswer,
  InvalidExecutionId,
  JournalUnreadable,
  type ListFilter,
  type LocalOptions,
  NotResumable,
  type ReadError,
  type Remote,
  type ResumeOptions,
  ShuttingDown,
  type StartOptions,
  watch as watchExecution,
  WorkflowSummary
} from "./Executions.ts"

export * as Run from "./Run.ts"
export { type Outcome, type RunningExecution, type RunOptions, saveCheckpoint } from "./Run.ts"

export * as Printer from "./Printer.ts"

export * as Workflow from "./Workflow.ts"
export { InvalidWorkflowInput, UnknownWorkflow, WorkflowError } from "./Workflow.ts"

export * as Llm from "./Llm.ts"
export { Budget, type CostOptions, type Limit as BudgetLimit, type Price, type Spent } from "./Budget.ts"
export * as OpenAiCompat from "./llm/OpenAiCompat.ts"
