/**
 * Durability through the real command line (child processes): a run stopped with Ctrl-C, resumes
 * stopped at once (a stop file, a 1 ms timeout) that lose nothing, a `kill -9` that leaves a `lost`
 * run, and resumes that complete them with every earlier step recovered, not run again.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type CliResult, runCli } from "../utils/cli.ts"

const FAST = ["--pace", "0.2"]

const dirs: Array<string> = []
const stateDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "agent-interrupt-durability-"))
  dirs.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

interface JournalLine {
  readonly _tag: string
  readonly address?: string
  readonly occurrence?: number
  readonly attempt?: number
  readonly status?: string
}

/** The complete records of a journal file (a line torn by `kill -9` is no record: the store ignores it). */
const journal = (dir: string, stateId: string): Array<JournalLine> => {
  const lines = fs.readFileSync(path.join(dir, `${stateId}.journal`), "utf8").split("\n")
  lines.pop() // what follows the last newline: empty, or a torn write
  return lines.map((line) => JSON.parse(line) as JournalLine)
}

const stepsOf = (records: ReadonlyArray<JournalLine>) => records.filter((r) => r._tag === "StepCompleted")
const addressesOf = (records: ReadonlyArray<JournalLine>) => stepsOf(records).map((r) => r.address!).sort()
const attemptsOf = (records: ReadonlyArray<JournalLine>) =>
  records.filter((r) => r._tag === "RunStarted").map((r) => r.attempt)
const endOf = (records: ReadonlyArray<JournalLine>) => {
  const last = records.at(-1)
  return [last?._tag, last?.status]
}

const resultLine = (result: CliResult) => result.lines.find((l) => l.startsWith("Result: "))

/** The addresses the printer showed as recovered (`↺ address … (Recovered from restored state)`). */
const recovered = (result: CliResult) =>
  result.lines.flatMap((line) => {
    const match = /^\s*↺ (\S+) .*\(Recovered from restored state\)$/.exec(line)
    return match === null ? [] : [match[1]!]
  }).sort()

const started = (result: CliResult) =>
  result.lines.flatMap((line) => {
    const match = /^\s*▶ (\S+)/.exec(line)
    return match === null ? [] : [match[1]!]
  })

/** The result of an uninterrupted demo, run once for the file. */
let reference: Promise<string> | undefined
const referenceResult = (): Promise<string> => {
  if (reference === undefined) {
    reference = runCli(["demo", ...FAST, "--state-dir", stateDir(), "--state-id", "reference"]).then((result) => {
      assert.strictEqual(result.code, 0, result.stderr)
      const line = resultLine(result)
      assert.isDefined(line)
      return line!
    })
    // awaited by the tests; a test that fails before awaiting it must not leave it unhandled
    reference.catch(() => undefined)
  }
  return reference
}

