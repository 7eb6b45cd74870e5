import { ExecutionEvent, InterruptEvent, InterruptSignal, LogEvent } from "../../src/index.ts"

export const log = (n: number): LogEvent =>
  LogEvent.make({ stateId: "test", level: "info", message: `m${n}`, timestamp: "2026-11-24T10:00:00.000Z" })

export const interrupt = (reason: "timeout" | "user_cancelled" = "timeout"): InterruptEvent =>
  new InterruptEvent({
    stateId: "test",
    signal: new InterruptSignal({ reason, triggeredAt: "2026-11-24T10:00:00.000Z" })
  })

export const started = (address: string): ExecutionEvent =>
  ExecutionEvent.make({
    stateId: "test",
    address,
    actor: address.split("::").at(-2) ?? address,
    kind: "tool",
    status: "started",
    occurrence: 1,
    attempt: 1,
    timestamp: "2026-11-24T10:00:00.000Z"
  })

export const messages = (events: ReadonlyArray<{ readonly _tag: string }>): Array<string> =>
  events.map((e) => e._tag === "LogEvent" ? (e as LogEvent).message : e._tag)
