import { NodeHttpServer } from "@effect/platform-node"
import * as net from "node:net"
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Layer, Redacted, Schema, Stream } from "effect"
import { FetchHttpClient, HttpClient, HttpClientRequest, HttpRouter } from "effect/http"
import { HttpApiClient } from "effect/http-api"
import { createServer } from "node:http"
import { Api, routes } from "../../src/http/Api.ts"
import { AlreadyInterrupted, Executions, InterruptAccepted } from "../../src/index.ts"
import * as Page from "../../src/http/Page.ts"
import * as Server from "../../src/http/Server.ts"
import { CheckpointStore } from "../../src/index.ts"
import {
  awaitStatus,
  baseUrl,
  bodyOf,
  dataOf,
  ErrorBody,
  freshGate,
  isStartedWait,
  makeLogCapture,
  openGate,
  openSse,
  readAll,
  readUntil,
  readUntilComment,
  request,
  serverLayer,
  type SseMessage,
  start,
  testWorkflows,
  TOKEN,
  TOKEN_BOB
} from "./utils.ts"

const capture = makeLogCapture()

const ids = (messages: ReadonlyArray<SseMessage>) => messages.map((m) => Number(m.id))
const names = (messages: ReadonlyArray<SseMessage>) => messages.map((m) => m.event)
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

/** Starts a gated run and waits (on its event stream) until it is blocked in `wait`. */
const startBlocked = (label: string) =>
  Effect.gen(function*() {
    const gate = freshGate(label)
    const id = yield* start("gated", { gate })
    const connection = yield* openSse(`/api/executions/${id}/events`)
    const first = yield* readUntil(connection, isStartedWait)
    return { gate, id, connection, first: first.messages }
  })

