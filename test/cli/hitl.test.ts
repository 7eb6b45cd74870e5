import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { runCli } from "../utils/cli.ts"

const stateDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "agent-interrupt-hitl-"))
const FAST = ["--pace", "0.1"]

interface JournalLine {
  readonly _tag: string
  readonly status?: string
  readonly address?: string
  readonly request?: { readonly inputId: string }
  readonly value?: unknown
  readonly answeredBy?: string
}
const journal = (dir: string, stateId: string): Array<JournalLine> =>
  fs.readFileSync(path.join(dir, `${stateId}.journal`), "utf8").trim().split("\n").map((line) => JSON.parse(line))

describe("human in the loop through the command line (child processes)", () => {
  it("demo --ask exits 5 while it waits; approve in another process finishes it without redoing finished steps", async () => {
    const dir = stateDir()
    const ask = await runCli(["demo", "--ask", ...FAST, "--state-dir", dir, "--state-id", "asked"])
    assert.strictEqual(ask.code, 5, ask.stdout + ask.stderr)
    assert.strictEqual(ask.stderr, "")
    const waiting = ask.lines.find((l) => l.includes("✋ waiting for you:"))!
    assert.match(waiting, /^ {2}✋ waiting for you: Publish this summary\? — approve or reject \[in-[0-9a-f]{8} at planner::publish::tool_call\]$/)
    assert.deepStrictEqual(ask.lines.slice(-3), [
      "⏸ execution asked is waiting for an answer: nothing runs until it comes, from any process",
      "Waiting for your answer: Publish this summary?",
      `Answer with: npm run cli -- approve asked --state-dir ${JSON.stringify(dir)}   (or: npm run cli -- reject asked --reason "…" --state-dir ${JSON.stringify(dir)})`
    ])
    // parked: the journal ends with the question's attempt, awaiting; no lease is left
    const records = journal(dir, "asked")
    assert.deepStrictEqual(records.slice(-2).map((r) => [r._tag, r.status]), [["InputRequested", undefined], ["RunFinished", "awaiting"]])
    assert.deepStrictEqual(fs.readdirSync(dir).filter((f) => f.includes(".lock")), [])
    const list = await runCli(["list", "--state-dir", dir])
    assert.match(list.lines[1]!, /^asked\s+awaiting\s/)

    // bad answers: one line, exit 2, nothing changes
    const notJson = await runCli(["answer", "asked", "--value", "yes", "--state-dir", dir])
    assert.strictEqual(notJson.code, 2)
    assert.match(notJson.stderr, /^error: --value "yes" is not JSON \(.*\): a string needs its quotes, as in --value '"yes"'\n$/)
    const wrong = await runCli(["answer", "asked", "--value", '"yes"', "--state-dir", dir])
    assert.strictEqual(wrong.code, 2)
    assert.match(wrong.stderr, /^error: Not an answer to in-[0-9a-f]{8}: Expected object\n$/)
    assert.strictEqual(journal(dir, "asked").length, records.length)

    const approve = await runCli(["approve", "asked", "--state-dir", dir])
    assert.strictEqual(approve.code, 0, approve.stdout + approve.stderr)
    assert.match(approve.lines[0]!, /^Answered in-[0-9a-f]{8} of asked: \{"approved":true\}$/)
    // finished steps come back from the journal: none runs again
    assert.isFalse(approve.lines.some((l) => /▶ planner::(plan|search|summarise)/.test(l)), approve.stdout)
    assert.strictEqual(approve.lines.filter((l) => l.includes("(Recovered from restored state)")).length, 5)
    const result = JSON.parse(approve.lines.find((l) => l.startsWith("Result: "))!.slice("Result: ".length))
    assert.strictEqual(result.published, true)
    const answered = journal(dir, "asked").filter((r) => r._tag === "InputAnswered")
    assert.deepStrictEqual(answered.map((r) => [r.value, r.answeredBy]), [[{ approved: true }, "cli"]])
    // answered already: the question is gone
    const again = await runCli(["approve", "asked", "--state-dir", dir])
    assert.strictEqual(again.code, 2)
    assert.strictEqual(again.stderr, "error: Execution asked waits for no answer\n")
  }, 60_000)

  it("reject with a reason; --json prints the question, then the same Result line as a completed demo", async () => {
    const dir = stateDir()
    const ask = await runCli(["demo", "--ask", "--json", ...FAST, "--state-dir", dir, "--state-id", "json"])
    assert.strictEqual(ask.code, 5)
    const docs = ask.lines.map((l) => JSON.parse(l))
    const question = docs.find((d) => d._tag === "ExecutionEvent" && d.status === "human_intervention")
    assert.strictEqual(question.input.prompt, "Publish this summary?")
    assert.strictEqual(question.input.kind, "approval")
    assert.strictEqual(question.input.tool, "publish")
    assert.deepStrictEqual(docs.at(-1), { ...docs.at(-1), _tag: "ExecutionFinished", status: "awaiting", checkpoint: "saved" })
    const reject = await runCli(["reject", "json", question.input.inputId, "--reason", "needs sources", "--json", "--state-dir", dir])
    assert.strictEqual(reject.code, 0, reject.stderr)
    const out = reject.lines.map((l) => JSON.parse(l))
    assert.deepStrictEqual(out[0], {
      _tag: "AnswerAccepted",
      stateId: "json",
      inputId: question.input.inputId,
      value: { approved: false, reason: "needs sources" }
    })
    const last = out.at(-1)
    assert.strictEqual(last._tag, "Result")
    assert.strictEqual(last.stateId, "json")
    assert.strictEqual(last.value.published, false)
    assert.strictEqual(last.value.rejected, "needs sources")
  }, 60_000)
})
