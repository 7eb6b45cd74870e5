/**
 * Helpers for the HTTP tests: a server on a loopback port with small test workflows (gated by
 * Deferreds the test opens), fetch helpers, and a Server-Sent Events reader.
 */
import { NodeServices } from "@effect/platform-node"
import {
  Cause,
  ConfigProvider,
  Console,
  Deferred,
  Effect,
  Layer,
  Logger,
  Queue,
  Redacted,
  References,
  Schedule,
  Schema
} from "effect"
import { Command } from "effect/cli"
import { HttpServer } from "effect/http"
import { type BusEvent, BusEventJson, CheckpointStore, StopPolicy } from "../../src/index.ts"
import { Signals } from "../../src/cli/runMain.ts"
import { makeServe } from "../../src/cli/serve.ts"
import { ExecutionStarted } from "../../src/http/Api.ts"
import { ExecutionInfo, Executions, type LocalOptions } from "../../src/index.ts"
import { testWorkflows } from "../utils/workflows.ts"

export { freshGate, gated, gateOf, openGate, quick, slow, testWorkflows } from "../utils/workflows.ts"
import * as Server from "../../src/http/Server.ts"

export const TOKEN = "alice-token-0123456789abcdef"
export const TOKEN_BOB = "bob-token-0123456789abcdefgh"

// -----------------------------------------------------------------------------
// Test workflows
// -----------------------------------------------------------------------------

// -----------------------------------------------------------------------------
// Servers
// -----------------------------------------------------------------------------

/** Log lines the server wrote (message + annotations), for audit assertions. */
export interface CapturedLog {
  readonly level: string
  readonly message: string
  readonly cause: string
  readonly annotations: Readonly<Record<string, unknown>>
}

export const makeLogCapture = () => {
  const lines: Array<CapturedLog> = []
  const waiting: Array<{ readonly matches: (line: CapturedLog) => boolean; readonly found: Deferred.Deferred<CapturedLog> }> = []
  const logger = Logger.make(({ cause, fiber, logLevel, message }) => {
    const parts = Array.isArray(message) ? message : [message]
    const line: CapturedLog = {
      level: logLevel,
      message: parts.map(String).join(" "),
      cause: cause.reasons.length === 0 ? "" : Cause.pretty(cause),
      annotations: { ...fiber.getRef(References.CurrentLogAnnotations) }
    }
    lines.push(line)
    for (const w of waiting) if (w.matches(line)) Deferred.doneUnsafe(w.found, Effect.succeed(line))
  })
  /** The first line (logged so far, or to come) that `matches`. */
  const next = (matches: (line: CapturedLog) => boolean): Effect.Effect<CapturedLog> =>
    Effect.suspend(() => {
      const seen = lines.find(matches)
      if (seen !== undefined) return Effect.succeed(seen)
      const found = Deferred.makeUnsafe<CapturedLog>()
      waiting.push({ matches, found })
      return Deferred.await(found)
    })
  return { lines, next, layer: Logger.layer([logger]) }
}

/**
 * Runs the `serve` command in this process, under the test's control: its signals come from the
 * returned queue, its Console lines are kept, its environment is `config`. Succeeds once it says it
 * is ready ("Press Ctrl-C …"), with the URL it listens on.
 */
export const startServe = (
  args: ReadonlyArray<string>,
  config: Record<string, string> = {},
  serve: ReturnType<typeof makeServe> = makeServe()
) =>
  Effect.gen(function*() {
    const signals = yield* Queue.unbounded<"SIGINT" | "SIGTERM">()
    const lines: Array<string> = []
    const ready = yield* Deferred.make<void>()
    const console: Console.Console = {
      ...globalThis.console,
      log: (...values: ReadonlyArray<unknown>) => {
        const line = values.map(String).join(" ")
        lines.push(line)
        if (line.startsWith("Press Ctrl-C")) Deferred.doneUnsafe(ready, Effect.void)
      }
    }
    const fiber = yield* Command.runWith(serve, { version: "0.1.0" })(args).pipe(
      Effect.provide(NodeServices.layer),
      Effect.provideService(Signals, { listen: Effect.succeed(signals) }),
      Effect.provideService(Console.Console, console),
      Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(config))),
      Effect.forkChild({ startImmediately: true })
    )
    yield* Deferred.await(ready)
    const url = lines.map((l) => /listening on (http:\/\/\S+)$/.exec(l)?.[1]).find((u) => u !== undefined) ?? ""
    return { fiber, signals, lines, url }
  })

