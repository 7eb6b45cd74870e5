import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { loadFromDir } from "../utils/journal.ts"
import { runCli } from "../utils/cli.ts"

const TOKEN = "serve-process-token-0123456789"

// `agent-interrupt serve` as a user runs it: a child process, real HTTP, a real SIGINT.
describe("agent-interrupt serve (child process)", () => {
  it("Ctrl-C interrupts running executions with system_shutdown, checkpoints them, and exits 0", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "agent-interrupt-serve-"))
    let executionId = ""
    let failure: unknown
    const result = await runCli(["serve", "--port", "0", "--state-dir", dir], {
      env: { AGENT_INTERRUPT_TOKEN: TOKEN },
      onLine: (line, child) => {
        const match = /^agent-interrupt control API listening on (http:\/\/\S+)$/.exec(line)
        if (match === null) return
        const base = match[1]!
        const headers = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }
        void (async () => {
          // a slow run, so that it is surely running when the signal comes
          const started = await fetch(`${base}/api/executions`, {
            method: "POST",
            headers,
            body: JSON.stringify({ workflow: "research", input: { topic: "shutdown", pace: 3 } })
          })
          assert.strictEqual(started.status, 201)
          executionId = ((await started.json()) as { executionId: string }).executionId
          const info = await fetch(`${base}/api/executions/${executionId}`, { headers })
          assert.strictEqual(((await info.json()) as { status: string }).status, "running")
          child.kill("SIGINT")
        })().catch((error) => {
          failure = error
          child.kill("SIGKILL")
        })
      }
    })
    assert.isUndefined(failure)
    assert.strictEqual(result.code, 0, result.stderr)
    assert.include(result.stdout, "SIGINT: shutting down; interrupting running executions (system_shutdown)")
    const snapshot = await loadFromDir(dir, executionId)
    assert.strictEqual(snapshot.status, "interrupted")
    assert.strictEqual(snapshot.metadata.interrupt?.reason, "system_shutdown")
    assert.strictEqual(snapshot.metadata.workflow, "research")
  }, 60_000)
})
