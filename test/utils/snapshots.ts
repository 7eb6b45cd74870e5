import { type ExecutionEvent, InterruptSignal, SNAPSHOT_VERSION, type SnapshotStatus, StateSnapshot } from "../../src/index.ts"

const event = (i: number, status: ExecutionEvent["status"] = "completed"): ExecutionEvent => ({
  _tag: "ExecutionEvent",
  stateId: "x",
  address: `planner::step${i % 7}::tool_call`,
  actor: `step${i % 7}`,
  kind: "tool",
  status,
  occurrence: Math.floor(i / 7) + 1,
  attempt: 1,
  timestamp: "2026-11-24T10:00:00.000Z",
  executionTime: i,
  ...(status === "completed" ? { result: { step: i, text: `result ${i}` } } : {})
})

/** A snapshot with `events` completed events (and as many `started` ones in the history). */
export const makeSnapshot = (
  stateId: string,
  options: { readonly events?: number; readonly status?: SnapshotStatus; readonly updatedAt?: string; readonly tag?: string } = {}
): StateSnapshot => {
  const n = options.events ?? 3
  const completed = Array.from({ length: n }, (_, i) => ({ ...event(i), stateId }))
  return new StateSnapshot({
    version: SNAPSHOT_VERSION,
    stateId,
    createdAt: "2026-11-24T10:00:00.000Z",
    updatedAt: options.updatedAt ?? "2026-11-24T10:00:01.000Z",
    status: options.status ?? "interrupted",
    metadata: {
      workflow: "research",
      input: { topic: options.tag ?? "effect" },
      interrupt: new InterruptSignal({
        reason: "user_cancelled",
        message: "Stop",
        triggeredBy: "test",
        triggeredAt: "2026-11-24T10:00:01.000Z"
      })
    },
    events: completed.flatMap((e) => [{ ...e, status: "started" as const, result: undefined }, e]).map((e) => {
      const { result, ...rest } = e
      return result === undefined ? rest : { ...rest, result }
    }),
    completed,
    partialOutputs: { "planner::summarise::llm_call#1": "The first tokens" },
    storage: { notes: ["a", "b"], budget: 12 }
  })
}
