/**
 * The HTTP server of the control API: the handlers of `Api`, the page, and the server-wide rules —
 * bearer auth on `/api`, an interrupt rate limit per client, a body size limit, JSON errors (never a
 * stack trace) for every failure including unknown routes (404) and wrong methods (405), an audit
 * log line for every start, interrupt and resume, and security headers.
 *
 * `Server.layer(options)` serves it on Node's HTTP server; `Server.layerRoutes(options)` only
 * registers the routes, for another `HttpRouter` host. Both need an `Executions` service
 * (`Executions.layerLocal(...)` runs workflows in this process).
 *
 * @since 0.1.0
 */
import { NodeHttpServer } from "@effect/platform-node"
import { ByteSize, Cause, Duration, Effect, Layer, Option, Result, Schedule, Schema, Stream } from "effect"
import { Sse } from "effect/encoding"
import {
  type HttpBody,
  HttpIncomingMessage,
  HttpRouter,
  HttpServer,
  HttpServerError,
  HttpServerRequest,
  HttpServerResponse
} from "effect/http"
import { HttpApiBuilder, HttpApiMiddleware, type HttpApiError, OpenApi } from "effect/http-api"
import { RateLimiter } from "effect/persistence"
import * as SchemaIssue from "effect/SchemaIssue"
import { createServer } from "node:http"
import type { Duplex } from "node:stream"
import { type BusEvent, BusEventJson, type Sequenced } from "../EventBus.ts"
import { Executions } from "../Executions.ts"
import { oneLine } from "../internal/text.ts"
import { isoNow } from "../internal/time.ts"
import { RunStatus } from "../Interrupt.ts"
import {
  Api,
  ExecutionStarted,
  HttpError,
  InvalidRequest,
  MethodNotAllowed,
  PayloadTooLarge,
  RateLimited,
  RequestErrors,
  RouteNotFound,
  routes,
  type SseEventName
} from "./Api.ts"
import * as Auth from "./Auth.ts"
import * as Page from "./Page.ts"

// -----------------------------------------------------------------------------
// Options
// -----------------------------------------------------------------------------

/**
 * Options of {@link layer} and {@link layerRoutes}.
 *
 * **Details**
 *
 * - `auth`: the accepted bearer tokens and the caller each stands for (required).
 * - `port` (default 8080) and `host` (default `127.0.0.1`): where `layer` listens; port 0 picks a
 *   free port.
 * - `maxBodySize`: the largest request body in bytes (default 64 KiB); larger ones get 413.
 * - `interruptRateLimit`: interrupts per client (caller + remote address) per window (default 30 per
 *   minute); more get 429 with `Retry-After`.
 * - `rateLimitStore`: where the limiter counts (default in memory; `RateLimiter.layerStoreRedis` to
 *   share limits between instances).
 * - `keepAlive`: how often an idle event stream sends a keep-alive comment (default 15 seconds).
 * - `gracefulShutdownTimeout`: how long closing waits for open connections (default 5 seconds).
 * - `accessLog`: log every request (default `false`; interrupts are audited either way).
 *
 * @category options
 * @since 0.1.0
 */
export interface ServerOptions {
  readonly auth: Auth.AuthOptions
  readonly port?: number | undefined
  readonly host?: string | undefined
  readonly maxBodySize?: number | undefined
  readonly interruptRateLimit?: { readonly limit: number; readonly window: Duration.Input } | undefined
  readonly rateLimitStore?: Layer.Layer<RateLimiter.RateLimiterStore> | undefined
  readonly keepAlive?: Duration.Input | undefined
  readonly gracefulShutdownTimeout?: Duration.Input | undefined
  readonly accessLog?: boolean | undefined
}

interface Settings {
  readonly maxBodySize: number
  readonly rateLimit: { readonly limit: number; readonly window: Duration.Duration }
  readonly keepAlive: Duration.Duration
}

const settingsOf = (options: ServerOptions): Settings => ({
  maxBodySize: options.maxBodySize ?? 64 * 1024,
  rateLimit: {
    limit: options.interruptRateLimit?.limit ?? 30,
    window: Duration.fromInputUnsafe(options.interruptRateLimit?.window ?? "1 minute")
  },
  keepAlive: Duration.fromInputUnsafe(options.keepAlive ?? "15 seconds")
})

// -----------------------------------------------------------------------------
// Helpers
// -----------------------------------------------------------------------------


