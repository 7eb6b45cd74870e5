/**
 * The control API as an `HttpApi` definition: every route, its Schemas, its errors and their HTTP
 * statuses. Servers build on it (`Server.ts`), clients derive from it (`HttpApiClient.make(Api)`),
 * and `GET /api/openapi.json` is generated from it.
 *
 * This module also holds the errors the server answers with outside any endpoint (unknown route,
 * wrong method, body too large, internal error), so that every error body is one JSON shape:
 * `{ "_tag": ..., "message": ..., ...fields }`.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiMiddleware, HttpApiSchema, OpenApi } from "effect/http-api"
import {
  AlreadyInterrupted,
  AnswerAccepted,
  BackendUnavailable,
  ExecutionExists,
  ExecutionNotFound,
  ExecutionNotRunning,
  InputAlreadyAnswered,
  InputNotFound,
  InterruptAccepted,
  InvalidAnswer,
  InvalidExecutionId,
  JournalUnreadable,
  NotResumable,
  ShuttingDown,
  WorkflowSummary
} from "../Executions.ts"
import { ExecutionInfo } from "../ExecutionInfo.ts"
import { InterruptReason, IsoTimestamp, StateId } from "../Interrupt.ts"
import { Authorization } from "./Auth.ts"

// -----------------------------------------------------------------------------
// Bodies
// -----------------------------------------------------------------------------

/**
 * The body of `POST /api/executions`: a registered workflow's name and its input (JSON, decoded by
 * the workflow's input Schema; the workflow's example when left out).
 *
 * @category models
 * @since 0.1.0
 */
export const StartExecution = Schema.Struct({
  workflow: Schema.String.pipe(Schema.check(Schema.isMinLength(1))),
  input: Schema.optionalKey(Schema.Json)
})

/**
 * @category models
 * @since 0.1.0
 */
export interface StartExecution extends Schema.Schema.Type<typeof StartExecution> {}

/**
 * The body of `POST /api/executions/:id/interrupt`; every field is optional (`reason` defaults to
 * `user_cancelled`, `saveCheckpoint` to `true`). Who interrupts is not a body field: it is the
 * authenticated caller.
 *
 * @category models
 * @since 0.1.0
 */
export const InterruptRequest = Schema.Struct({
  reason: Schema.optionalKey(InterruptReason),
  message: Schema.optionalKey(Schema.String.pipe(Schema.check(Schema.isMaxLength(1000)))),
  saveCheckpoint: Schema.optionalKey(Schema.Boolean)
})

/**
 * @category models
 * @since 0.1.0
 */
export interface InterruptRequest extends Schema.Schema.Type<typeof InterruptRequest> {}

/**
 * The body of `POST /api/executions/:id/inputs/:inputId`: the answer (any JSON; it is checked against
 * the question's Schema and choices).
 *
 * @category models
 * @since 0.2.0
 */
export const AnswerRequest = Schema.Struct({ value: Schema.Json })

/**
 * @category models
 * @since 0.2.0
 */
export interface AnswerRequest extends Schema.Schema.Type<typeof AnswerRequest> {}

/**
 * The answer to a start or a resume: the execution's id (its state id and checkpoint id).
 *
 * @category models
 * @since 0.1.0
 */
export class ExecutionStarted extends Schema.Class<ExecutionStarted>("agent-interrupt/http/ExecutionStarted")({
  executionId: Schema.String
}) {}

// -----------------------------------------------------------------------------
// Errors
// -----------------------------------------------------------------------------

/**
 * One problem with a request: where (`["payload", "input", "pace"]`) and what.
 *
 * @category models
 * @since 0.1.0
 */
export const Issue = Schema.Struct({
  path: Schema.Array(Schema.Union([Schema.String, Schema.Number])),
  message: Schema.String
})

/**
 * A malformed or invalid request: bad JSON, a missing or wrong field, an unknown workflow, an input
 * the workflow's Schema rejects. `message` is the Schema's message, naming the field.
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidRequest extends Schema.TaggedError<InvalidRequest>("agent-interrupt/http/InvalidRequest")(
  "InvalidRequest",
  { message: Schema.String, issues: Schema.Array(Issue) },
  { httpApiStatus: 400 }
) {}

/**
 * Too many interrupts from this client; `retryAfterMs` says when to try again.
 *
 * @category errors
 * @since 0.1.0
 */