describe("Server", () => {
  layer(serverLayer({ logger: capture.layer }), { excludeTestServices: true })("over loopback", (it) => {
    // -------------------------------------------------------------------------
    // Public routes, page, OpenAPI
    // -------------------------------------------------------------------------

    it.effect("GET /health answers without a token", () =>
      Effect.gen(function*() {
        const reply = yield* request("GET", "/health", { token: null })
        assert.strictEqual(reply.status, 200)
        assert.strictEqual(bodyOf(Schema.Struct({ status: Schema.String }), reply).status, "ok")
      }))

    it.effect("GET / serves the page with a strict Content-Security-Policy", () =>
      Effect.gen(function*() {
        const reply = yield* request("GET", "/", { token: null })
        assert.strictEqual(reply.status, 200)
        assert.match(reply.headers.get("content-type") ?? "", /^text\/html/)
        assert.strictEqual(reply.headers.get("content-security-policy"), Page.contentSecurityPolicy)
        assert.match(Page.contentSecurityPolicy, /script-src 'sha256-[A-Za-z0-9+/=]+'/)
        assert.strictEqual(reply.headers.get("x-content-type-options"), "nosniff")
        assert.strictEqual(reply.headers.get("x-frame-options"), "DENY")
        assert.strictEqual(reply.text, Page.html)
        // The page's scripts never parse text as HTML.
        assert.notInclude(reply.text, "innerHTML")
        assert.notInclude(reply.text, "insertAdjacentHTML")
        assert.notInclude(reply.text, "document.write")
        assert.notInclude(reply.text, "EventSource")
        assert.include(reply.text, "sessionStorage")
      }))

    it.effect("GET /api/openapi.json is generated from the API definition (and needs the token)", () =>
      Effect.gen(function*() {
        assert.strictEqual((yield* request("GET", "/api/openapi.json", { token: null })).status, 401)
        const reply = yield* request("GET", "/api/openapi.json")
        assert.strictEqual(reply.status, 200)
        const spec = bodyOf(
          Schema.Struct({
            openapi: Schema.String,
            info: Schema.Struct({ title: Schema.String }),
            paths: Schema.Record(Schema.String, Schema.Record(Schema.String, Schema.Unknown)),
            components: Schema.Struct({ securitySchemes: Schema.Record(Schema.String, Schema.Unknown) })
          }),
          reply
        )
        assert.strictEqual(spec.openapi, "3.1.0")
        assert.strictEqual(spec.info.title, "agent-interrupt control API")
        assert.deepStrictEqual(Object.keys(spec.paths).sort(), [
          "/",
          "/api/executions",
          "/api/executions/{id}",
          "/api/executions/{id}/events",
          "/api/executions/{id}/inputs/{inputId}",
          "/api/executions/{id}/interrupt",
          "/api/executions/{id}/resume",
          "/api/openapi.json",
          "/api/workflows",
          "/health"
        ])
        assert.deepStrictEqual(Object.keys(spec.paths["/api/executions/{id}/interrupt"]!), ["post"])
        assert.deepStrictEqual(Object.keys(spec.components.securitySchemes), ["bearer"])
      }))

    // -------------------------------------------------------------------------
    // Auth
    // -------------------------------------------------------------------------

    it.effect("every /api route answers 401 JSON without a valid token", () =>
      Effect.gen(function*() {
        const api = routes.filter((route) => route.path.startsWith("/api"))
        assert.strictEqual(api.length, 9)
        for (const route of api) {
          const path = route.path.replace(":id", "some-id").replace(":inputId", "in-00000000")
          for (const token of [null, "wrong-token-0123456789abcdef", ""]) {
            const reply = yield* request(route.method, path, {
              token,
              ...(route.method === "POST" ? { body: { workflow: "quick" } } : {})
            })
            assert.strictEqual(reply.status, 401, `${route.method} ${path} token=${token}`)
            const body = bodyOf(ErrorBody, reply)
            assert.strictEqual(body._tag, "Unauthorized")
            assert.strictEqual(reply.headers.get("www-authenticate"), `Bearer realm="agent-interrupt"`)
          }
        }
        const missing = yield* request("GET", "/api/executions", { token: null })
        assert.strictEqual(
          bodyOf(ErrorBody, missing).message,
          "Missing bearer token: send the header Authorization: Bearer <token>"
        )
        const wrong = yield* request("GET", "/api/executions", { token: "wrong-token-0123456789abcdef" })
        assert.strictEqual(bodyOf(ErrorBody, wrong).message, "Invalid bearer token")
        // logged once per client and window (the first wrong token), not once per attempt
        const warning = capture.lines.findLast((l) => l.message === "Rejected an invalid bearer token")
        assert.strictEqual(warning?.level, "Warn")
        assert.match(String(warning?.annotations.url), /^\/api\//)
        assert.strictEqual(warning?.annotations.remote, "127.0.0.1")
        // an authentication failure wins over a bad body
        const unauthenticatedBadBody = yield* request("POST", "/api/executions", { token: null, rawBody: "{" })
        assert.strictEqual(unauthenticatedBadBody.status, 401)
      }))

    it.effect("the caller is the token's, never a body field", () =>
      Effect.gen(function*() {
        const id = yield* start("quick", { n: 1 }, TOKEN_BOB)
        const info = yield* awaitStatus(id, (i) => i.status === "completed")
        assert.strictEqual(info.startedBy, "bob")
        const { id: blocked } = yield* startBlocked("caller")
        const spoof = yield* request("POST", `/api/executions/${blocked}/interrupt`, {
          body: { reason: "user_cancelled", triggeredBy: "mallory" }
        })
        assert.strictEqual(spoof.status, 400)
        assert.deepStrictEqual(bodyOf(ErrorBody, spoof), {
          _tag: "InvalidRequest",
          message: `Invalid request body: Expected no excess property at ["triggeredBy"]`
        })
        const stop = yield* request("POST", `/api/executions/${blocked}/interrupt`, { token: TOKEN_BOB })
        assert.strictEqual(stop.status, 202)
        assert.strictEqual(bodyOf(InterruptAccepted, stop).signal.triggeredBy, "bob")
      }))

    // -------------------------------------------------------------------------
    // Starting, listing, reading
    // -------------------------------------------------------------------------

    it.effect("GET /api/workflows lists what can be started", () =>
      Effect.gen(function*() {
        const reply = yield* request("GET", "/api/workflows")
        assert.strictEqual(reply.status, 200)
        const workflows = bodyOf(Schema.Array(Schema.Struct({ name: Schema.String, example: Schema.Json })), reply)
        assert.deepStrictEqual(workflows.map((w) => w.name), ["research", "gated", "quick", "failing", "slow", "asking", "reviewing"])
        assert.deepStrictEqual(workflows[0]!.example, { topic: "interruptible agents", pace: 1 })
      }))

    it.effect("POST /api/executions → 201 { executionId }; GET one and the list", () =>
      Effect.gen(function*() {
        const reply = yield* request("POST", "/api/executions", { body: { workflow: "quick", input: { n: 21 } } })
        assert.strictEqual(reply.status, 201)
        const body = bodyOf(Schema.Struct({ executionId: Schema.String }), reply)
        assert.deepStrictEqual(Object.keys(body), ["executionId"])
        assert.match(body.executionId, /^quick-\d{8}-\d{6}-[0-9a-f]{6}$/)
        const info = yield* awaitStatus(body.executionId, (i) => i.status === "completed")
        assert.strictEqual(info.workflow, "quick")
        assert.deepStrictEqual(info.input, { n: 21 })
        assert.strictEqual(info.startedBy, "alice")
        assert.strictEqual(info.runs, 1)
        assert.strictEqual(info.checkpoint, "saved")
        assert.strictEqual(info.checkpointId, body.executionId)
        // ExecutionStarted, started, completed, ExecutionFinished
        assert.deepStrictEqual(info.progress, {
          events: 4,
          started: 1,
          completed: 1,
          failed: 0,
          interrupted: 0,
          retrying: 0,
          recovered: 0,
          done: 1
        })
        assert.strictEqual(info.result, 42) // the result in full
        assert.isDefined(info.finishedAt)
        assert.isUndefined(info.interrupt)
        const list = yield* request("GET", "/api/executions")
        assert.strictEqual(list.status, 200)
        const all = bodyOf(Schema.Array(Schema.Struct({ executionId: Schema.String })), list)
        assert.isTrue(all.some((e) => e.executionId === body.executionId))
      }))

    it.effect("a workflow's input defaults to its example", () =>
      Effect.gen(function*() {
        const reply = yield* request("POST", "/api/executions", { body: { workflow: "quick" } })
        assert.strictEqual(reply.status, 201)
        const id = bodyOf(Schema.Struct({ executionId: Schema.String }), reply).executionId
        assert.deepStrictEqual((yield* awaitStatus(id, (i) => i.status === "completed")).input, { n: 1 })
      }))

    it.effect("a failed run reports its error", () =>
      Effect.gen(function*() {
        const id = yield* start("failing", {})
        const info = yield* awaitStatus(id, (i) => i.status === "failed")
        assert.strictEqual(info.error, "Workflow failing failed: it always fails")
        assert.strictEqual(info.checkpoint, "saved")
      }))

    // -------------------------------------------------------------------------
    // Errors: 400, 404, 405, 409, 413, 415
    // -------------------------------------------------------------------------

    it.effect("malformed or invalid bodies → 400 with the Schema message naming the field", () =>
      Effect.gen(function*() {
        const cases: ReadonlyArray<readonly [string, string]> = [
          [`{"input":{}}`, `Invalid request body: Missing key at ["workflow"]`],
          [`{"workflow":42}`, `Invalid request body: Expected string at ["workflow"]`],
          [`{"workflow":""}`, `Invalid request body: Expected a value with a length of at least 1 at ["workflow"]`],
          [`{nope`, "Invalid request body: Expected a valid JSON body"],
          [`{"workflow":"quick","extra":1}`, `Invalid request body: Expected no excess property at ["extra"]`],
          [`{"workflow":"nope"}`, `Unknown workflow "nope"; known: research, gated, quick, failing, slow, asking, reviewing`],
          [
            `{"workflow":"research","input":{"topic":"x","pace":-1}}`,
            `Invalid input for workflow research: Expected a value greater than 0 at ["pace"]`
          ],
          [
            `{"workflow":"research","input":{"pace":1}}`,
            `Invalid input for workflow research: Missing key at ["topic"]`
          ]
        ]
        for (const [rawBody, message] of cases) {
          const reply = yield* request("POST", "/api/executions", { rawBody })
          assert.strictEqual(reply.status, 400, rawBody)
          assert.strictEqual(bodyOf(ErrorBody, reply)._tag, "InvalidRequest")
          assert.strictEqual(bodyOf(ErrorBody, reply).message, message, rawBody)
        }
        const issues = yield* request("POST", "/api/executions", { rawBody: `{"input":{}}` })
        assert.deepStrictEqual(
          bodyOf(Schema.Struct({ issues: Schema.Array(Schema.Struct({ path: Schema.Array(Schema.Union([Schema.String, Schema.Number])), message: Schema.String })) }), issues).issues,
          [{ path: ["body", "workflow"], message: "Missing key" }]
        )
        const { id } = yield* startBlocked("bad-interrupt")
        const badReason = yield* request("POST", `/api/executions/${id}/interrupt`, { body: { reason: "bored" } })
        assert.strictEqual(badReason.status, 400)
        assert.match(bodyOf(ErrorBody, badReason).message, /^Invalid request body: Expected "user_cancelled" \| .* at \["reason"\]$/)
        const badWait = yield* request("POST", `/api/executions/${id}/interrupt?wait=forever`)
        assert.strictEqual(badWait.status, 400)
        assert.match(bodyOf(ErrorBody, badWait).message, /^Invalid request query: .* at \["wait"\]$/)
      }))

    it.effect("human in the loop: an awaiting run lists its question; answers are checked (400), taken once (200, then 409)", () =>
      Effect.gen(function*() {
        const id = yield* start("asking", { topic: "http" })
        const waiting = yield* awaitStatus(id, (i) => i.status === "awaiting" && i.inputs.length === 1)
        const question = waiting.inputs[0]!
        assert.strictEqual(question.prompt, "Which ending for http?")
        assert.deepStrictEqual(question.choices, ["a", "b"])
        assert.deepStrictEqual(question.jsonSchema, { type: "string" })
        const awaitingOnly = yield* request("GET", "/api/executions?status=awaiting")
        assert.include(
          bodyOf(Schema.Array(Schema.Struct({ executionId: Schema.String })), awaitingOnly).map((i) => i.executionId),
          id
        )
        const path = `/api/executions/${id}/inputs/${question.inputId}`
        const ErrorWithInput = Schema.Struct({ _tag: Schema.String, message: Schema.String })
        const bad = yield* request("POST", path, { body: { value: "c" } })
        assert.strictEqual(bad.status, 400)
        assert.deepStrictEqual(bodyOf(ErrorWithInput, bad), { _tag: "InvalidAnswer", message: `Expected one of "a", "b", got "c"` })
        const noValue = yield* request("POST", path, { body: {} })
        assert.strictEqual(noValue.status, 400)
        assert.strictEqual(bodyOf(ErrorBody, noValue)._tag, "InvalidRequest")
        const unknown = yield* request("POST", `/api/executions/${id}/inputs/in-00000000`, { body: { value: "a" } })
        assert.strictEqual(unknown.status, 404)
        assert.deepStrictEqual(bodyOf(ErrorWithInput, unknown), {
          _tag: "InputNotFound",
          message: `Execution ${id} has no input in-00000000`
        })
        assert.strictEqual((yield* request("GET", `/api/executions/${id}`)).status, 200)
        const ok = yield* request("POST", path, { body: { value: "b" }, token: TOKEN_BOB })
        assert.strictEqual(ok.status, 200, ok.text)
        const receipt = bodyOf(
          Schema.Struct({ _tag: Schema.String, executionId: Schema.String, inputId: Schema.String, value: Schema.Json, answeredBy: Schema.String }),
          ok
        )
        assert.deepStrictEqual(receipt, { _tag: "AnswerAccepted", executionId: id, inputId: question.inputId, value: "b", answeredBy: "bob" })
        const twice = yield* request("POST", path, { body: { value: "a" } })
        assert.strictEqual(twice.status, 409)
        assert.strictEqual(bodyOf(ErrorWithInput, twice)._tag, "InputAlreadyAnswered")
        const done = yield* awaitStatus(id, (i) => i.status === "completed")
        assert.strictEqual(done.result, "finished http-b")
        // the audit log names who answered
        const audit = capture.lines.filter((l) => l.message === "audit: answer").map((l) => l.annotations.outcome)
        assert.includeMembers(audit, ["InvalidAnswer", "InputNotFound", "AnswerAccepted", "InputAlreadyAnswered"])
      }))

    it.effect("unknown execution id → 404 on every execution route", () =>
      Effect.gen(function*() {
        for (const [method, path] of [
          ["GET", "/api/executions/nope"],
          ["POST", "/api/executions/nope/interrupt"],
          ["POST", "/api/executions/nope/resume"],
          ["GET", "/api/executions/nope/events"],
          ["POST", "/api/executions/nope/inputs/in-00000000"]
        ] as const) {
          const reply = yield* request(method, path, method === "POST" && path.includes("/inputs/") ? { body: { value: 1 } } : {})
          assert.strictEqual(reply.status, 404, `${method} ${path}`)
          assert.deepStrictEqual(bodyOf(Schema.Struct({ _tag: Schema.String, executionId: Schema.String, message: Schema.String }), reply), {
            _tag: "ExecutionNotFound",
            executionId: "nope",
            message: `No execution "nope"`
          })
        }
      }))

    it.effect("unknown route → 404 JSON; wrong method → 405 JSON with Allow", () =>
      Effect.gen(function*() {
        const missing = yield* request("GET", "/api/nothing-here")
        assert.strictEqual(missing.status, 404)
        assert.deepStrictEqual(bodyOf(ErrorBody, missing), { _tag: "RouteNotFound", message: "No route GET /api/nothing-here" })
        for (const [method, path, allow] of [
          ["DELETE", "/api/executions", "GET, POST"],
          ["PUT", "/api/executions/some-id/interrupt", "POST"],
          ["GET", "/api/executions/some-id/resume", "POST"],
          ["POST", "/api/executions/some-id", "GET"],
          ["POST", "/health", "GET"],
          ["DELETE", "/", "GET"]
        ] as const) {
          const reply = yield* request(method, path)
          assert.strictEqual(reply.status, 405, `${method} ${path}`)
          assert.strictEqual(reply.headers.get("allow"), allow)
          assert.deepStrictEqual(bodyOf(ErrorBody, reply), {
            _tag: "MethodNotAllowed",
            message: `Method ${method} is not allowed on ${path}; use ${allow}`
          })
        }
      }))

    it.effect("every state id reaches its route (up to 128 characters); longer ids and bad percent-encoding → 4xx JSON, never 405", () =>
      Effect.gen(function*() {
        const longest = "a".repeat(128)
        for (const [method, path] of [["GET", `/api/executions/${longest}`], ["POST", `/api/executions/${longest}/interrupt`]] as const) {
          const reply = yield* request(method, path)
          assert.strictEqual(reply.status, 404, `${method} ${path}`)
          assert.deepStrictEqual(bodyOf(ErrorBody, reply), { _tag: "ExecutionNotFound", message: `No execution "${longest}"` })
        }
        const tooLong = yield* request("GET", `/api/executions/${"a".repeat(129)}`)
        assert.strictEqual(tooLong.status, 400)
        assert.strictEqual(bodyOf(ErrorBody, tooLong)._tag, "InvalidRequest")
        // longer than the router takes: not found (it names why), not "use POST" to a POST
        const huge = `/api/executions/${"a".repeat(300)}/interrupt`
        const hugeReply = yield* request("POST", huge)
        assert.strictEqual(hugeReply.status, 404)
        assert.deepStrictEqual(bodyOf(ErrorBody, hugeReply), {
          _tag: "RouteNotFound",
          message: `No route POST ${huge} (path parameter is longer than maxParamLength (256))`
        })
        for (const [method, path] of [["GET", "/api/executions/%zz"], ["POST", "/api/executions/%zz/interrupt"]] as const) {
          const reply = yield* request(method, path)
          assert.strictEqual(reply.status, 400, `${method} ${path}`)
          assert.deepStrictEqual(bodyOf(ErrorBody, reply), {
            _tag: "InvalidRequest",
            message: `The path ${path} has a malformed percent-encoding (a "%" not followed by two hex digits)`
          })
        }
      }))

    it.effect("requests Node's HTTP parser refuses → JSON 400 / 431, read in full even for a 100 KB URL", () =>
      Effect.gen(function*() {
        const { port } = new URL(yield* baseUrl)
        const raw = (text: string) =>
          Effect.promise(() =>
            new Promise<string>((resolve) => {
              const socket = net.connect(Number(port), "127.0.0.1")
              let out = ""
              socket.on("data", (chunk) => (out += chunk.toString()))
              socket.on("error", () => {})
              socket.on("close", () => resolve(out))
              socket.write(text)
            })
          )
        const answer = (text: string) => {
          const [head, body] = text.split("\r\n\r\n")
          return { statusLine: head!.split("\r\n")[0], contentType: /content-type: ([^\r]+)/i.exec(head!)?.[1], body: JSON.parse(body!) }
        }
        assert.deepStrictEqual(answer(yield* raw("NOT HTTP AT ALL\r\n\r\n")), {
          statusLine: "HTTP/1.1 400 Bad Request",
          contentType: "application/json",
          body: { _tag: "HttpError", status: 400, message: "Malformed HTTP request (HPE_INVALID_METHOD)" }
        })
        const tooLarge = {
          statusLine: "HTTP/1.1 431 Request Header Fields Too Large",
          contentType: "application/json",
          body: { _tag: "HttpError", status: 431, message: "The request line and headers are larger than 16 KB" }
        }
        assert.deepStrictEqual(answer(yield* raw(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`)), tooLarge)
        assert.deepStrictEqual(answer(yield* raw(`GET /${"a".repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`)), tooLarge)
      }))

    it.effect("a body over the limit → 413 JSON, with or without Content-Length", () =>
      Effect.gen(function*() {
        const big = JSON.stringify({ workflow: "quick", input: { pad: "x".repeat(70_000) } })
        const declared = yield* request("POST", "/api/executions", { rawBody: big })
        assert.strictEqual(declared.status, 413)
        assert.deepStrictEqual(bodyOf(ErrorBody, declared), {
          _tag: "PayloadTooLarge",
          message: "The request body is larger than 65536 bytes"
        })
        // Chunked: no Content-Length, the reader stops at the limit.
        const url = yield* baseUrl
        const chunked = yield* Effect.promise(async () => {
          const encoded = new TextEncoder().encode(big)
          const body = new ReadableStream<Uint8Array>({
            start(controller) {
              for (let i = 0; i < encoded.length; i += 8192) controller.enqueue(encoded.slice(i, i + 8192))
              controller.close()
            }
          })
          const response = await fetch(`${url}/api/executions`, {
            method: "POST",
            headers: { authorization: `Bearer alice-token-0123456789abcdef`, "content-type": "application/json" },
            body,
            duplex: "half"
          } as RequestInit)
          return { status: response.status, text: await response.text() }
        })
        assert.strictEqual(chunked.status, 413)
        assert.strictEqual(JSON.parse(chunked.text)._tag, "PayloadTooLarge")
      }))

    it.effect("an unsupported content type → 415 JSON", () =>
      Effect.gen(function*() {
        const reply = yield* request("POST", "/api/executions", {
          rawBody: "workflow=quick",
          headers: { "content-type": "text/plain" }
        })
        assert.strictEqual(reply.status, 415)
        assert.deepStrictEqual(bodyOf(Schema.Struct({ _tag: Schema.String, status: Schema.Number, message: Schema.String }), reply), {
          _tag: "HttpError",
          status: 415,
          message: "Unsupported content-type: text/plain"
        })
      }))

    // -------------------------------------------------------------------------
    // Interrupt
    // -------------------------------------------------------------------------

    it.effect("interrupt → 202 with the receipt; again while it drains → 200; once it ended → 409; audited", () =>
      Effect.gen(function*() {
        const { connection, gate, id } = yield* startBlocked("interrupt")
        const reply = yield* request("POST", `/api/executions/${id}/interrupt`, {
          body: { reason: "priority_override", message: "a more urgent job" }
        })
        assert.strictEqual(reply.status, 202)
        const receipt = bodyOf(InterruptAccepted, reply)
        assert.strictEqual(receipt._tag, "InterruptAccepted")
        assert.strictEqual(receipt.executionId, id)
        assert.strictEqual(receipt.signal.reason, "priority_override")
        assert.strictEqual(receipt.signal.message, "a more urgent job")
        assert.strictEqual(receipt.signal.triggeredBy, "alice")
        assert.strictEqual(receipt.signal.saveCheckpoint, true)
        assert.deepStrictEqual(receipt.stages.slice(0, 2).map((s) => s.stage), ["requested", "delivered"])
        // a priority override drains (the test's stop policy): the run is cancelling until the gate opens
        assert.strictEqual((yield* awaitStatus(id, () => true)).status, "cancelling")

        const again = yield* request("POST", `/api/executions/${id}/interrupt`, {
          token: TOKEN_BOB,
          body: { reason: "user_cancelled" }
        })
        assert.strictEqual(again.status, 200)
        const second = bodyOf(AlreadyInterrupted, again)
        assert.strictEqual(second._tag, "AlreadyInterrupted")
        assert.deepStrictEqual(second.signal, receipt.signal) // the first interrupt won

        yield* openGate(gate)
        yield* readAll(connection)
        const info = yield* awaitStatus(id, (i) => i.status === "interrupted")
        assert.deepStrictEqual(info.interrupt, receipt.signal)
        assert.deepStrictEqual(info.interruptStages.map((s) => s.stage), ["requested", "delivered", "stopped", "checkpointed"])
        // stage times in causal order
        const times = info.interruptStages.map((s) => s.at)
        assert.deepStrictEqual(times, [...times].sort())
        assert.strictEqual(info.checkpoint, "saved")
        assert.strictEqual(info.checkpointId, id)
        // not running any more: 409, and nothing left behind
        const third = yield* request("POST", `/api/executions/${id}/interrupt`)
        assert.strictEqual(third.status, 409)
        assert.deepStrictEqual(bodyOf(ErrorBody, third), {
          _tag: "ExecutionNotRunning",
          message: `Execution ${id} is not running: it is interrupted`
        })

        const audits = capture.lines.filter((line) => line.annotations.audit === "interrupt" && line.annotations.executionId === id)
        assert.deepStrictEqual(
          audits.map((a) => [a.message, a.level, a.annotations.caller, a.annotations.reason, a.annotations.outcome]),
          [
            ["audit: interrupt", "Info", "alice", "priority_override", "InterruptAccepted"],
            ["audit: interrupt", "Info", "bob", "user_cancelled", "AlreadyInterrupted"],
            ["audit: interrupt", "Info", "alice", "user_cancelled", "ExecutionNotRunning"]
          ]
        )
        assert.strictEqual(audits[0]!.annotations.message, "a more urgent job")
        assert.strictEqual(audits[0]!.annotations.remote, "127.0.0.1")
        assert.match(String(audits[0]!.annotations.at), /^\d{4}-\d\d-\d\dT/)
      }))

    it.effect("concurrent interrupts: exactly one wins", () =>
      Effect.gen(function*() {
        const { gate, id } = yield* startBlocked("race")
        // drained until the gate opens: every request finds the run running or cancelling
        const replies = yield* Effect.forEach(
          range(1, 8),
          (i) =>
            request("POST", `/api/executions/${id}/interrupt`, {
              token: i % 2 === 0 ? TOKEN_BOB : undefined,
              body: { reason: "priority_override" }
            }),
          { concurrency: "unbounded" }
        )
        yield* openGate(gate)
        assert.deepStrictEqual(replies.map((r) => r.status).sort(), [200, 200, 200, 200, 200, 200, 200, 202])
        const winner = bodyOf(InterruptAccepted, replies.find((r) => r.status === 202)!)
        for (const reply of replies.filter((r) => r.status === 200)) {
          assert.deepStrictEqual(bodyOf(AlreadyInterrupted, reply).signal, winner.signal)
        }
      }))

    it.effect("?wait=checkpointed answers once the checkpoint is saved", () =>
      Effect.gen(function*() {
        const { id } = yield* startBlocked("wait")
        const reply = yield* request("POST", `/api/executions/${id}/interrupt?wait=checkpointed`)
        assert.strictEqual(reply.status, 202)
        const receipt = bodyOf(InterruptAccepted, reply)
        assert.deepStrictEqual(receipt.stages.map((s) => s.stage), ["requested", "delivered", "stopped", "checkpointed"])
        assert.strictEqual(receipt.checkpointId, id)
        assert.strictEqual(receipt.signal.reason, "user_cancelled")
      }))

    it.effect("interrupting a finished run → 409; saveCheckpoint false → not resumable (409)", () =>
      Effect.gen(function*() {
        const done = yield* start("quick", { n: 2 })
        yield* awaitStatus(done, (i) => i.status === "completed")
        const late = yield* request("POST", `/api/executions/${done}/interrupt`)
        assert.strictEqual(late.status, 409)
        assert.deepStrictEqual(bodyOf(ErrorBody, late), {
          _tag: "ExecutionNotRunning",
          message: `Execution ${done} is not running: it is completed`
        })
        const failed = yield* start("failing", {})
        yield* awaitStatus(failed, (i) => i.status === "failed")
        assert.strictEqual((yield* request("POST", `/api/executions/${failed}/interrupt`)).status, 409)

        const { connection, id } = yield* startBlocked("nosave")
        const reply = yield* request("POST", `/api/executions/${id}/interrupt`, { body: { saveCheckpoint: false } })
        assert.strictEqual(reply.status, 202)
        const events = yield* readAll(connection)
        const finished = dataOf(events[events.length - 1]!)
        assert.strictEqual(finished._tag === "ExecutionFinished" && finished.checkpoint, "not_saved")
        const info = yield* awaitStatus(id, (i) => i.status === "interrupted")
        assert.strictEqual(info.checkpoint, "not_saved")
        assert.isUndefined(info.checkpointId)
        const resume = yield* request("POST", `/api/executions/${id}/resume`)
        assert.strictEqual(resume.status, 409)
        assert.deepStrictEqual(bodyOf(ErrorBody, resume), {
          _tag: "NotResumable",
          message: `Execution ${id} cannot be resumed: it was interrupted with saveCheckpoint: false, so nothing was kept to resume from`
        })
      }))

    // -------------------------------------------------------------------------
    // Resume
    // -------------------------------------------------------------------------

    it.effect("resume an interrupted run → 202; it completes; non-interrupted runs → 409", () =>
      Effect.gen(function*() {
        const { connection, gate, id } = yield* startBlocked("resume")
        const running = yield* request("POST", `/api/executions/${id}/resume`)
        assert.strictEqual(running.status, 409)
        assert.deepStrictEqual(bodyOf(ErrorBody, running), {
          _tag: "NotResumable",
          message: `Execution ${id} cannot be resumed: it is running here`
        })
        yield* request("POST", `/api/executions/${id}/interrupt`)
        const firstRun = yield* readAll(connection)
        const lastOfFirstRun = Number(firstRun[firstRun.length - 1]!.id)

        const reply = yield* request("POST", `/api/executions/${id}/resume`, { token: TOKEN_BOB })
        assert.strictEqual(reply.status, 202)
        assert.deepStrictEqual(reply.json, { executionId: id })
        // Still blocked: a reader from the start is not ended by the first run's `finished`.
        const fromStart = yield* openSse(`/api/executions/${id}/events`)
        const upToSecondWait = yield* readUntil(fromStart, (m) => isStartedWait(m) && Number(m.id) > lastOfFirstRun)
        assert.isFalse(upToSecondWait.ended)
        assert.deepStrictEqual(ids(upToSecondWait.messages), range(1, ids(upToSecondWait.messages).length))
        yield* openGate(gate)
        const rest = yield* readAll(fromStart)
        assert.strictEqual(rest[rest.length - 1]!.event, "finished")
        const info = yield* awaitStatus(id, (i) => i.status === "completed")
        assert.strictEqual(info.runs, 2)
        assert.strictEqual(info.progress.recovered, 1) // `prepare` was replayed, not run again
        assert.isUndefined(info.interrupt)
        assert.strictEqual(info.startedBy, "alice")
        const again = yield* request("POST", `/api/executions/${id}/resume`)
        assert.strictEqual(again.status, 409)
        assert.include(bodyOf(ErrorBody, again).message, `Execution ${id} cannot be resumed: it already completed at `)
        const audit = capture.lines.find((l) => l.annotations.audit === "resume" && l.annotations.executionId === id && l.annotations.outcome === "Resumed")
        assert.strictEqual(audit?.annotations.caller, "bob")
      }))

    // -------------------------------------------------------------------------
    // Server-Sent Events
    // -------------------------------------------------------------------------

    it.effect("events: history then live, in order, with ids; ends after `finished`", () =>
      Effect.gen(function*() {
        const { connection, first, id } = yield* startBlocked("sse")
        assert.strictEqual(connection.status, 200)
        assert.match(connection.headers.get("content-type") ?? "", /^text\/event-stream/)
        assert.strictEqual(connection.headers.get("cache-control"), "no-cache, no-store")
        yield* request("POST", `/api/executions/${id}/interrupt`, { body: { message: "enough" } })
        const rest = yield* readAll(connection)
        const all = [...first, ...rest]
        assert.deepStrictEqual(ids(all), [1, 2, 3, 4, 5, 6, 7])
        assert.deepStrictEqual(names(all), ["started", "execution", "execution", "execution", "interrupted", "execution", "finished"])
        const events = all.map(dataOf)
        assert.deepStrictEqual(
          events.map((e) => e._tag === "ExecutionEvent" ? `${e.status} ${e.actor}` : e._tag),
          ["ExecutionStarted", "started prepare", "completed prepare", "started wait", "InterruptEvent", "interrupted wait", "ExecutionFinished"]
        )
        const finished = events[6]!
        assert.strictEqual(finished._tag, "ExecutionFinished")
        if (finished._tag === "ExecutionFinished") {
          assert.strictEqual(finished.status, "interrupted")
          assert.strictEqual(finished.checkpointId, id)
          assert.strictEqual(finished.signal?.message, "enough")
        }
        // A finished run: a comment (so the headers go out at once), the whole history, then the end.
        const replay = yield* openSse(`/api/executions/${id}/events`)
        assert.deepStrictEqual(yield* Effect.promise(() => replay.nextItem()), { _tag: "Comment", text: ": connected" })
        assert.deepStrictEqual(ids(yield* readAll(replay)), [1, 2, 3, 4, 5, 6, 7])
      }))

    it.effect("events: a reader reconnecting with Last-Event-ID (or ?after=) resumes after it", () =>
      Effect.gen(function*() {
        const { connection, first, gate, id } = yield* startBlocked("reconnect")
        assert.deepStrictEqual(ids(first), [1, 2, 3, 4])
        connection.close()
        const reconnected = yield* openSse(`/api/executions/${id}/events`, { lastEventId: "4" })
        yield* openGate(gate)
        const rest = yield* readAll(reconnected)
        assert.deepStrictEqual(ids(rest), [5, 6, 7, 8])
        assert.deepStrictEqual(
          rest.map(dataOf).map((e) => e._tag === "ExecutionEvent" ? `${e.status} ${e.actor}` : e._tag),
          ["completed wait", "started finish", "completed finish", "ExecutionFinished"]
        )
        // after a finished run
        assert.deepStrictEqual(ids(yield* readAll(yield* openSse(`/api/executions/${id}/events`, { lastEventId: "6" }))), [7, 8])
        assert.deepStrictEqual(ids(yield* readAll(yield* openSse(`/api/executions/${id}/events?after=7`))), [8])
        assert.deepStrictEqual(ids(yield* readAll(yield* openSse(`/api/executions/${id}/events`, { lastEventId: "8" }))), [])
        // strictly a decimal sequence number
        // (a header value's surrounding spaces are not part of it in HTTP; a query keeps them)
        const spaced = yield* request("GET", `/api/executions/${id}/events?after=%201`)
        assert.strictEqual(spaced.status, 400)
        for (const value of ["abc", "0x10", "1e3", "-1"]) {
          const bad = yield* request("GET", `/api/executions/${id}/events`, { headers: { "last-event-id": value } })
          assert.strictEqual(bad.status, 400, value)
          assert.strictEqual(
            bodyOf(ErrorBody, bad).message,
            `Invalid Last-Event-ID ${JSON.stringify(value)}: expected a sequence number (a non-negative integer)`
          )
        }
      }))

    it.effect("the typed client derived from the API definition works against the server", () =>
      Effect.gen(function*() {
        const client = yield* HttpApiClient.make(Api, {
          baseUrl: yield* baseUrl,
          transformClient: HttpClient.mapRequest(HttpClientRequest.bearerToken(TOKEN))
        })
        const started = yield* client.executions.start({ payload: { workflow: "quick", input: { n: 3 } } })
        const events = yield* client.executions.events({ params: { id: started.executionId }, headers: {}, query: {} })
        const all = yield* Stream.runCollect(events)
        assert.deepStrictEqual(all.map((e) => [e.id, e.event]), [
          ["1", "started"],
          ["2", "execution"],
          ["3", "execution"],
          ["4", "finished"]
        ])
        const info = yield* client.executions.get({ params: { id: started.executionId } })
        assert.strictEqual(info.status, "completed")
        const late = yield* Effect.flip(
          client.executions.interrupt({ params: { id: started.executionId }, payload: null, query: {} })
        )
        assert.strictEqual(late._tag, "ExecutionNotRunning")
        const missing = yield* Effect.flip(client.executions.get({ params: { id: "nope" } }))
        assert.strictEqual(missing._tag, "ExecutionNotFound")
      }).pipe(Effect.provide(FetchHttpClient.layer)))

    it.effect("events: keep-alive comments while nothing happens", () =>
      Effect.gen(function*() {
        const { connection, gate } = yield* startBlocked("keepalive")
        const { comment, messages } = yield* readUntilComment(connection)
        assert.strictEqual(comment, ": keep-alive")
        assert.deepStrictEqual(messages, [])
        yield* openGate(gate)
      }))

    it.effect("events: a client that disconnects frees its subscription", () =>
      Effect.gen(function*() {
        const { connection, gate, id } = yield* startBlocked("disconnect")
        yield* awaitStatus(id, (i) => i.watchers === 1)
        const second = yield* openSse(`/api/executions/${id}/events`)
        yield* awaitStatus(id, (i) => i.watchers === 2)
        connection.close()
        yield* awaitStatus(id, (i) => i.watchers === 1)
        second.close()
        const info = yield* awaitStatus(id, (i) => i.watchers === 0)
        assert.strictEqual(info.status, "running")
        // and a stream that ended on its own leaves none either
        const third = yield* openSse(`/api/executions/${id}/events`)
        yield* openGate(gate)
        yield* readAll(third)
        assert.strictEqual((yield* awaitStatus(id, (i) => i.status === "completed" && i.watchers === 0)).watchers, 0)
      }))
  })

  layer(serverLayer({ interruptRateLimit: { limit: 2, window: "1 minute" } }), { excludeTestServices: true })(
    "rate limit",
    (it) => {
      it.effect("more than the limit of interrupts per client → 429 with Retry-After", () =>
        Effect.gen(function*() {
          const { gate, id } = yield* startBlocked("rate")
          const drain = { body: { reason: "priority_override" } }
          assert.strictEqual((yield* request("POST", `/api/executions/${id}/interrupt`, drain)).status, 202)
          assert.strictEqual((yield* request("POST", `/api/executions/${id}/interrupt`, drain)).status, 200)
          // interrupts of unknown ids do not count against the limit
          for (let i = 0; i < 5; i++) {
            assert.strictEqual((yield* request("POST", `/api/executions/nobody-${i}/interrupt`)).status, 404)
          }
          const limited = yield* request("POST", `/api/executions/${id}/interrupt`)
          assert.strictEqual(limited.status, 429)
          const retryAfter = Number(limited.headers.get("retry-after"))
          assert.isTrue(retryAfter >= 1 && retryAfter <= 60, String(retryAfter))
          const body = bodyOf(
            Schema.Struct({ _tag: Schema.String, message: Schema.String, limit: Schema.Number, retryAfterMs: Schema.Number }),
            limited
          )
          assert.strictEqual(body._tag, "RateLimited")
          assert.strictEqual(body.limit, 2)
          assert.match(body.message, /^Too many interrupts: at most 2 per 1m; retry in \d+ s$/)
          // per client: another caller still gets through, and other routes are not limited
          assert.strictEqual((yield* request("POST", `/api/executions/${id}/interrupt`, { token: TOKEN_BOB, ...drain })).status, 200)
          assert.strictEqual((yield* request("GET", `/api/executions/${id}`)).status, 200)
          yield* openGate(gate)
        }))
    }
  )

  const loginCapture = makeLogCapture()
  layer(
    serverLayer({
      auth: { credentials: [{ token: Redacted.make(TOKEN), caller: "alice" }], failedLogins: { limit: 3, window: "2 seconds" } },
      logger: loginCapture.layer
    }),
    { excludeTestServices: true }
  )("failed logins", (it) => {
    it.effect("past the limit of wrong tokens a client is refused (429, even with the right token) until its window ends; one log line per window", () =>
      Effect.gen(function*() {
        const wrong = { token: "wrong-token-0123456789abcdef" }
        const statuses: Array<number> = []
        for (let i = 0; i < 4; i++) statuses.push((yield* request("GET", "/api/executions", wrong)).status)
        assert.deepStrictEqual(statuses, [401, 401, 401, 429])
        const refused = yield* request("GET", "/api/executions")
        assert.strictEqual(refused.status, 429)
        const body = bodyOf(Schema.Struct({ _tag: Schema.String, message: Schema.String, retryAfterMs: Schema.Number }), refused)
        assert.strictEqual(body._tag, "TooManyFailedLogins")
        assert.isTrue(body.retryAfterMs >= 1 && body.retryAfterMs <= 2000, String(body.retryAfterMs))
        const seconds = String(Math.ceil(body.retryAfterMs / 1000))
        assert.strictEqual(body.message, `Too many invalid bearer tokens from this client: retry in ${seconds} s`)
        assert.strictEqual(refused.headers.get("retry-after"), seconds)
        // one line at the first wrong token, then one for the window once it ends
        const rejected = (l: { readonly message: string }) => l.message.startsWith("Rejected ")
        assert.deepStrictEqual(loginCapture.lines.filter(rejected).map((l) => l.message), ["Rejected an invalid bearer token"])
        const summary = yield* loginCapture.next((l) => l.message.startsWith("Rejected 5 "))
        assert.strictEqual(summary.message, "Rejected 5 invalid bearer tokens in 2s (over the limit of 3: 2 refused unchecked)")
        assert.strictEqual(summary.annotations.remote, "127.0.0.1")
        assert.strictEqual(loginCapture.lines.filter(rejected).length, 2)
        // the window over, the right token works again
        assert.strictEqual((yield* request("GET", "/api/executions")).status, 200)
      }), { timeout: 20_000 })
  })

  // A route that dies, behind the same server-wide rules: the client sees a JSON 500, the log the cause.
  const crashCapture = makeLogCapture()
  const crashing = HttpRouter.serve(
    Layer.mergeAll(
      Server.layerRoutes({ auth: { credentials: [{ token: Redacted.make("crash-token-0123456789abcdef"), caller: "c" }] } }),
      HttpRouter.add("GET", "/boom", Effect.die(new Error("secret internal detail")))
    ),
    { disableLogger: true, disableListenLog: true }
  ).pipe(
    Layer.provideMerge(NodeHttpServer.layerServer(createServer, { port: 0, host: "127.0.0.1" })),
    Layer.provide(Executions.layerLocal({ workflows: testWorkflows })),
    Layer.provide(CheckpointStore.layerMemory),
    Layer.provide(crashCapture.layer)
  )
  layer(crashing, { excludeTestServices: true })("internal errors", (it) => {
    it.effect("a defect → 500 JSON without the cause; the cause goes to the log", () =>
      Effect.gen(function*() {
        const reply = yield* request("GET", "/boom", { token: null })
        assert.strictEqual(reply.status, 500)
        assert.strictEqual(reply.text, `{"_tag":"HttpError","status":500,"message":"Internal server error"}`)
        const logged = crashCapture.lines.find((l) => l.message === "Request failed")
        assert.strictEqual(logged?.level, "Error")
        assert.include(logged?.cause ?? "", "secret internal detail")
        assert.strictEqual(logged?.annotations.url, "/boom")
      }))
  })

  layer(serverLayer(), { excludeTestServices: true })("shutdown", (it) => {
    it.effect("while shutting down, starts and resumes answer 503", () =>
      Effect.gen(function*() {
        const { id } = yield* startBlocked("shutdown")
        const stopped = yield* Effect.flatMap(Executions, (e) => e.shutdown)
        assert.deepStrictEqual(stopped.map((e) => [e.executionId, e.status, e.interrupt?.reason]), [[id, "interrupted", "system_shutdown"]])
        assert.strictEqual(stopped[0]!.interrupt?.triggeredBy, "server")
        assert.strictEqual(stopped[0]!.checkpointId, id)
        const reply = yield* request("POST", "/api/executions", { body: { workflow: "quick" } })
        assert.strictEqual(reply.status, 503)
        assert.deepStrictEqual(bodyOf(ErrorBody, reply), {
          _tag: "ShuttingDown",
          message: "The server is shutting down; try again on another instance"
        })
        assert.strictEqual((yield* request("POST", `/api/executions/${id}/resume`)).status, 503)
        assert.strictEqual((yield* request("GET", `/api/executions/${id}`)).status, 200)
      }))
  })
})
