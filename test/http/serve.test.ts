/**
 * `agent-interrupt serve`, run in-process: it listens, answers with the configured token, and on
 * Ctrl-C interrupts the running execution with `system_shutdown`, checkpoints it to the state
 * directory and closes.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Fiber, Queue, Schema } from "effect"
import { Command } from "effect/cli"
import { mkdtempSync, rmSync } from "node:fs"
import { type AddressInfo, createServer, type Server } from "node:net"
import { tmpdir } from "node:os"
import { loadFromDir } from "../utils/journal.ts"
import { join } from "node:path"
import { ListenFailed, makeServe } from "../../src/cli/serve.ts"
import { Signals } from "../../src/cli/runMain.ts"
import { ExecutionStarted } from "../../src/http/Api.ts"
import { StopPolicy } from "../../src/index.ts"
import { freshGate, startServe, testWorkflows } from "./utils.ts"

const TOKEN = "serve-token-0123456789abcdef"

describe("serve", () => {
  it.live("listens with the configured token; Ctrl-C interrupts running executions and checkpoints them", () =>
    Effect.gen(function*() {
      const stateDir = mkdtempSync(join(tmpdir(), "agent-interrupt-serve-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(stateDir, { recursive: true, force: true })))

      // The process signals are under the test's control.
      const { fiber, lines, signals, url } = yield* startServe(
        ["--port", "0", "--state-dir", stateDir, "--retention", "10 minutes"],
        { AGENT_INTERRUPT_TOKEN: TOKEN, AGENT_INTERRUPT_CALLER: "operator" },
        makeServe({ workflows: testWorkflows, stopPolicy: { system_shutdown: StopPolicy.drain("100 millis") } })
      )
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/)
      assert.include(lines, "  token:    from AGENT_INTERRUPT_TOKEN")
      assert.include(lines, "  caller:   operator")

      const call = (method: string, path: string, body?: unknown, token = TOKEN) =>
        Effect.promise(async () => {
          const response = await fetch(`${url}${path}`, {
            method,
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
            body: body === undefined ? null : JSON.stringify(body)
          })
          return { status: response.status, json: await response.json().catch(() => undefined) as unknown }
        })
      assert.strictEqual((yield* call("GET", "/api/executions", undefined, "wrong-token-0123456789")).status, 401)
      const started = yield* call("POST", "/api/executions", { workflow: "gated", input: { gate: freshGate("serve") } })
      assert.strictEqual(started.status, 201)
      const id = Schema.decodeUnknownSync(ExecutionStarted)(started.json).executionId
      const info = yield* call("GET", `/api/executions/${id}`)
      assert.strictEqual((info.json as { startedBy: string }).startedBy, "operator")

      // Ctrl-C
      yield* Queue.offer(signals, "SIGINT")
      yield* Fiber.join(fiber)

      assert.include(lines, "\nSIGINT: shutting down; interrupting running executions (system_shutdown)…")
      assert.include(lines, `  ■ ${id} interrupted, checkpoint saved; resume with POST /api/executions/${id}/resume`)
      assert.include(lines, "Stopped 1 running execution(s); server closed.")
      // the audit line of the start, as logfmt
      assert.isTrue(lines.some((l) => l.includes("audit=start") && l.includes(`executionId=${id}`) && l.includes("caller=operator")))
      const snapshot = yield* Effect.promise(() => loadFromDir(stateDir, id))
      assert.strictEqual(snapshot.status, "interrupted")
      assert.strictEqual(snapshot.metadata.interrupt?.reason, "system_shutdown")
      assert.strictEqual(snapshot.metadata.interrupt?.triggeredBy, "server")
      // the server is closed
      const closed = yield* Effect.promise(() => fetch(`${url}/health`).then(() => "open", () => "closed"))
      assert.strictEqual(closed, "closed")
    }), 30_000)

  it.live("a port in use fails with a clear message", () =>
    Effect.gen(function*() {
      const taken = yield* Effect.acquireRelease(
        Effect.promise(() =>
          new Promise<Server>((resolve) => {
            const server = createServer()
            server.listen(0, "127.0.0.1", () => resolve(server))
          })
        ),
        (server) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
      )
      const port = (taken.address() as AddressInfo).port
      const signals = yield* Queue.unbounded<"SIGINT" | "SIGTERM">()
      const error = yield* Command.runWith(makeServe(), { version: "0.1.0" })(["--port", String(port)]).pipe(
        Effect.provide(NodeServices.layer),
        Effect.provideService(Signals, { listen: Effect.succeed(signals) }),
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ AGENT_INTERRUPT_TOKEN: TOKEN }))),
        Effect.flip
      )
      assert.instanceOf(error, ListenFailed)
      assert.match(error.message, new RegExp(`^Cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE.* \\(choose another --port or --host\\)$`))
    }), 30_000)

  it.live("prints a generated token when none is configured", () =>
    Effect.gen(function*() {
      const { fiber, lines, signals } = yield* startServe(["--port", "0"])
      const tokenLine = lines.find((l) => l.startsWith("  token:"))
      assert.match(tokenLine ?? "", /^ {2}token: {4}[A-Za-z0-9_-]{43}$/)
      assert.include(lines, "  caller:   api-client")
      yield* Queue.offer(signals, "SIGTERM")
      yield* Fiber.join(fiber)
      assert.include(lines, "Stopped 0 running execution(s); server closed.")
    }), 30_000)
})