const remoteOf = (request: HttpServerRequest.HttpServerRequest) => Option.getOrElse(request.remoteAddress, () => "unknown")

// Control characters (an ANSI escape, a NUL) in a value a client sent are written escaped, so the
// log stays one readable text line per entry.
const printable = (value: unknown): unknown =>
  typeof value === "string"
    ? value.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)
    : value

/** One audit line per security-relevant action: who, when, what, which run, from where, with what result. */
const audit = (action: "start" | "interrupt" | "resume" | "answer", fields: Readonly<Record<string, unknown>>) =>
  Effect.flatMap(isoNow, (at) =>
    Effect.logInfo(`audit: ${action}`).pipe(
      Effect.annotateLogs({
        audit: action,
        at,
        ...Object.fromEntries(Object.entries(fields).map(([key, value]) => [key, printable(value)]))
      })
    ))

const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()

const toPathSegment = (segment: PropertyKey | { readonly key: PropertyKey }): string | number => {
  const key = typeof segment === "object" ? segment.key : segment
  return typeof key === "number" ? key : String(key)
}


const slotNames: Record<HttpApiError.HttpApiSchemaError["kind"], string> = {
  Params: "path",
  Headers: "headers",
  Query: "query",
  Payload: "body",
  Body: "response",
  ResponseHeaders: "response headers"
}

/**
 * A request decoding failure as `InvalidRequest`: the Schema's message, with the field's path.
 *
 * @category errors
 * @since 0.1.0
 */
export const invalidRequest = (error: HttpApiError.HttpApiSchemaError): InvalidRequest => {
  const slot = slotNames[error.kind]
  const issues = formatIssues(error.cause.issue).issues.map((issue) => ({
    path: [slot, ...(issue.path ?? []).map(toPathSegment)],
    message: issue.message
  }))
  return new InvalidRequest({ message: `Invalid request ${slot}: ${oneLine(error.cause.message)}`, issues })
}

const encodeError = Schema.encodeSync(
  Schema.Union([InvalidRequest, RateLimited, RouteNotFound, MethodNotAllowed, PayloadTooLarge, HttpError])
)

const errorResponse = (
  error: InvalidRequest | RateLimited | RouteNotFound | MethodNotAllowed | PayloadTooLarge | HttpError,
  status: number,
  headers: Readonly<Record<string, string>> = {}
) => HttpServerResponse.jsonUnsafe(encodeError(error), { status, headers })

const statusMessages: Readonly<Record<number, string>> = {
  400: "Bad request",
  401: "Unauthorized",
  404: "Not found",
  408: "Request timeout",
  413: "Request body too large",
  415: "Unsupported media type",
  499: "Client closed the request",
  500: "Internal server error",
  503: "Service unavailable"
}

const sseNames: Readonly<Record<BusEvent["_tag"], SseEventName>> = {
  ExecutionEvent: "execution",
  OutputDelta: "output",
  GroupEvent: "group",
  LogEvent: "log",
  InterruptEvent: "interrupted",
  ExecutionStarted: "started",
  ExecutionFinished: "finished",
  InputEvent: "input"
}

const encodeBusEvent = Schema.encodeSync(BusEventJson)
const encoder = new TextEncoder()

/**
 * One bus event as a Server-Sent Event: `id:` its sequence number, `event:` its kind, `data:` the
 * event as JSON.
 *
 * @category encoding
 * @since 0.1.0
 */
export const toSse = (item: Sequenced): string =>
  Sse.encoder.write({
    _tag: "Event",
    id: String(item.sequence),
    event: sseNames[item.event._tag],
    data: encodeBusEvent(item.event)
  })

const parseAfter = (value: string | undefined): Effect.Effect<number, InvalidRequest> => {
  if (value === undefined || value === "") return Effect.succeed(0)
  // strictly decimal digits: not "0x10", " 1", "1e3"
  const n = /^[0-9]{1,15}$/.test(value) ? Number(value) : Number.NaN
  return Number.isSafeInteger(n) && n >= 0
    ? Effect.succeed(n)
    : Effect.fail(
      new InvalidRequest({
        message: `Invalid Last-Event-ID ${JSON.stringify(value)}: expected a sequence number (a non-negative integer)`,
        issues: [{ path: ["headers", "last-event-id"], message: "Expected a non-negative integer" }]
      })
    )
}

const isPercentEncoded = (path: string): boolean => {
  try {
    decodeURIComponent(path)
    return true
  } catch {
    return false
  }
}

