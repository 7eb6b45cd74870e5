import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { runCli } from "../utils/cli.ts"

const stateDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "agent-interrupt-cli-"))
const FAST = ["--pace", "0.2"]

const resultLine = (lines: ReadonlyArray<string>) => lines.find((l) => l.startsWith("Result: "))

/** The records of an execution's journal file. */
interface JournalLine {
  readonly _tag: string
  readonly address?: string
  readonly workflow?: string
  readonly input?: unknown
  readonly status?: string
  readonly signal?: { readonly reason: string }
}
const journal = (dir: string, stateId: string): Array<JournalLine> =>
  fs.readFileSync(path.join(dir, `${stateId}.journal`), "utf8").trim().split("\n").map((line) => JSON.parse(line))

describe("agent-interrupt (child processes)", () => {
  it("demo → Ctrl-C → checkpoint → resume completes with the same result as an uninterrupted run", async () => {
    const dir = stateDir()
    const reference = await runCli(["demo", ...FAST, "--state-dir", dir, "--state-id", "reference"])
    assert.strictEqual(reference.code, 0, reference.stderr)
    assert.isDefined(resultLine(reference.lines))

    let sent = false
    const stopped = await runCli(["demo", ...FAST, "--state-dir", dir, "--state-id", "stopped"], {
      onLine: (line, child) => {
        // once the plan is done and the searches run, press Ctrl-C
        if (!sent && line.includes("✓ planner::plan::llm_call")) {
          sent = true
          child.kill("SIGINT")
        }
      }
    })
    assert.strictEqual(stopped.code, 3, stopped.stderr)
    assert.strictEqual(stopped.stderr, "")
    const banner = stopped.lines.slice(stopped.lines.indexOf("EXECUTION INTERRUPTED"))
    assert.deepStrictEqual(banner.slice(0, 4), [
      "EXECUTION INTERRUPTED",
      "Reason: user_cancelled",
      "Message: Interrupted with Ctrl-C (SIGINT)",
      "Triggered by: cli"
    ])
    assert.match(banner[4]!, /^Time: \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
    assert.strictEqual(banner[5], "Checkpoint: saved stopped")
    assert.include(stopped.stdout, `Resume with: npm run cli -- resume stopped --state-dir "${dir}"`)
    assert.notInclude(stopped.stdout, "\u001b[") // a pipe: no colours

    const shown = await runCli(["show", "stopped", "--state-dir", dir])
    assert.strictEqual(shown.code, 0)
    assert.include(shown.stdout, "Status:     interrupted")
    assert.include(shown.stdout, "Interrupt:  user_cancelled — Interrupted with Ctrl-C (SIGINT) (by cli at ")
    assert.include(shown.stdout, "  ✓ planner::plan::llm_call")

    const records = journal(dir, "stopped")
    assert.deepStrictEqual(records[0]!._tag, "RunStarted")
    assert.strictEqual(records[0]!.workflow, "research")
    assert.deepStrictEqual(records[0]!.input, { topic: "interruptible agents", pace: 0.2 })
    assert.deepStrictEqual(
      records.filter((r) => r._tag === "StepCompleted").map((r) => r.address),
      ["planner::plan::llm_call"]
    )
    assert.strictEqual(records.find((r) => r._tag === "RunInterrupted")?.signal?.reason, "user_cancelled")
    assert.deepStrictEqual([records.at(-1)!._tag, records.at(-1)!.status], ["RunFinished", "interrupted"])

    const resumed = await runCli(["resume", "stopped", "--state-dir", dir])
    assert.strictEqual(resumed.code, 0, resumed.stderr)
    assert.isTrue(resumed.lines.some((l) => l.includes("↺ planner::plan::llm_call") && l.includes("Recovered from restored state")))
    assert.isFalse(resumed.lines.some((l) => l.includes("▶ planner::plan::llm_call")))
    assert.strictEqual(resultLine(resumed.lines), resultLine(reference.lines))
    assert.deepStrictEqual([journal(dir, "stopped").at(-1)!._tag, journal(dir, "stopped").at(-1)!.status], ["RunFinished", "completed"])

    // list and show
    const list = await runCli(["list", "--state-dir", dir])
    assert.strictEqual(list.code, 0)
    assert.match(list.lines[0]!, /^STATE ID\s+STATUS\s+UPDATED\s+WORKFLOW\s+REASON$/)
    assert.isTrue(list.lines.some((l) => /^stopped\s+completed\s/.test(l)))
    assert.isTrue(list.lines.some((l) => /^reference\s+completed\s/.test(l)))
    const show = await runCli(["show", "stopped", "--state-dir", dir])
    assert.strictEqual(show.code, 0)
    assert.include(show.stdout, "Status:     completed")
    const showJson = await runCli(["show", "stopped", "--state-dir", dir, "--json"])
    assert.strictEqual(JSON.parse(showJson.stdout).stateId, "stopped")
    // resuming a completed run is refused
    const again = await runCli(["resume", "stopped", "--state-dir", dir])
    assert.strictEqual(again.code, 2)
    assert.match(again.stderr, /^error: Execution stopped cannot be resumed: it already completed at /)
  }, 60_000)

  it("demo --tour (npm run demo): interrupted by its timeout, resumed, exits 0 with a summary", async () => {
    const dir = stateDir()
    const result = await runCli(["demo", "--tour", ...FAST, "--state-dir", dir, "--state-id", "tour"])
    assert.strictEqual(result.code, 0, result.stderr)
    assert.include(result.lines, "Reason: timeout")
    assert.include(result.lines, "Checkpoint: saved tour")
    assert.include(result.lines, "Resuming tour from its checkpoint…")
    const summary = result.lines.at(-1)!
    const match =
      /^Summary: interrupted by timeout after (\d+) completed steps, stopped in [\d.]+m?s; resumed with (\d+) steps recovered \(not run again\) and (\d+) run; paused for an approval, continued [\d.]+m?s after it; [\d.]+m?s in all\.$/
        .exec(summary)
    assert.isNotNull(match, summary)
    assert.strictEqual(match![1], match![2]) // everything completed before the stop is recovered, not redone
    assert.strictEqual(Number(match![1]) + Number(match![3]), 7) // plan, 3 searches, summary, publish, planner
    // the third act: the run waits for an approval, the tour gives it, the run finishes
    const asked = result.lines.findIndex((l) => l.startsWith("  ✋ waiting for you: Publish this summary? — approve or reject"))
    const answered = result.lines.findIndex((l) => /^\s*✓ answered in-[0-9a-f]{8}: \{"approved":true\} \(by tour\)$/.test(l))
    const published = result.lines.findIndex((l) => l.startsWith("  ✓ planner::publish::tool_call"))
    assert.isTrue(asked > 0 && asked < answered && answered < published, result.stdout)
    assert.include(result.lines, "  npm run cli -- approve tour --state-dir " + JSON.stringify(dir) + '   (or: npm run cli -- reject tour --reason "…" --state-dir ' + JSON.stringify(dir) + ")")
    assert.strictEqual(journal(dir, "tour").at(-1)!.status, "completed")
  }, 30_000)

  it("SIGTERM interrupts with system_shutdown and drains the running handlers", async () => {
    const dir = stateDir()
    let sent = false
    const result = await runCli(["demo", ...FAST, "--state-dir", dir, "--state-id", "term"], {
      onLine: (line, child) => {
        if (!sent && line.includes("▶ planner::plan::llm_call")) {
          sent = true
          child.kill("SIGTERM")
        }
      }
    })
    assert.strictEqual(result.code, 3, result.stderr)
    assert.include(result.lines, "Reason: system_shutdown")
    // the plan was running when the signal came: the drain let it finish
    assert.isTrue(result.lines.some((l) => l.includes("✓ planner::plan::llm_call")))
    assert.isFalse(result.lines.some((l) => l.includes("▶ planner::search")))
    assert.include(result.lines, "Checkpoint: saved term")
  }, 30_000)

  it("a second signal exits at once with 130", async () => {
    const dir = stateDir()
    let sent = 0
    const result = await runCli(["demo", "--pace", "2", "--state-dir", dir, "--state-id", "twice"], {
      onLine: (line, child) => {
        if (sent === 0 && line.includes("▶ planner::plan::llm_call")) {
          sent = 1
          child.kill("SIGTERM") // drains: the 1.6 s plan call goes on
        } else if (sent === 1 && line.includes("interrupt requested")) {
          sent = 2
          child.kill("SIGINT")
        }
      }
    })
    assert.strictEqual(result.code, 130)
    assert.include(result.stderr, "SIGINT again: exiting now")
  }, 30_000)

  it("an external checker: a stop file written by another process interrupts the run", async () => {
    const dir = stateDir()
    let written = false
    const result = await runCli(["demo", ...FAST, "--state-dir", dir, "--state-id", "stopfile"], {
      onLine: (line) => {
        if (!written && line.includes("✓ planner::plan::llm_call")) {
          written = true
          fs.writeFileSync(path.join(dir, "stopfile.stop"), "")
        }
      }
    })
    assert.strictEqual(result.code, 3, result.stderr)
    assert.include(result.lines, "Reason: custom")
    assert.include(result.lines, `Message: Stop file found: ${path.join(dir, "stopfile.stop")}`)
    assert.include(result.lines, "Triggered by: stop-file")
    assert.isFalse(fs.existsSync(path.join(dir, "stopfile.stop"))) // consumed: a resume is not stopped by it
    const resumed = await runCli(["resume", "stopfile", "--state-dir", dir])
    assert.strictEqual(resumed.code, 0, resumed.stderr)
  }, 30_000)

  it("--timeout interrupts with reason timeout", async () => {
    const dir = stateDir()
    const result = await runCli(["demo", ...FAST, "--timeout", "300ms", "--state-dir", dir, "--state-id", "slow"])
    assert.strictEqual(result.code, 3, result.stderr)
    assert.include(result.lines, "Reason: timeout")
    assert.include(result.lines, "Message: Execution exceeded 0.3s timeout")
    assert.include(result.lines, "Triggered by: timeout_monitor")
  }, 30_000)

  it("--json prints every event as one JSON line", async () => {
    const dir = stateDir()
    const result = await runCli(["demo", ...FAST, "--json", "--state-dir", dir, "--state-id", "json"])
    assert.strictEqual(result.code, 0, result.stderr)
    const docs = result.lines.map((l) => JSON.parse(l) as { _tag: string; status?: string })
    assert.strictEqual(docs[0]!._tag, "ExecutionStarted")
    assert.strictEqual(docs[1]!._tag, "ExecutionEvent")
    assert.deepStrictEqual(docs.at(-2), { ...docs.at(-2), _tag: "ExecutionFinished", status: "completed" })
    assert.strictEqual(docs.at(-1)!._tag, "Result")
  }, 30_000)

  describe("bad input: one line on stderr, a non-zero exit, no stack trace", () => {
    const noTrace = (stderr: string) => assert.notMatch(stderr, /\n\s+at /)

    it("unknown state id", async () => {
      const dir = stateDir()
      const result = await runCli(["resume", "nope", "--state-dir", dir])
      assert.strictEqual(result.code, 2)
      assert.strictEqual(result.stderr, `error: No checkpoint for execution nope (${dir})\n`)
      const show = await runCli(["show", "nope", "--state-dir", dir])
      assert.strictEqual(show.code, 2)
    })

    it("unsafe state id", async () => {
      const result = await runCli(["resume", "../etc", "--state-dir", stateDir()])
      assert.strictEqual(result.code, 2)
      assert.match(result.stderr, /^error: Invalid state id "..\/etc": /)
      noTrace(result.stderr)
    })

    it("bad duration and unknown flag", async () => {
      const bad = await runCli(["demo", "--timeout", "soon"])
      assert.strictEqual(bad.code, 2)
      assert.strictEqual(
        bad.stderr,
        "error: --timeout \"soon\" is not a duration: use a number and a unit, such as 5s, 500ms, 2m or 1h\n"
      )
      assert.strictEqual(bad.stdout, "")
      noTrace(bad.stderr)
      // a negative value: said once, in plain words (not as unknown flags)
      const negative = await runCli(["demo", "--timeout", "-5s"])
      assert.strictEqual(negative.code, 2)
      assert.strictEqual(
        negative.stderr,
        "error: --timeout \"-5s\" is negative: use a positive duration such as 5s, 500ms, 2m or 1h\n"
      )
      const unknown = await runCli(["demo", "--bogus"])
      assert.strictEqual(unknown.code, 2)
      assert.strictEqual(unknown.stderr, "error: Unrecognized flag: --bogus in command agent-interrupt demo (see: agent-interrupt demo --help)\n")
      noTrace(unknown.stderr)
    })

    it("a state id that leaves the state directory; a state directory that cannot be made", async () => {
      const dir = stateDir()
      const victim = await runCli(["demo", "--state-id", "../victim", "--state-dir", dir])
      assert.strictEqual(victim.code, 2)
      assert.strictEqual(
        victim.stderr,
        "error: Invalid state id \"../victim\": use 1 to 128 letters, digits, '.', '_' or '-', not starting with '.'\n"
      )
      assert.strictEqual(victim.stdout, "")
      assert.deepStrictEqual(fs.readdirSync(dir), [])
      assert.isFalse(fs.existsSync(path.join(dir, "..", "victim.journal")))
      // Node's recursive mkdir spins forever on /proc: the store checks each level itself
      const proc = await runCli(["demo", "--state-dir", "/proc/nope"])
      assert.strictEqual(proc.code, 2)
      assert.strictEqual(
        proc.stderr,
        "error: Checkpoint storage failed (/proc/nope): ENOENT: no such file or directory, mkdir '/proc/nope'\n"
      )
    })

    it("a run whose journal cannot be saved exits 4 and its banner says why", async () => {
      const dir = stateDir()
      // 1 KiB: the first records fit, the rest fail with EFBIG, so the run ends not saved
      const result = await runCli(["demo", ...FAST, "--state-dir", dir, "--state-id", "full", "--timeout", "300ms"], {
        fileSizeLimitKb: 1
      })
      assert.strictEqual(result.code, 4, result.stdout + result.stderr)
      const why = `Checkpoint storage failed for full (${path.join(dir, "full.journal")}): EFBIG: file too large, write`
      assert.include(result.lines, `Checkpoint: not saved (${why})`)
      assert.notInclude(result.lines, "Checkpoint: saved full")
      const errors = result.stderr.trim().split("\n")
      assert.strictEqual(errors.at(-1), `error: full ended interrupted, but its journal could not be saved: ${why}`)
      noTrace(result.stderr)
      assert.isAtMost(fs.statSync(path.join(dir, "full.journal")).size, 1024)
    }, 30_000)

    it("corrupt checkpoint", async () => {
      const dir = stateDir()
      fs.writeFileSync(path.join(dir, "torn.json"), "{\"version\":1,\"stateId\":\"torn\",\"cre")
      const result = await runCli(["resume", "torn", "--state-dir", dir])
      assert.strictEqual(result.code, 2)
      assert.match(result.stderr, new RegExp(`^error: Checkpoint of torn is corrupt \\(${path.join(dir, "torn.json")}\\): `))
      assert.strictEqual(result.stderr.trim().split("\n").length, 1)
      const list = await runCli(["list", "--state-dir", dir])
      assert.strictEqual(list.code, 0)
      assert.isTrue(list.lines.some((l) => /^torn\s+corrupt\s/.test(l)))
    })
  })
})
