import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { program as llm } from "../examples/llm.ts"

describe("examples: llm", () => {
  it.live("an agent with a tool on the simulated model; a token budget stops it mid-answer, keeping the text", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* llm, {
        answer: "Paris is sunny at 21 degrees: a fine day to stop an agent and resume it later.",
        tokens: { inputTokens: 14, outputTokens: 18 },
        stopped: "Token budget of 25 exceeded (26 used)",
        kept: "Paris is sunny at 21 degrees: a fine day to stop "
      })
    }))

  it("npm run example llm prints what its comment says", async () => {
    const run = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile("npm", ["run", "--silent", "example", "llm"], { cwd: path.resolve(import.meta.dirname, "..") }, (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr }))
    )
    assert.deepStrictEqual(run, {
      code: 0,
      stdout: [
        "{",
        "  answer: 'Paris is sunny at 21 degrees: a fine day to stop an agent and resume it later.',",
        "  tokens: { inputTokens: 14, outputTokens: 18 },",
        "  stopped: 'Token budget of 25 exceeded (26 used)',",
        "  kept: 'Paris is sunny at 21 degrees: a fine day to stop '",
        "}",
        ""
      ].join("\n"),
      stderr: ""
    })
    const source = fs.readFileSync(new URL("../examples/llm.ts", import.meta.url), "utf8")
    assert.include(source, "// npm run example llm\nif (import.meta.main) Effect.runPromise(program).then(console.log)")
  }, 60_000)
})
