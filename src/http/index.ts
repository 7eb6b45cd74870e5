/**
 * The HTTP control API: the API definition, bearer auth, the executions service (in-process
 * implementation, and `RedisExecutions` for every worker sharing one Redis), the web page and the
 * Node server.
 *
 * @since 0.1.0
 */
export * as Api from "./Api.ts"
export * as Auth from "./Auth.ts"
export * as Page from "./Page.ts"
export * as RedisExecutions from "./RedisExecutions.ts"
export * as Server from "./Server.ts"

export {
  AlreadyInterrupted,
  BackendUnavailable,
  CheckpointOutcome,
  EventsNotPublished,
  ExecutionInfo,
  ExecutionNotFound,
  ExecutionNotRunning,
  Executions,
  ExecutionStarted,
  InterruptAccepted,
  type InterruptOptions,
  type InterruptReceipt,
  InterruptRequest,
  InterruptStage,
  type LocalOptions,
  NotResumable,
  Progress,
  RunStatus,
  ShuttingDown,
  StageReached,
  StartExecution,
  WorkflowSummary
} from "./Executions.ts"
