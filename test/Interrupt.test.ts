import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import {
  BusEvent,
  BusEventJson,
  eventDepth,
  ExecutionEvent,
  ExecutionInterrupted,
  ExecutionStatus,
  GroupEvent,
  InterruptEvent,
  InterruptReason,
  InterruptSignal,
  InterruptSignalJson,
  LogEvent,
  StopPolicy
} from "../src/index.ts"

const decodeError = <S extends Schema.Top>(schema: S, input: string): string => {
  try {
    Schema.decodeUnknownSync(Schema.fromJsonString(schema) as never)(input)
  } catch (error) {
    return String(error)
  }
  throw new Error("decoding succeeded")
}

describe("Interrupt schemas", () => {
  // seed test 1: enum values exist
  it("statuses and reasons keep the seed's wire values", () => {
    assert.deepStrictEqual(ExecutionStatus.literals, [
      "started",
      "completed",
      "failed",
      "awaiting",
      "human_intervention",
      "recovered",
      "interrupted",
      "cancelling",
      "retrying"
    ])
    assert.deepStrictEqual(InterruptReason.literals, [
      "user_cancelled",
      "timeout",
      "resource_limit",
      "error_threshold",
      "priority_override",
      "system_shutdown",
      "custom"
    ])
  })

  // seed test 2: InterruptSignal model creation
  it("new InterruptSignal fills triggeredAt with now (UTC ISO) and saveCheckpoint with true", () => {
    const before = Date.now()
    const signal = new InterruptSignal({ reason: "timeout" })
    assert.strictEqual(signal.reason, "timeout")
    assert.strictEqual(signal.saveCheckpoint, true)
    assert.match(signal.triggeredAt, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
    assert.isAtLeast(Date.parse(signal.triggeredAt), before - 1)
    assert.isUndefined(signal.message)
    assert.isUndefined(signal.triggeredBy)
  })

  it("InterruptSignal round-trips through JSON and applies defaults when decoding", () => {
    const signal = new InterruptSignal({
      reason: "user_cancelled",
      message: "User pressed Cancel button",
      triggeredBy: "web_ui_user_123",
      saveCheckpoint: false,
      triggeredAt: "2026-11-24T10:00:00.000Z"
    })
    const json = Schema.encodeSync(InterruptSignalJson)(signal)
    assert.strictEqual(
      json,
      "{\"reason\":\"user_cancelled\",\"message\":\"User pressed Cancel button\",\"triggeredAt\":\"2026-11-24T10:00:00.000Z\",\"triggeredBy\":\"web_ui_user_123\",\"saveCheckpoint\":false}"
    )
    const back = Schema.decodeUnknownSync(InterruptSignalJson)(json)
    assert.instanceOf(back, InterruptSignal)
    assert.deepStrictEqual(back, signal)
    const minimal = Schema.decodeUnknownSync(InterruptSignalJson)("{\"reason\":\"custom\"}")
    assert.strictEqual(minimal.saveCheckpoint, true)
    assert.match(minimal.triggeredAt, /Z$/)
  })

  it("decoding bad JSON names the field", () => {
    assert.strictEqual(
      decodeError(InterruptSignal, "{\"reason\":\"nope\"}"),
      "SchemaError(Expected \"user_cancelled\" | \"timeout\" | \"resource_limit\" | \"error_threshold\" | \"priority_override\" | \"system_shutdown\" | \"custom\"\n  at [\"reason\"])"
    )
    assert.strictEqual(decodeError(InterruptSignal, "{}"), "SchemaError(Missing key\n  at [\"reason\"])")
    assert.strictEqual(
      decodeError(InterruptSignal, "{\"reason\":\"timeout\",\"saveCheckpoint\":\"yes\"}"),
      "SchemaError(Expected boolean\n  at [\"saveCheckpoint\"])"
    )
    assert.include(decodeError(InterruptSignal, "{\"reason\":\"timeout\",\"triggeredAt\":\"yesterday\"}"), "[\"triggeredAt\"]")
    assert.strictEqual(decodeError(InterruptSignal, "{not json"), "SchemaError(Expected a valid JSON string)")
    assert.include(decodeError(InterruptEvent, "{\"_tag\":\"InterruptEvent\",\"signal\":{\"reason\":\"timeout\"}}"), "[\"stateId\"]")
  })

  // seed test 3: InterruptEvent model creation
  it("InterruptEvent is tagged and round-trips", () => {
    const event = new InterruptEvent({
      signal: new InterruptSignal({ reason: "resource_limit", triggeredAt: "2026-11-24T10:00:00.000Z" }),
      stateId: "run-1"
    })
    assert.strictEqual(event._tag, "InterruptEvent")
    const json = Schema.encodeSync(BusEventJson)(event)
    const back = Schema.decodeUnknownSync(BusEventJson)(json)
    assert.instanceOf(back, InterruptEvent)
    assert.deepStrictEqual(back, event)
  })

  // seed test 4: ExecutionInterrupted exception
  it("ExecutionInterrupted has reason, default message and signal, and is a yieldable error", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.gen(function*() {
        return yield* new ExecutionInterrupted({ reason: "timeout" })
      }))
      assert.strictEqual(error._tag, "ExecutionInterrupted")
      assert.strictEqual(error.reason, "timeout")
      assert.strictEqual(error.message, "Execution interrupted: timeout")
      assert.strictEqual(error.signal.reason, "timeout")
      assert.instanceOf(error, Error)
      const custom = new ExecutionInterrupted({ reason: "custom", message: "stop now" })
      assert.strictEqual(custom.message, "stop now")
      const signal = new InterruptSignal({ reason: "user_cancelled", message: "bye" })
      const fromSignal = ExecutionInterrupted.fromSignal(signal)
      assert.strictEqual(fromSignal.signal, signal)
      // the signal's message when it has one (the seed's ExecutionInterrupted(reason, message)) ...
      assert.strictEqual(fromSignal.message, "bye")
      // ... else the default
      const bare = ExecutionInterrupted.fromSignal(new InterruptSignal({ reason: "user_cancelled" }))
      assert.strictEqual(bare.message, "Execution interrupted: user_cancelled")
    }).pipe(Effect.runPromise))

  it("ExecutionInterrupted round-trips through JSON", () => {
    const codec = Schema.fromJsonString(ExecutionInterrupted)
    const error = new ExecutionInterrupted({
      reason: "system_shutdown",
      signal: new InterruptSignal({ reason: "system_shutdown", triggeredAt: "2026-11-24T10:00:00.000Z" })
    })
    const back = Schema.decodeUnknownSync(codec)(Schema.encodeSync(codec)(error))
    assert.instanceOf(back, ExecutionInterrupted)
    assert.strictEqual(back.message, "Execution interrupted: system_shutdown")
    assert.deepStrictEqual(back.signal, error.signal)
    assert.include(
      decodeError(ExecutionInterrupted, "{\"_tag\":\"ExecutionInterrupted\",\"reason\":\"timeout\",\"message\":1}"),
      "[\"message\"]"
    )
  })

  it("every bus event round-trips through JSON", () => {
    const events: ReadonlyArray<BusEvent> = [
      ExecutionEvent.make({
        stateId: "s",
        address: "planner::search::tool_call",
        actor: "search",
        kind: "tool",
        status: "completed",
        occurrence: 1,
        attempt: 1,
        timestamp: "2026-11-24T10:00:00.000Z",
        executionTime: 12.5,
        result: { hits: [1, 2] }
      }),
      GroupEvent.make({
        stateId: "s",
        groupId: "g1",
        name: "search",
        address: "planner",
        status: "running",
        total: 3,
        completed: 1,
        failed: 0,
        timestamp: "2026-11-24T10:00:00.000Z"
      }),
      LogEvent.make({ stateId: "s", level: "warning", message: "hi", timestamp: "2026-11-24T10:00:00.000Z" })
    ]
    for (const event of events) {
      const back = Schema.decodeUnknownSync(BusEventJson)(Schema.encodeSync(BusEventJson)(event))
      assert.deepStrictEqual(back, event)
    }
    assert.strictEqual(eventDepth(events[0] as ExecutionEvent), 1)
    assert.include(
      decodeError(ExecutionEvent, "{\"_tag\":\"ExecutionEvent\",\"stateId\":\"s\",\"address\":\"a\",\"actor\":\"a\",\"kind\":\"robot\"}"),
      "[\"kind\"]"
    )
  })

  it("stop policies default to abort, system_shutdown drains 10 s, and the most specific wins", () => {
    assert.deepStrictEqual(StopPolicy.resolve("user_cancelled"), StopPolicy.abort())
    assert.deepStrictEqual(StopPolicy.resolve("system_shutdown"), StopPolicy.drain("10 seconds"))
    const layer = { timeout: StopPolicy.drain("3 seconds") }
    const event = { timeout: StopPolicy.abort("1 second") }
    assert.deepStrictEqual(StopPolicy.resolve("timeout", event, layer), StopPolicy.abort("1 second"))
    assert.deepStrictEqual(StopPolicy.resolve("timeout", undefined, layer), StopPolicy.drain("3 seconds"))
  })
})