/**
 * The router settings the API needs from its host: path parameters up to 256 characters, so every
 * state id (up to 128 characters, percent-encoded or not) reaches its route. `layer` uses them; give
 * them to `HttpRouter.serve` when serving `layerRoutes` yourself.
 *
 * @category constants
 * @since 0.2.0
 */
export const ROUTER_CONFIG = { maxParamLength: 256 } as const

// A path of the API (`/api/executions/:id`) as a pattern over request paths.
const patternOf = (path: string) =>
  new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/:[A-Za-z0-9_]+/g, "[^/]+")}/?$`)

const isRunStatus = Schema.is(RunStatus)

const routePatterns = routes.map((route) => ({ method: route.method, pattern: patternOf(route.path) }))

/**
 * The methods the API has at a request path, sorted (empty when the path is unknown).
 *
 * @category utils
 * @since 0.1.0
 */
export const allowedMethods = (url: string): ReadonlyArray<string> => {
  const path = url.split("?")[0] ?? url
  const methods = new Set<string>()
  for (const route of routePatterns) if (route.pattern.test(path)) methods.add(route.method)
  return Array.from(methods).sort()
}

// -----------------------------------------------------------------------------
// Handlers
// -----------------------------------------------------------------------------

const ExecutionsHandlers = (settings: Settings) =>
  HttpApiBuilder.group(
    Api,
    "executions",
    Effect.fnUntraced(function*(handlers) {
      const executions = yield* Executions
      const limiter = yield* RateLimiter.RateLimiter
      const spec = OpenApi.fromApi(Api)
      const keepAlive = Stream.fromSchedule(Schedule.spaced(settings.keepAlive)).pipe(
        Stream.map(() => ": keep-alive\n\n")
      )

      // The interrupt limit, per caller and remote address. A failing limiter store lets the
      // interrupt through: stopping a run must not depend on the limiter's storage.
      const consume = (key: string) =>
        limiter.consume({ key, limit: settings.rateLimit.limit, window: settings.rateLimit.window }).pipe(
          Effect.result,
          Effect.flatMap((result) => {
            if (Result.isSuccess(result)) return Effect.succeed(Option.none<Duration.Duration>())
            const reason = result.failure.reason
            if (reason._tag === "RateLimitExceeded") return Effect.succeed(Option.some(reason.retryAfter))
            return Effect.as(Effect.logWarning("Interrupt rate limiter failed; allowing the request", reason), Option.none())
          })
        )

      return handlers
        .handle("workflows", () => Effect.succeed(executions.workflows))
        .handle("start", ({ payload, request }) =>
          Effect.gen(function*() {
            const caller = yield* Auth.Caller
            const input = "input" in payload ? payload.input : undefined
            const executionId = yield* executions.start(payload.workflow, input, { startedBy: caller.name }).pipe(
              Effect.catchTags({
                InvalidExecutionId: (error) =>
                  Effect.fail(new InvalidRequest({ message: error.message, issues: [{ path: ["body"], message: error.message }] })),
                UnknownWorkflow: (error) =>
                  Effect.fail(
                    new InvalidRequest({ message: error.message, issues: [{ path: ["body", "workflow"], message: error.message }] })
                  ),
                InvalidWorkflowInput: (error) =>
                  Effect.fail(
                    new InvalidRequest({
                      message: oneLine(error.message),
                      issues: [{ path: ["body", "input"], message: oneLine(error.detail) }]
                    })
                  )
              })
            )
            yield* audit("start", {
              executionId,
              workflow: payload.workflow,
              caller: caller.name,
              remote: remoteOf(request)
            })
            return new ExecutionStarted({ executionId })
          }))
        .handle("list", ({ query }) =>
          Effect.gen(function*() {
            const wanted = query.status === undefined || query.status === ""
              ? undefined
              : query.status.split(",").map((s) => s.trim())
            const bad = wanted?.find((s) => !isRunStatus(s))
            if (bad !== undefined) {
              return yield* new InvalidRequest({
                message: `Invalid request query: unknown status ${JSON.stringify(bad)}; use ${RunStatus.literals.join(", ")}`,
                issues: [{ path: ["query", "status"], message: `Expected ${RunStatus.literals.join(" | ")}` }]
              })
            }
            return yield* executions.list(wanted === undefined ? {} : { status: wanted.filter(isRunStatus) })
          }))
        .handle("get", ({ params }) => executions.get(params.id))
        .handle("interrupt", ({ params, payload, query, request }) =>
          Effect.gen(function*() {
            const caller = yield* Auth.Caller
            const remote = remoteOf(request)
            const body = payload ?? {}
            const who = {
              executionId: params.id,
              caller: caller.name,
              remote,
              reason: body.reason ?? "user_cancelled",
              message: body.message ?? "",
              saveCheckpoint: body.saveCheckpoint ?? true
            }
            // an unknown id costs nothing of the client's interrupt budget
            yield* executions.get(params.id).pipe(Effect.tapError((error) => audit("interrupt", { ...who, outcome: error._tag })))
            const limited = yield* consume(`interrupt:${caller.name}:${remote}`)
            if (Option.isSome(limited)) {
              const retryAfterMs = Math.max(1, Math.ceil(Duration.toMillis(limited.value)))
              yield* audit("interrupt", { ...who, outcome: "RateLimited" })
              return errorResponse(
                new RateLimited({
                  message: `Too many interrupts: at most ${settings.rateLimit.limit} per ${
                    Duration.format(settings.rateLimit.window)
                  }; retry in ${Math.ceil(retryAfterMs / 1000)} s`,
                  limit: settings.rateLimit.limit,
                  retryAfterMs
                }),
                429,
                { "retry-after": String(Math.ceil(retryAfterMs / 1000)) }
              )
            }
            const receipt = yield* executions.interrupt(params.id, {
              ...body,
              triggeredBy: caller.name,
              ...(query.wait === undefined ? {} : { await: query.wait })
            }).pipe(Effect.tapError((error) => audit("interrupt", { ...who, outcome: error._tag })))
            yield* audit("interrupt", {
              ...who,
              outcome: receipt._tag,
              winningReason: receipt.signal.reason,
              winningCaller: receipt.signal.triggeredBy ?? "",
              stages: receipt.stages.map((s) => s.stage).join(",")
            })
            return receipt
          }))
        .handle("events", ({ headers, params, query }) =>
          Effect.gen(function*() {
            const after = yield* parseAfter(headers["last-event-id"] ?? query.after)
            // 404 before the stream starts; a failure in the middle ends it (the client reconnects)
            yield* executions.get(params.id)
            const events = executions.events(params.id, { after }).pipe(Stream.ignore({ log: "Warn" }))
            // A comment first, so the client has the response headers at once.
            const body = Stream.concat(
              Stream.make(": connected\n\n"),
              events.pipe(Stream.map(toSse), Stream.merge(keepAlive, { haltStrategy: "left" }))
            ).pipe(Stream.map((text) => encoder.encode(text)))
            return HttpServerResponse.stream(body, {
              contentType: "text/event-stream",
              headers: { "cache-control": "no-cache, no-store", "x-accel-buffering": "no" }
            })
          }))
        .handle("resume", ({ params, request }) =>
          Effect.gen(function*() {
            const caller = yield* Auth.Caller
            const remote = remoteOf(request)
            const executionId = yield* executions.resume(params.id, { resumedBy: caller.name }).pipe(
              Effect.tapError((error) =>
                audit("resume", { executionId: params.id, caller: caller.name, remote, outcome: error._tag })
              )
            )
            yield* audit("resume", { executionId, caller: caller.name, remote, outcome: "Resumed" })
            return new ExecutionStarted({ executionId })
          }))
        .handle("answer", ({ params, payload, request }) =>
          Effect.gen(function*() {
            const caller = yield* Auth.Caller
            const who = { executionId: params.id, inputId: params.inputId, caller: caller.name, remote: remoteOf(request) }
            const receipt = yield* executions.answer(params.id, params.inputId, payload.value, { answeredBy: caller.name }).pipe(
              Effect.tapError((error) => audit("answer", { ...who, outcome: error._tag }))
            )
            yield* audit("answer", { ...who, outcome: receipt._tag })
            return receipt
          }))
        .handle("openapi", () => Effect.succeed(HttpServerResponse.jsonUnsafe(spec)))
    })
  )

const SystemHandlers = HttpApiBuilder.group(Api, "system", (handlers) =>
  handlers
    .handle("health", () => Effect.map(isoNow, (time) => ({ status: "ok" as const, time })))
    .handle("page", () =>
      Effect.succeed(
        HttpServerResponse.text(Page.html, { contentType: "text/html; charset=utf-8", headers: Page.headers })
      )))

const RequestErrorsLive = HttpApiMiddleware.layerSchemaErrorTransform(
  RequestErrors,
  (error) =>
    error.kind === "Body" || error.kind === "ResponseHeaders"
      ? Effect.fail(error) // a response that does not encode: a bug, answered 500 and logged
      : Effect.fail(invalidRequest(error))
)

// -----------------------------------------------------------------------------
// Server-wide rules
// -----------------------------------------------------------------------------

const textOf = (body: HttpBody.HttpBody): string | undefined => {
  if (body._tag !== "Uint8Array") return undefined
  const text = body.text ?? new TextDecoder().decode(body.body)
  return text.trim() === "" ? undefined : text.trim()
}

const retryAfterOf = (body: HttpBody.HttpBody): number | undefined => {
  try {
    const value: unknown = JSON.parse(textOf(body) ?? "")
    return typeof value === "object" && value !== null && "retryAfterMs" in value && typeof value.retryAfterMs === "number"
      ? value.retryAfterMs
      : undefined
  } catch {
    return undefined
  }
}

// Every error answer is JSON: empty or plain-text error responses (from the router, the body reader,
// the API's own fallbacks) get a JSON body; 401 says how to authenticate; every answer gets the
// security headers.
const finalize = (request: HttpServerRequest.HttpServerRequest) =>
(response: HttpServerResponse.HttpServerResponse): HttpServerResponse.HttpServerResponse => {
  let out = response
  const contentType = ("contentType" in response.body ? response.body.contentType : undefined) ??
    response.headers["content-type"] ?? ""
  if (response.status >= 400 && !contentType.includes("json") && response.body._tag !== "Stream") {
    const message = textOf(response.body) ?? statusMessages[response.status] ?? `HTTP ${response.status}`
    out = HttpServerResponse.setBody(
      response,
      HttpServerResponse.jsonUnsafe(encodeError(new HttpError({ status: response.status, message }))).body
    )
  }
  if (out.status === 401) {
    out = HttpServerResponse.setHeader(out, "www-authenticate", `Bearer realm="agent-interrupt"`)
  }
  if (out.status === 429 && out.headers["retry-after"] === undefined) {
    // a 429 of the Authorization middleware: its body says when
    const retryAfterMs = retryAfterOf(out.body)
    if (retryAfterMs !== undefined) out = HttpServerResponse.setHeader(out, "retry-after", String(Math.ceil(retryAfterMs / 1000)))
  }
  out = HttpServerResponse.setHeaders(out, {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer"
  })
  if (request.url.startsWith("/api") && out.headers["cache-control"] === undefined) {
    out = HttpServerResponse.setHeader(out, "cache-control", "no-store")
  }
  return out
}

const serverRules = (settings: Settings) =>
  HttpRouter.middleware((app) =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const tooLarge = errorResponse(
        new PayloadTooLarge({
          message: `The request body is larger than ${settings.maxBodySize} bytes`,
          limitBytes: settings.maxBodySize
        }),
        413,
        { connection: "close" }
      )
      const length = Number(request.headers["content-length"])
      if (Number.isFinite(length) && length > settings.maxBodySize) return finalize(request)(tooLarge)
      const response = yield* app.pipe(
        Effect.provideService(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(settings.maxBodySize)),
        Effect.catchCause((cause) =>
          Effect.gen(function*() {
            if (Cause.hasInterruptsOnly(cause)) return yield* Effect.failCause(cause)
            for (const reason of cause.reasons) {
              if (reason._tag !== "Fail" && reason._tag !== "Die") continue
              const error = reason._tag === "Fail" ? reason.error : reason.defect
              if (!HttpServerError.isHttpServerError(error)) continue
              if (error.reason._tag === "RouteNotFound") {
                const path = request.url.split("?")[0] ?? request.url
                if (!isPercentEncoded(path)) {
                  return errorResponse(
                    new InvalidRequest({
                      message: `The path ${path} has a malformed percent-encoding (a "%" not followed by two hex digits)`,
                      issues: [{ path: ["path"], message: "Malformed percent-encoding" }]
                    }),
                    400
                  )
                }
                const allow = allowedMethods(request.url)
                // no route, or one for this method whose parameter the router would not take (longer
                // than ROUTER_CONFIG.maxParamLength): not found, never "use" the method that was used
                return allow.length === 0 || allow.includes(request.method)
                  ? errorResponse(
                    new RouteNotFound({
                      message: `No route ${request.method} ${path}${
                        error.reason.description === undefined ? "" : ` (${error.reason.description})`
                      }`
                    }),
                    404
                  )
                  : errorResponse(
                    new MethodNotAllowed({
                      message: `Method ${request.method} is not allowed on ${request.url.split("?")[0]}; use ${allow.join(", ")}`,
                      allow
                    }),
                    405,
                    { allow: allow.join(", ") }
                  )
              }
              if (error.reason._tag === "RequestParseError" && error.reason.reason === "BodyTooLarge") return tooLarge
            }
            const [response] = yield* HttpServerError.causeResponse(cause)
            if (response.status >= 500) {
              yield* Effect.logError("Request failed", cause).pipe(
                Effect.annotateLogs({ method: request.method, url: request.url })
              )
            }
            return response
          })
        )
      )
      return finalize(request)(response)
    }), { global: true })

// -----------------------------------------------------------------------------
// Layers
// -----------------------------------------------------------------------------

/**
 * The API's routes, the page and the server-wide rules, registered on the current `HttpRouter`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerRoutes = (
  options: ServerOptions
): Layer.Layer<never, never, HttpRouter.HttpRouter | Executions> => {
  const settings = settingsOf(options)
  const limiter = RateLimiter.layer.pipe(Layer.provide(options.rateLimitStore ?? RateLimiter.layerStoreMemory))
  return Layer.mergeAll(
    HttpApiBuilder.layer(Api).pipe(
      Layer.provide([ExecutionsHandlers(settings), SystemHandlers]),
      Layer.provide([Auth.layer(options.auth), RequestErrorsLive, limiter])
    ),
    serverRules(settings)
  ).pipe(Layer.provide(NodeHttpServer.layerHttpServices))
}

// Requests Node's HTTP parser refuses never reach the router: answer them in JSON too (400, 431 for
// a request line and headers over Node's 16 KB, 408), then keep reading what the client still sends
// for a moment, so that closing does not reset the connection before the client reads the answer.
const clientErrors: Readonly<Record<string, readonly [number, string, string]>> = {
  HPE_HEADER_OVERFLOW: [431, "Request Header Fields Too Large", "The request line and headers are larger than 16 KB"],
  ERR_HTTP_REQUEST_TIMEOUT: [408, "Request Timeout", "The request was not received in time"],
  HPE_HEADERS_TIMEOUT: [408, "Request Timeout", "The request headers were not received in time"]
}

const answerClientError = (error: NodeJS.ErrnoException, socket: Duplex): void => {
  if (error.code === "ECONNRESET" || !socket.writable) {
    socket.destroy()
    return
  }
  const [status, text, message] = clientErrors[error.code ?? ""] ??
    [400, "Bad Request", `Malformed HTTP request (${error.code ?? "parse error"})`]
  const body = JSON.stringify(encodeError(new HttpError({ status, message })))
  socket.on("data", () => {})
  socket.on("error", () => {})
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\ncontent-type: application/json\r\ncontent-length: ${
      Buffer.byteLength(body)
    }\r\nconnection: close\r\n\r\n${body}`
  )
  setTimeout(() => socket.destroy(), 1000).unref()
}

const createNodeServer = () => createServer().on("clientError", answerClientError)

/**
 * The server on Node's HTTP stack, listening on `host:port` (default `127.0.0.1:8080`). Read the
 * bound address from `HttpServer.HttpServer` (port 0 picks a free one). Requests Node's parser
 * refuses get JSON errors too (400, 431, 408).
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  options: ServerOptions
): Layer.Layer<HttpServer.HttpServer, HttpServerError.ServeError, Executions> =>
  HttpRouter.serve(layerRoutes(options), {
    routerConfig: ROUTER_CONFIG,
    disableLogger: options.accessLog !== true,
    disableListenLog: true
  }).pipe(
    Layer.provideMerge(
      NodeHttpServer.layerServer(createNodeServer, {
        port: options.port ?? 8080,
        host: options.host ?? "127.0.0.1",
        gracefulShutdownTimeout: options.gracefulShutdownTimeout ?? "5 seconds"
      })
    )
  )

/**
 * The URL the server listens on (`http://127.0.0.1:8080`).
 *
 * @category accessors
 * @since 0.1.0
 */
export const url: Effect.Effect<string, never, HttpServer.HttpServer> = Effect.map(
  HttpServer.HttpServer,
  (server) => HttpServer.formatAddress(server.address)
)