export class RateLimited extends Schema.TaggedError<RateLimited>("agent-interrupt/http/RateLimited")(
  "RateLimited",
  { message: Schema.String, limit: Schema.Int, retryAfterMs: Schema.Int },
  { httpApiStatus: 429 }
) {}

/**
 * No route at that path.
 *
 * @category errors
 * @since 0.1.0
 */
export class RouteNotFound extends Schema.TaggedError<RouteNotFound>("agent-interrupt/http/RouteNotFound")(
  "RouteNotFound",
  { message: Schema.String },
  { httpApiStatus: 404 }
) {}

/**
 * The path exists, not with that method; `allow` lists the methods it has.
 *
 * @category errors
 * @since 0.1.0
 */
export class MethodNotAllowed extends Schema.TaggedError<MethodNotAllowed>(
  "agent-interrupt/http/MethodNotAllowed"
)("MethodNotAllowed", { message: Schema.String, allow: Schema.Array(Schema.String) }, { httpApiStatus: 405 }) {}

/**
 * The request body is larger than the server accepts.
 *
 * @category errors
 * @since 0.1.0
 */
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>("agent-interrupt/http/PayloadTooLarge")(
  "PayloadTooLarge",
  { message: Schema.String, limitBytes: Schema.Int },
  { httpApiStatus: 413 }
) {}

/**
 * Any other failure the client caused (unsupported media type, ...) or the server did (500); never a
 * stack trace: details go to the server's log.
 *
 * @category errors
 * @since 0.1.0
 */
export class HttpError extends Schema.TaggedError<HttpError>("agent-interrupt/http/HttpError")(
  "HttpError",
  { status: Schema.Int, message: Schema.String }
) {}

/**
 * Request decoding failures (params, query, headers, payload) as `InvalidRequest`.
 *
 * @category middleware
 * @since 0.1.0
 */
export class RequestErrors extends HttpApiMiddleware.Service<RequestErrors>()("agent-interrupt/http/RequestErrors", {
  error: InvalidRequest
}) {}

// -----------------------------------------------------------------------------
// Endpoints
// -----------------------------------------------------------------------------

/**
 * The names of the Server-Sent Events of `GET /api/executions/:id/events`: one per bus event type.
 *
 * @category models
 * @since 0.1.0
 */
export const SseEventName = Schema.Literals([
  "started",
  "execution",
  "output",
  "group",
  "log",
  "interrupted",
  "finished",
  "input"
])

/**
 * @category models
 * @since 0.1.0
 */
export type SseEventName = typeof SseEventName.Type

/**
 * One Server-Sent Event: `id` is the event's sequence number, `data` the bus event as JSON
 * (`BusEventJson`).
 *
 * @category models
 * @since 0.1.0
 */
export const SseEvent = Schema.Struct({ id: Schema.String, event: SseEventName, data: Schema.String })

const executionId = { id: StateId }

/**
 * The authenticated routes under `/api`.
 *
 * @category api
 * @since 0.1.0
 */