export interface TestServerOptions extends Partial<Server.ServerOptions> {
  readonly local?: LocalOptions | undefined
  readonly logger?: Layer.Layer<never> | undefined
}

/** A server on a free loopback port with the test workflows, alice's and bob's tokens, a memory store. */
export const serverLayer = (options: TestServerOptions = {}) => {
  const { local, logger, ...serverOptions } = options
  const layer = Server.layer({
    port: 0,
    auth: {
      credentials: [
        { token: Redacted.make(TOKEN), caller: "alice" },
        { token: Redacted.make(TOKEN_BOB), caller: "bob" }
      ],
      // the tests of one server send many wrong tokens on purpose: the limit has its own test
      failedLogins: { limit: 1_000_000 }
    },
    keepAlive: "200 millis",
    ...serverOptions
  }).pipe(
    // Shutting down aborts at once: a gated run never drains on its own. A priority override drains
    // until the test opens the gate (the run stays `cancelling` meanwhile).
    Layer.provideMerge(Executions.layerLocal({
      workflows: testWorkflows,
      stopPolicy: { system_shutdown: StopPolicy.abort(), priority_override: StopPolicy.drain("1 hour") },
      ...local
    })),
    Layer.provideMerge(CheckpointStore.layerMemory)
  )
  return logger === undefined ? layer : layer.pipe(Layer.provide(logger))
}

export const baseUrl = Effect.map(HttpServer.HttpServer, (server) => HttpServer.formatAddress(server.address))

// -----------------------------------------------------------------------------
// Requests
// -----------------------------------------------------------------------------

export interface Reply {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  readonly json: unknown
}

export interface RequestOptions {
  readonly body?: unknown
  readonly rawBody?: string | undefined
  readonly token?: string | null | undefined
  readonly headers?: Record<string, string> | undefined
}

/** A request over loopback; `token: null` sends none. */
export const request = (method: string, path: string, options: RequestOptions = {}) =>
  Effect.flatMap(baseUrl, (url) =>
    Effect.promise(async (): Promise<Reply> => {
      const headers: Record<string, string> = { ...options.headers }
      const token = options.token === undefined ? TOKEN : options.token
      if (token !== null) headers.authorization = `Bearer ${token}`
      let body: string | undefined
      if (options.rawBody !== undefined) body = options.rawBody
      else if (options.body !== undefined) body = JSON.stringify(options.body)
      if (body !== undefined && headers["content-type"] === undefined) headers["content-type"] = "application/json"
      const response = await fetch(`${url}${path}`, { method, headers, body: body ?? null })
      const text = await response.text()
      let json: unknown = undefined
      try {
        json = text === "" ? undefined : JSON.parse(text)
      } catch {
        json = undefined
      }
      return { status: response.status, headers: response.headers, text, json }
    }))

/** Starts a workflow, failing the test unless the server answers 201. */
export const start = (workflow: string, input: unknown, token: string = TOKEN) =>
  Effect.flatMap(request("POST", "/api/executions", { body: { workflow, input }, token }), (reply) =>
    reply.status === 201
      ? Effect.succeed(Schema.decodeUnknownSync(ExecutionStarted)(reply.json).executionId)
      : Effect.die(new Error(`start ${workflow}: HTTP ${reply.status} ${reply.text}`)))

/** Polls `GET /api/executions/:id` until `until` holds (the condition is observed through the API). */
export const awaitStatus = (id: string, until: (info: ExecutionInfo) => boolean) =>
  request("GET", `/api/executions/${id}`).pipe(
    Effect.map((reply) => Schema.decodeUnknownSync(ExecutionInfo)(reply.json)),
    Effect.repeat({ until, schedule: Schedule.spaced("10 millis") }),
    Effect.timeoutOrElse({
      duration: "20 seconds",
      orElse: () => Effect.die(new Error(`execution ${id} never reached the expected state`))
    })
  )

// -----------------------------------------------------------------------------
// Server-Sent Events
// -----------------------------------------------------------------------------

export interface SseMessage {
  readonly id: string | undefined
  readonly event: string
  readonly data: string
}

export type SseItem =
  | { readonly _tag: "Event"; readonly message: SseMessage }
  | { readonly _tag: "Comment"; readonly text: string }

export interface SseConnection {
  readonly status: number
  readonly headers: Headers
  /** The next event or comment, or `undefined` once the stream ended. */
  readonly nextItem: () => Promise<SseItem | undefined>
  /** The next event (comments skipped), or `undefined` once the stream ended. */
  readonly next: () => Promise<SseMessage | undefined>
  readonly close: () => void
}

