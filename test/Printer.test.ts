import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import {
  type BusEvent,
  type ExecutionEvent,
  ExecutionStatus,
  InterruptEvent,
  InterruptSignal,
  Printer
} from "../src/index.ts"

const at = "2026-11-24T10:00:00.000Z"
const signal = new InterruptSignal({
  reason: "user_cancelled",
  message: "Interrupted with Ctrl-C (SIGINT)",
  triggeredBy: "cli",
  triggeredAt: at
})

const event = (status: ExecutionEvent["status"], fields: Partial<ExecutionEvent> = {}): ExecutionEvent => ({
  _tag: "ExecutionEvent",
  stateId: "s",
  address: "planner::search::web::tool_call",
  actor: "search",
  kind: "tool",
  status,
  occurrence: 1,
  attempt: 1,
  timestamp: at,
  ...fields
})

const lines = (e: BusEvent, color = false) => Printer.format(e, { color })

describe("Printer", () => {
  it("one line per execution event, indented by depth, for every status", () => {
    assert.deepStrictEqual(lines(event("started", { detail: "{\"q\":1}" })), ["    ▶ planner::search::web::tool_call — {\"q\":1}"])
    assert.deepStrictEqual(lines(event("completed", { executionTime: 1234, detail: "[1,2]" })), [
      "    ✓ planner::search::web::tool_call (1.23s) — [1,2]"
    ])
    assert.deepStrictEqual(lines(event("failed", { executionTime: 90, message: "HTTP 503", attempt: 2 })), [
      "    ✗ planner::search::web::tool_call [attempt 2] (90ms) — HTTP 503"
    ])
    assert.deepStrictEqual(
      lines(event("retrying", { message: "Retrying after SourceUnavailable: HTTP 503", detail: "Attempt 2/3 in 1s" })),
      ["    ↻ planner::search::web::tool_call — Retrying after SourceUnavailable: HTTP 503 · Attempt 2/3 in 1s"]
    )
    assert.deepStrictEqual(
      lines(event("interrupted", {
        detail: "Interrupted: user_cancelled",
        message: "Stop",
        stopLatency: 0.42,
        partialOutput: "The first tokens"
      })),
      ["    ■ planner::search::web::tool_call (stopped in 0.42ms) — Stop · Interrupted: user_cancelled partial output: \"The first tokens\""]
    )
    assert.deepStrictEqual(
      lines(event("recovered", { executionTime: 5, detail: "[1,2]", message: "Recovered from restored state", occurrence: 2 })),
      ["    ↺ planner::search::web::tool_call #2 (5.0ms) — [1,2] (Recovered from restored state)"]
    )
    assert.deepStrictEqual(lines(event("cancelling", { message: "draining" })), ["    … planner::search::web::tool_call — draining"])
    assert.deepStrictEqual(lines(event("awaiting")), ["    ⏸ planner::search::web::tool_call"])
    assert.deepStrictEqual(lines(event("human_intervention", { message: "approve?" })), [
      "    ✋ planner::search::web::tool_call — approve?"
    ])
    // every status has a symbol
    for (const status of ExecutionStatus.literals) assert.isString(Printer.symbols[status])
    assert.deepStrictEqual(lines(event("started", { address: "planner::agent_call" })), ["▶ planner::agent_call"])
  })

  it("long details are clipped", () => {
    const [line] = lines(event("completed", { detail: "x".repeat(500) }))
    assert.isTrue(line!.endsWith("…"))
    assert.isBelow(line!.length, 140)
  })

  it("group, log and interrupt events", () => {
    assert.deepStrictEqual(
      lines({
        _tag: "GroupEvent",
        stateId: "s",
        groupId: "planner::search#1",
        name: "search",
        address: "planner::search",
        status: "cancelled",
        total: 3,
        completed: 1,
        failed: 1,
        timestamp: at,
        detail: "Interrupted: timeout"
      }),
      ["  ◆ group planner::search#1 cancelled (1/3 done, 1 failed) — Interrupted: timeout"]
    )
    assert.deepStrictEqual(
      lines({ _tag: "GroupEvent", stateId: "s", groupId: "g#1", name: "g", address: "g", status: "pending", total: 1, completed: 0, failed: 0, timestamp: at }),
      []
    )
    assert.deepStrictEqual(lines({ _tag: "LogEvent", stateId: "s", level: "warning", message: "checker slow", timestamp: at }), [
      "! warning: checker slow"
    ])
    assert.deepStrictEqual(lines(new InterruptEvent({ signal, stateId: "s" })), [
      "⚡ interrupt requested: user_cancelled — Interrupted with Ctrl-C (SIGINT) (by cli)"
    ])
  })

  it("the interrupt banner says whether the checkpoint was saved", () => {
    const finished = (checkpoint: "saved" | "not_saved" | "failed", checkpointDetail?: string): BusEvent => ({
      _tag: "ExecutionFinished",
      stateId: "run-1",
      status: "interrupted",
      timestamp: at,
      signal,
      checkpoint,
      ...(checkpoint === "saved" ? { checkpointId: "run-1" } : {}),
      ...(checkpointDetail === undefined ? {} : { checkpointDetail })
    })
    const rule = "═".repeat(48)
    assert.deepStrictEqual(lines(finished("saved")), [
      rule,
      "EXECUTION INTERRUPTED",
      "Reason: user_cancelled",
      "Message: Interrupted with Ctrl-C (SIGINT)",
      "Triggered by: cli",
      `Time: ${at}`,
      "Checkpoint: saved run-1",
      rule
    ])
    assert.strictEqual(lines(finished("not_saved"))[6], "Checkpoint: not saved")
    assert.strictEqual(
      lines(finished("failed", "Expected a JSON-serializable value at [\"bad\"]"))[6],
      "Checkpoint: not saved (Expected a JSON-serializable value at [\"bad\"])"
    )
    assert.deepStrictEqual(
      lines({ _tag: "ExecutionFinished", stateId: "run-1", status: "completed", timestamp: at, checkpoint: "saved" }),
      ["✔ execution run-1 completed"]
    )
    assert.deepStrictEqual(
      lines({ _tag: "ExecutionFinished", stateId: "run-1", status: "failed", timestamp: at, checkpoint: "saved", detail: "boom" }),
      ["✘ execution run-1 failed: boom"]
    )
  })

  it("colours only when asked", () => {
    const plain = lines(event("completed"))[0]!
    const colored = lines(event("completed"), true)[0]!
    assert.notInclude(plain, "\u001b[")
    assert.include(colored, "\u001b[32m✓\u001b[0m")
  })

  it("an llm event shows its text and its tokens; an interrupted one its partial output and the tokens so far", () => {
    const llm = { address: "planner::summarise::llm_call", actor: "summarise", kind: "llm" as const }
    const result = { text: "Stop at once.", finishReason: "stop", usage: { inputTokens: 12, outputTokens: 3 } }
    assert.deepStrictEqual(
      lines(event("completed", { ...llm, executionTime: 812, detail: JSON.stringify(result), result, usage: result.usage })),
      ["  ✓ planner::summarise::llm_call (812ms) — \"Stop at once.\" (tokens: 12 in, 3 out)"]
    )
    assert.deepStrictEqual(
      lines(event("interrupted", { ...llm, detail: "Interrupted: resource_limit", partialOutput: "Stop ", usage: { inputTokens: 12, outputTokens: 1 } })),
      ["  ■ planner::summarise::llm_call — Interrupted: resource_limit partial output: \"Stop \" (tokens: 12 in, 1 out)"]
    )
    assert.deepStrictEqual(
      lines({ _tag: "OutputDelta", stateId: "s", address: llm.address, occurrence: 1, attempt: 1, timestamp: at, delta: "Stop " }),
      []
    )
  })

  it.effect("make writes live output as lines of up to 72 characters, the rest before the event's last line", () =>
    Effect.gen(function*() {
      const written: Array<string> = []
      const print = Printer.make({ write: (line) => Effect.sync(() => void written.push(line)) })
      const address = "planner::summarise::llm_call"
      const delta = (text: string) =>
        print({ _tag: "OutputDelta", stateId: "s", address, occurrence: 1, attempt: 1, timestamp: at, delta: text })
      const words = "Across nine findings, interruptible agents come down to three things: stop at once, announce it once.\nKeep every step."
      for (const word of words.match(/\S+\s*/g)!) yield* delta(word)
      assert.deepStrictEqual(written, [
        "    ┆ Across nine findings, interruptible agents come down to three things:",
        "    ┆ stop at once, announce it once."
      ])
      yield* print(event("completed", { address, actor: "summarise", kind: "llm" }))
      assert.deepStrictEqual(written.slice(2), ["    ┆ Keep every step.", "  ✓ planner::summarise::llm_call"])
    }))

  it.effect("make writes each line; ndjson writes one JSON document per event", () =>
    Effect.gen(function*() {
      const written: Array<string> = []
      const write = (line: string) => Effect.sync(() => void written.push(line))
      yield* Printer.make({ write })(event("started", { address: "a::tool_call" }))
      yield* Printer.ndjson(write)(event("completed", { address: "a::tool_call", result: { ok: true } }))
      assert.strictEqual(written[0], "▶ a::tool_call")
      assert.deepStrictEqual(JSON.parse(written[1]!), {
        _tag: "ExecutionEvent",
        stateId: "s",
        address: "a::tool_call",
        actor: "search",
        kind: "tool",
        status: "completed",
        occurrence: 1,
        attempt: 1,
        timestamp: at,
        result: { ok: true }
      })
    }))
})
