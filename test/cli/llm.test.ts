import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { answer, chatServer } from "../utils/chatServer.ts"
import { runCli } from "../utils/cli.ts"

const stateDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "agent-interrupt-llm-"))
const FAST = ["--pace", "0.2"]

interface JournalLine {
  readonly _tag: string
  readonly address?: string
  readonly partialOutput?: unknown
  readonly usage?: unknown
  readonly signal?: { readonly reason: string; readonly message?: string }
}
const journal = (dir: string, stateId: string): Array<JournalLine> =>
  fs.readFileSync(path.join(dir, `${stateId}.journal`), "utf8").trim().split("\n").map((line) => JSON.parse(line))

describe("demo with language models (child processes)", () => {
  it("demo --budget stops the run with resource_limit mid-stream, offline, and keeps the streamed text", async () => {
    const dir = stateDir()
    const result = await runCli(["demo", ...FAST, "--budget", "100", "--state-dir", dir, "--state-id", "budget"])
    assert.strictEqual(result.code, 3, result.stderr)
    assert.strictEqual(result.stderr, "")
    const banner = result.lines.slice(result.lines.indexOf("EXECUTION INTERRUPTED"))
    assert.deepStrictEqual(banner.slice(0, 4), [
      "EXECUTION INTERRUPTED",
      "Reason: resource_limit",
      "Message: Token budget of 100 exceeded (101 used)",
      "Triggered by: budget"
    ])
    // the tokens arrived live, as lines of text under the event
    assert.include(result.lines, "    ┆ Across 9 findings, interruptible agents come down to three things: stop")
    // plan: 20 in + 3 out; summary: 63 in + 15 out = 101
    assert.isTrue(
      result.lines.some((l) => /^  ✓ planner::plan::llm_call \([\d.]+m?s\) — "web, papers, news" \(tokens: 20 in, 3 out\)$/.test(l)),
      result.stdout
    )
    const records = journal(dir, "budget")
    const interrupted = records.find((r) => r._tag === "StepInterrupted")
    assert.deepStrictEqual(
      [interrupted?.address, interrupted?.partialOutput, interrupted?.usage],
      [
        "planner::summarise::llm_call",
        "Across 9 findings, interruptible agents come down to three things: stop at once, announce the ",
        { inputTokens: 63, outputTokens: 15 }
      ]
    )
    assert.deepStrictEqual(records.find((r) => r._tag === "RunInterrupted")?.signal?.reason, "resource_limit")
  }, 30_000)

  it.live("demo --model openai:<model> asks an OpenAI-compatible server (OPENAI_BASE_URL) with OPENAI_API_KEY", () =>
    Effect.gen(function*() {
      const fixture = yield* chatServer((_, n) =>
        n === 0 ? answer("web, news", 30) : answer("Interrupts stop at once and keep finished work.", 50)
      )
      const dir = stateDir()
      const result = yield* Effect.promise(() =>
        runCli(["demo", ...FAST, "--model", "openai:fixture-model", "--state-dir", dir, "--state-id", "real"], {
          env: { OPENAI_API_KEY: "sk-cli", OPENAI_BASE_URL: fixture.url }
        })
      )
      assert.strictEqual(result.code, 0, result.stderr)
      assert.strictEqual(
        result.lines.at(-1),
        "Result: {\"topic\":\"interruptible agents\",\"sources\":[\"web\",\"news\"],\"findings\":6,\"summary\":\"Interrupts stop at once and keep finished work.\"}"
      )
      assert.strictEqual(fixture.requests.length, 2)
      assert.deepStrictEqual(fixture.requests.map((r) => [r.authorization, r.body.model]), [
        ["Bearer sk-cli", "fixture-model"],
        ["Bearer sk-cli", "fixture-model"]
      ])
      const summaryPrompt = String(fixture.requests[1]!.body.messages[0]!.content)
      assert.match(summaryPrompt, /^Summarise 6 findings about "interruptible agents" in two sentences:\n- interruptible agents: web finding 1\n/)
      assert.isTrue(result.lines.some((l) => l.startsWith("  ✓ planner::summarise::llm_call") && l.endsWith("(tokens: 50 in, 8 out)")))
    }), 30_000)

  it("bad --model and --budget values, and a missing key: one line, exit 2", async () => {
    const wrong = await runCli(["demo", "--model", "gpt-4"])
    assert.deepStrictEqual([wrong.code, wrong.stderr, wrong.stdout], [
      2,
      "error: --model \"gpt-4\" is not a model: use openai:<model>, such as openai:gpt-4o-mini\n",
      ""
    ])
    const noKey = await runCli(["demo", "--model", "openai:gpt-4o-mini"], { env: { OPENAI_API_KEY: "" } })
    assert.deepStrictEqual([noKey.code, noKey.stderr], [
      2,
      "error: OPENAI_API_KEY is not set: --model openai:gpt-4o-mini needs an API key (and OPENAI_BASE_URL for a server other than OpenAI's)\n"
    ])
    const budget = await runCli(["demo", "--budget", "lots"])
    assert.deepStrictEqual([budget.code, budget.stderr], [
      2,
      "error: --budget \"lots\" is not a token budget: use a positive whole number of tokens, such as 2000\n"
    ])
  }, 30_000)
})