/** Opens an event stream with fetch (so the bearer token goes in a header). */
export const openSse = (
  path: string,
  options: { readonly lastEventId?: string | undefined; readonly token?: string | undefined } = {}
) =>
  Effect.flatMap(baseUrl, (url) =>
    Effect.acquireRelease(
      Effect.promise(async (): Promise<SseConnection> => {
        const controller = new AbortController()
        const headers: Record<string, string> = {
          authorization: `Bearer ${options.token ?? TOKEN}`,
          accept: "text/event-stream"
        }
        if (options.lastEventId !== undefined) headers["last-event-id"] = options.lastEventId
        const response = await fetch(`${url}${path}`, { headers, signal: controller.signal })
        const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
        let buffer = ""
        let ended = false
        let current: { id: string | undefined; event: string; data: Array<string> } = {
          id: undefined,
          event: "message",
          data: []
        }
        const nextItem = async (): Promise<SseItem | undefined> => {
          for (;;) {
            let newline: number
            while ((newline = buffer.indexOf("\n")) >= 0) {
              const line = buffer.slice(0, newline)
              buffer = buffer.slice(newline + 1)
              if (line === "") {
                const done = current
                current = { id: undefined, event: "message", data: [] }
                if (done.data.length > 0) {
                  return { _tag: "Event", message: { id: done.id, event: done.event, data: done.data.join("\n") } }
                }
                continue
              }
              if (line.startsWith(":")) return { _tag: "Comment", text: line }
              const colon = line.indexOf(":")
              const field = line.slice(0, colon)
              const value = line.slice(colon + 1).replace(/^ /, "")
              if (field === "id") current.id = value
              else if (field === "event") current.event = value
              else if (field === "data") current.data.push(value)
            }
            if (ended) return undefined
            const chunk = await reader.read().catch(() => ({ done: true as const, value: undefined }))
            if (chunk.done) ended = true
            else buffer += chunk.value
          }
        }
        const next = async (): Promise<SseMessage | undefined> => {
          for (;;) {
            const item = await nextItem()
            if (item === undefined) return undefined
            if (item._tag === "Event") return item.message
          }
        }
        return { status: response.status, headers: response.headers, nextItem, next, close: () => controller.abort() }
      }),
      (connection) => Effect.sync(() => connection.close())
    ))

/** Reads until a comment arrives (events before it are returned). */
export const readUntilComment = (connection: SseConnection) =>
  Effect.promise(async () => {
    const messages: Array<SseMessage> = []
    for (;;) {
      const item = await connection.nextItem()
      if (item === undefined) return { messages, comment: undefined }
      if (item._tag === "Comment") return { messages, comment: item.text }
      messages.push(item.message)
    }
  }).pipe(
    Effect.timeoutOrElse({ duration: "20 seconds", orElse: () => Effect.die(new Error("no comment arrived")) })
  )

/** Reads events until `until` holds for one (inclusive) or the stream ends. */
export const readUntil = (connection: SseConnection, until: (message: SseMessage) => boolean) =>
  Effect.promise(async () => {
    const messages: Array<SseMessage> = []
    for (;;) {
      const message = await connection.next()
      if (message === undefined) return { messages, ended: true }
      messages.push(message)
      if (until(message)) return { messages, ended: false }
    }
  }).pipe(
    Effect.timeoutOrElse({
      duration: "20 seconds",
      orElse: () => Effect.die(new Error("the expected event never arrived"))
    })
  )

/** Reads the rest of the stream. */
export const readAll = (connection: SseConnection) =>
  Effect.map(readUntil(connection, () => false), (r) => r.messages)

/** The bus event an SSE message carries. */
export const dataOf = (message: SseMessage): BusEvent => Schema.decodeUnknownSync(BusEventJson)(message.data)

/** The `started` event of the gated workflow's `wait` step. */
export const isStartedWait = (message: SseMessage) => {
  const event = dataOf(message)
  return event._tag === "ExecutionEvent" && event.status === "started" && event.actor === "wait"
}

/** An error body: every error the server answers is `{ _tag, message, ...fields }`. */
export const ErrorBody = Schema.Struct({ _tag: Schema.String, message: Schema.String })

/** Decodes a reply's JSON body. */
export const bodyOf = <A, I>(schema: Schema.Codec<A, I>, reply: Reply): A => Schema.decodeUnknownSync(schema)(reply.json)