describe("durability through the command line (child processes)", () => {
  it("Ctrl-C, then resumes stopped at once by a stop file and a 1 ms timeout, lose nothing; the last resume completes", async () => {
    const dir = stateDir()
    const expected = referenceResult()

    // 1. Ctrl-C once the searches run and one of them completed
    let sent = false
    const stopped = await runCli(["demo", ...FAST, "--state-dir", dir, "--state-id", "x"], {
      onLine: (line, child) => {
        if (!sent && /^\s*✓ planner::search::/.test(line)) {
          sent = true
          child.kill("SIGINT")
        }
      }
    })
    assert.strictEqual(stopped.code, 3, stopped.stderr)
    assert.include(stopped.lines, "Reason: user_cancelled")
    assert.include(stopped.lines, "Checkpoint: saved x")
    const first = journal(dir, "x")
    const steps = stepsOf(first)
    assert.include(addressesOf(first), "planner::plan::llm_call")
    assert.isTrue(steps.some((s) => s.address!.startsWith("planner::search::")), JSON.stringify(steps))
    assert.notInclude(addressesOf(first), "planner::agent_call")
    assert.deepStrictEqual(attemptsOf(first), [1])
    assert.deepStrictEqual(endOf(first), ["RunFinished", "interrupted"])

    // 2. a stop file written before the resume: stopped at its first checkpoint, before any step
    const stopFile = path.join(dir, "x.stop")
    fs.writeFileSync(stopFile, "")
    const byFile = await runCli(["resume", "x", "--state-dir", dir])
    assert.strictEqual(byFile.code, 3, byFile.stderr)
    assert.strictEqual(byFile.stderr, "")
    assert.deepStrictEqual(byFile.lines.filter((l) => !l.startsWith("Time: ")), [
      `⚡ interrupt requested: custom — Stop file found: ${stopFile} (by stop-file)`,
      "═".repeat(48),
      "EXECUTION INTERRUPTED",
      "Reason: custom",
      `Message: Stop file found: ${stopFile}`,
      "Triggered by: stop-file",
      "Checkpoint: saved x",
      "═".repeat(48),
      `Resume with: npm run cli -- resume x --state-dir ${JSON.stringify(dir)}`
    ])
    assert.isFalse(fs.existsSync(stopFile))
    const second = journal(dir, "x")
    assert.deepStrictEqual(stepsOf(second), steps) // the same records, untouched
    assert.deepStrictEqual(attemptsOf(second), [1, 2])
    assert.deepStrictEqual(endOf(second), ["RunFinished", "interrupted"])

    // 3. a 1 ms timeout: stopped before any new step could complete
    const byTimeout = await runCli(["resume", "x", "--timeout", "1ms", "--state-dir", dir])
    assert.strictEqual(byTimeout.code, 3, byTimeout.stderr)
    assert.include(byTimeout.lines, "Reason: timeout")
    assert.include(byTimeout.lines, "Message: Execution exceeded 0.001s timeout")
    assert.include(byTimeout.lines, "Checkpoint: saved x")
    assert.isFalse(byTimeout.lines.some((l) => /^\s*✓ /.test(l)))
    const third = journal(dir, "x")
    assert.deepStrictEqual(stepsOf(third), steps)
    assert.deepStrictEqual(attemptsOf(third), [1, 2, 3])
    assert.deepStrictEqual(endOf(third), ["RunFinished", "interrupted"])

    // 4. resumed to the end: every step completed before comes back recovered, and is not run again
    const resumed = await runCli(["resume", "x", "--state-dir", dir])
    assert.strictEqual(resumed.code, 0, resumed.stderr)
    assert.deepStrictEqual(recovered(resumed), addressesOf(first))
    assert.strictEqual(recovered(resumed).length, steps.length)
    for (const step of steps) assert.notInclude(started(resumed), step.address!)
    assert.strictEqual(resultLine(resumed), await expected)
    const last = journal(dir, "x")
    assert.deepStrictEqual(stepsOf(last).slice(0, steps.length), steps)
    assert.deepStrictEqual(addressesOf(last), [
      "planner::agent_call",
      "planner::plan::llm_call",
      "planner::search::news::tool_call",
      "planner::search::papers::tool_call",
      "planner::search::web::tool_call",
      "planner::summarise::llm_call"
    ])
    assert.deepStrictEqual(attemptsOf(last), [1, 2, 3, 4])
    assert.deepStrictEqual(endOf(last), ["RunFinished", "completed"])
  }, 30_000)

  it("kill -9 after two completed steps: list shows the run lost; resume completes it, recovering them", async () => {
    const dir = stateDir()
    const expected = referenceResult()
    const seen: Array<string> = []
    const killed = await runCli(["demo", ...FAST, "--state-dir", dir, "--state-id", "k"], {
      onLine: (line, child) => {
        const match = /^\s*✓ (\S+)/.exec(line)
        if (match !== null && seen.length < 2) {
          seen.push(match[1]!)
          if (seen.length === 2) child.kill("SIGKILL")
        }
      }
    })
    assert.deepStrictEqual([killed.code, killed.signal], [null, "SIGKILL"])
    const before = journal(dir, "k")
    // a `completed` printed is a step journaled (durability "sync"); more may have completed meanwhile
    for (const address of seen) assert.include(addressesOf(before), address)
    assert.notStrictEqual(before.at(-1)?._tag, "RunFinished")
    assert.deepStrictEqual(attemptsOf(before), [1])

    const list = await runCli(["list", "--state-dir", dir], { env: { REDIS_URL: "" } })
    assert.strictEqual(list.code, 0, list.stderr)
    assert.match(list.lines[0]!, /^STATE ID\s+STATUS\s+UPDATED\s+WORKFLOW\s+REASON$/)
    assert.deepStrictEqual(list.lines.slice(1).map((l) => l.split(/\s+/)).map((c) => [c[0], c[1], c[3], c[4]]), [
      ["k", "lost", "research", "-"]
    ])

    const resumed = await runCli(["resume", "k", "--state-dir", dir])
    assert.strictEqual(resumed.code, 0, resumed.stderr)
    assert.deepStrictEqual(recovered(resumed), addressesOf(before))
    for (const address of addressesOf(before)) assert.notInclude(started(resumed), address)
    assert.strictEqual(resultLine(resumed), await expected)
    const after = journal(dir, "k")
    assert.deepStrictEqual(stepsOf(after).slice(0, stepsOf(before).length), stepsOf(before))
    assert.strictEqual(stepsOf(after).length, 6)
    assert.deepStrictEqual(attemptsOf(after), [1, 2])
    assert.deepStrictEqual(endOf(after), ["RunFinished", "completed"])
  }, 30_000)
})
