import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { server } from "../../examples/server.ts"
import { Server } from "../../src/http/index.ts"

const TOKEN = "a-long-random-secret-token"

// The README's server example, on a free loopback port.
describe("examples/server.ts", () => {
  it.live("serves its own workflow behind the token", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "agent-interrupt-example-"))
      const context = yield* Layer.build(server(0, dir))
      const base = yield* Effect.provide(Server.url, context)
      const call = (method: string, route: string, body?: unknown, token = TOKEN) =>
        Effect.promise(() =>
          fetch(`${base}${route}`, {
            method,
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
            ...(body === undefined ? {} : { body: JSON.stringify(body) })
          }).then(async (r) => ({ status: r.status, body: await r.json() as Record<string, unknown> }))
        )
      assert.strictEqual((yield* call("GET", "/api/executions", undefined, "wrong-token-0123456789")).status, 401)
      const started = yield* call("POST", "/api/executions", { workflow: "greet", input: { name: "Ada" } })
      assert.strictEqual(started.status, 201)
      const id = String(started.body["executionId"])
      const stopped = yield* call("POST", `/api/executions/${id}/interrupt?wait=checkpointed`, { message: "no need" })
      assert.strictEqual(stopped.status, 202)
      const info = yield* call("GET", `/api/executions/${id}`)
      assert.strictEqual(info.body["status"], "interrupted")
      assert.strictEqual((info.body["interrupt"] as { triggeredBy: string }).triggeredBy, "ops")
      assert.isTrue(fs.existsSync(path.join(dir, `${id}.journal`)))
    })))
})