export class ExecutionsGroup extends HttpApiGroup.make("executions")
  .add(
    HttpApiEndpoint.get("workflows", "/workflows", {
      success: Schema.Array(WorkflowSummary)
    }).annotate(OpenApi.Description, "The workflows this server can start"),
    HttpApiEndpoint.post("start", "/executions", {
      payload: StartExecution,
      success: ExecutionStarted.pipe(HttpApiSchema.status(201)),
      error: [ExecutionExists, ShuttingDown, BackendUnavailable]
    }).annotate(OpenApi.Description, "Start a workflow; the input defaults to the workflow's example"),
    HttpApiEndpoint.get("list", "/executions", {
      query: { status: Schema.optionalKey(Schema.String) },
      success: Schema.Array(ExecutionInfo),
      error: BackendUnavailable
    }).annotate(
      OpenApi.Description,
      "Every execution (running here, on other workers, or in the store), newest first; ?status=running,awaiting filters"
    ),
    HttpApiEndpoint.get("get", "/executions/:id", {
      params: executionId,
      success: ExecutionInfo,
      error: [ExecutionNotFound, InvalidExecutionId, JournalUnreadable, BackendUnavailable]
    }).annotate(OpenApi.Description, "One execution's status, interrupt, timestamps, progress and checkpoint"),
    HttpApiEndpoint.post("interrupt", "/executions/:id/interrupt", {
      params: executionId,
      query: { wait: Schema.optionalKey(Schema.Literals(["stopped", "checkpointed"])) },
      payload: [InterruptRequest, Schema.Null],
      success: [InterruptAccepted.pipe(HttpApiSchema.status(202)), AlreadyInterrupted],
      error: [ExecutionNotFound, InvalidExecutionId, JournalUnreadable, ExecutionNotRunning, RateLimited, BackendUnavailable]
    }).annotate(
      OpenApi.Description,
      "Interrupt a running execution: 202 with the receipt, or 200 while it is already being interrupted; " +
        "409 when it is not running (nothing is left behind). " +
        "The caller (triggeredBy) is the authenticated token's caller. ?wait=stopped|checkpointed answers " +
        "once the run reached that stage (up to 30 s)."
    ),
    HttpApiEndpoint.get("events", "/executions/:id/events", {
      params: executionId,
      headers: { "last-event-id": Schema.optionalKey(Schema.String) },
      query: { after: Schema.optionalKey(Schema.String) },
      success: HttpApiSchema.StreamSse({ events: SseEvent }),
      error: [ExecutionNotFound, InvalidExecutionId, JournalUnreadable, BackendUnavailable]
    }).annotate(
      OpenApi.Description,
      "Server-Sent Events: the history, then live events, each with its sequence number as id; resumes after " +
        "Last-Event-ID (or ?after=); keep-alive comments; ends after the run's `finished` event."
    ),
    HttpApiEndpoint.post("resume", "/executions/:id/resume", {
      params: executionId,
      success: ExecutionStarted.pipe(HttpApiSchema.status(202)),
      error: [ExecutionNotFound, InvalidExecutionId, JournalUnreadable, NotResumable, ShuttingDown, BackendUnavailable]
    }).annotate(
      OpenApi.Description,
      "Resume an interrupted or lost execution from its journal, under the same id, in this server"
    ),
    HttpApiEndpoint.post("answer", "/executions/:id/inputs/:inputId", {
      params: { id: StateId, inputId: Schema.String.pipe(Schema.check(Schema.isMaxLength(64))) },
      payload: AnswerRequest,
      success: AnswerAccepted,
      error: [
        ExecutionNotFound,
        InvalidExecutionId,
        JournalUnreadable,
        InputNotFound,
        InputAlreadyAnswered,
        InvalidAnswer,
        NotResumable,
        ShuttingDown,
        BackendUnavailable
      ]
    }).annotate(
      OpenApi.Description,
      "Answer a question a step asked (human in the loop; the execution's `inputs` list them): 200 once the " +
        "step took it (the run goes on, here, on its worker, or resumed); 400 when the value does not fit the " +
        "question (nothing changes); 409 when it was answered already (the first answer stands); 404 for an " +
        "unknown input. The caller is recorded as who answered."
    ),
    HttpApiEndpoint.get("openapi", "/openapi.json", {
      success: Schema.Json
    }).annotate(OpenApi.Description, "This document")
  )
  .prefix("/api")
  .middleware(Authorization)
{}

/**
 * The public routes: the page and the health check.
 *
 * @category api
 * @since 0.1.0
 */
export class SystemGroup extends HttpApiGroup.make("system")
  .add(
    HttpApiEndpoint.get("health", "/health", {
      success: Schema.Struct({ status: Schema.Literal("ok"), time: IsoTimestamp })
    }).annotate(OpenApi.Description, "Liveness: 200 while the server answers"),
    HttpApiEndpoint.get("page", "/", {
      success: Schema.String.pipe(HttpApiSchema.asText({ contentType: "text/html" }))
    }).annotate(OpenApi.Description, "The web page: start runs, watch them, stop and resume them")
  )
{}

/**
 * The whole API.
 *
 * @category api
 * @since 0.1.0
 */
export class Api extends HttpApi.make("agent-interrupt")
  .add(ExecutionsGroup)
  .add(SystemGroup)
  .middleware(RequestErrors)
  .annotate(HttpApi.PayloadParseOptions, { onExcessProperty: "error", errors: "all" })
  .annotateMerge(OpenApi.annotations({
    title: "agent-interrupt control API",
    version: "0.2.0",
    description: "Start agent workflows, watch their events, stop them at any moment, resume them from their checkpoint."
  }))
{}

/**
 * Every route's method and path (`/api/executions/:id`), for `405 Method Not Allowed` answers.
 *
 * @category api
 * @since 0.1.0
 */
export const routes: ReadonlyArray<{ readonly method: string; readonly path: string }> = Object.values(Api.groups)
  .flatMap((group) => Object.values(group.endpoints))
  .map((endpoint) => ({ method: endpoint.method, path: endpoint.path }))
