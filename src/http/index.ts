/**
 * The HTTP control API over the control plane (`Executions`): the API definition, bearer auth, the
 * web page and the Node server. It maps HTTP to `Executions` and holds no execution state.
 *
 * @since 0.1.0
 */
export * as Api from "./Api.ts"
export * as Auth from "./Auth.ts"
export * as Page from "./Page.ts"
export * as Server from "./Server.ts"

export { ExecutionStarted, InterruptRequest, StartExecution } from "./Api.ts"
