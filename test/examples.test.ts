import { assert, describe, it } from "@effect/vitest"
import { Effect, Logger } from "effect"
import * as fs from "node:fs"
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
