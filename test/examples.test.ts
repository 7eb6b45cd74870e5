import { assert, describe, it } from "@effect/vitest"
import { Effect, Logger } from "effect"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { program as agents } from "../examples/agents.ts"
import { program as quickstart } from "../examples/quickstart.ts"
import { program as resume } from "../examples/resume.ts"

describe("examples", () => {
  it.live("quickstart stops at the checker's interrupt and reports it once", () =>
    Effect.gen(function*() {
      const result = yield* quickstart
      assert.deepStrictEqual(result, { done: [2, 4, 6], events: ["InterruptEvent"] })
    }).pipe(Effect.provide(Logger.layer([]))))

  it.live("agents: a planner, a parallel search with a retry, a streamed summary", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* agents, "Summary of 3 results.")
    }))

  it.live("resume: interrupted by a timeout, resumed without redoing finished steps", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* resume, { first: "Interrupted", second: [10, 20, 30, 40], runs: 4 })
    }))

  // The documented command, from a clone with no build: `npm run example <name>`.
  const npmRun = (...args: ReadonlyArray<string>) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile("npm", ["run", "--silent", "example", ...args], { cwd: path.resolve(import.meta.dirname, "..") }, (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr }))
    )

  it("npm run example <name> runs an example from source and prints what its comment says", async () => {
    const quick = await npmRun("quickstart")
    assert.deepStrictEqual(quick, {
      code: 0,
      stdout: "stopped: Interrupt signal detected from external source\n{ done: [ 2, 4, 6 ], events: [ 'InterruptEvent' ] }\n",
      stderr: ""
    })
    const source = fs.readFileSync(new URL("../examples/quickstart.ts", import.meta.url), "utf8")
    assert.include(source, "// npm run example quickstart\nif (import.meta.main) Effect.runPromise(program).then(console.log)")
    assert.include(source, "// stopped: Interrupt signal detected from external source\n")
    const resumed = await npmRun("resume")
    assert.strictEqual(resumed.stdout, "{ first: 'Interrupted', second: [ 10, 20, 30, 40 ], runs: 4 }\n")
    const unknown = await npmRun("nope")
    assert.strictEqual(unknown.code, 2)
    assert.strictEqual(
      unknown.stderr,
      "error: no example named \"nope\" (one of: agents, distributed, llm, quickstart, resume, server), as in: npm run example quickstart\n"
    )
  }, 60_000)

  it("every code block in README.md that names an example is that example, verbatim", () => {
    const readme = fs.readFileSync(new URL("../README.md", import.meta.url), "utf8")
    const blocks = [...readme.matchAll(/<!-- example: (\S+) -->\n```ts\n([\s\S]*?)```/g)]
    assert.isAtLeast(blocks.length, 1)
    for (const [, file, code] of blocks) {
      const source = fs.readFileSync(new URL(`../${file}`, import.meta.url), "utf8")
      assert.strictEqual(code, source, `README block for ${file} differs from the file`)
    }
  })
})
