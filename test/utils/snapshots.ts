import { InterruptSignal, type JournalRecord, type StepCompleted } from "../../src/index.ts"

/** The `i`-th completed step of a made-up workflow: 7 actors, each called again and again. */
export const step = (stateId: string, i: number): StepCompleted => {
  const address = `planner::step${i % 7}::tool_call`
  const occurrence = Math.floor(i / 7) + 1
  return {
    _tag: "StepCompleted",
    address,
    occurrence,
    actor: `step${i % 7}`,
    kind: "tool",
    attempt: 1,
    idempotencyKey: `${stateId}::${address}#${occurrence}`,
    timestamp: "2026-11-24T10:00:00.500Z",
    executionTime: i,
    result: { step: i, text: `result ${i}` }
  }
}

export const signal = new InterruptSignal({
  reason: "user_cancelled",
  message: "Stop",
  triggeredBy: "test",
  triggeredAt: "2026-11-24T10:00:01.000Z"
})

/**
 * The journal of one attempt: started, `steps` completed steps, some storage, then (unless
 * `status` is `running`) the interrupt and the end.
 */
export const makeRecords = (
  stateId: string,
  options: {
    readonly steps?: number
    readonly status?: "running" | "interrupted" | "completed" | "failed"
    readonly updatedAt?: string
    readonly topic?: string
  } = {}
): Array<JournalRecord> => {
  const n = options.steps ?? 3
  const status = options.status ?? "interrupted"
  const end = options.updatedAt ?? "2026-11-24T10:00:01.000Z"
  const records: Array<JournalRecord> = [
    {
      _tag: "RunStarted",
      stateId,
      attempt: 1,
      timestamp: "2026-11-24T10:00:00.000Z",
      workflow: "research",
      input: { topic: options.topic ?? "effect" },
      owner: "test"
    },
    ...Array.from({ length: n }, (_, i) => step(stateId, i)),
    { _tag: "StorageSet", key: "notes", value: ["a", "b"] },
    { _tag: "StorageSet", key: "budget", value: 12 },
    {
      _tag: "StepInterrupted",
      address: "planner::summarise::llm_call",
      occurrence: 1,
      actor: "summarise",
      kind: "llm",
      attempt: 1,
      timestamp: end,
      partialOutput: "The first tokens"
    }
  ]
  if (status === "running") return records
  if (status === "interrupted") records.push({ _tag: "RunInterrupted", signal, timestamp: end })
  records.push({
    _tag: "RunFinished",
    status,
    timestamp: end,
    ...(status === "failed" ? { error: "kaput" } : {})
  })
  return records
}

/** A version-1 snapshot document (what 0.1 wrote as `<stateId>.json`), with `steps` completed events. */
export const legacyDocument = (stateId: string, steps = 3): string => {
  const events = Array.from({ length: steps }, (_, i) => {
    const s = step(stateId, i)
    return {
      _tag: "ExecutionEvent",
      stateId,
      address: s.address,
      actor: s.actor,
      kind: s.kind,
      status: "completed",
      occurrence: s.occurrence,
      attempt: 1,
      timestamp: s.timestamp,
      executionTime: s.executionTime,
      result: s.result
    }
  })
  return JSON.stringify({
    version: 1,
    stateId,
    createdAt: "2026-11-24T10:00:00.000Z",
    updatedAt: "2026-11-24T10:00:01.000Z",
    status: "interrupted",
    metadata: { workflow: "research", input: { topic: "effect" }, interrupt: signal },
    events: events.flatMap((e) => [{ ...e, status: "started", result: undefined }, e]),
    completed: events,
    partialOutputs: { "planner::summarise::llm_call#1": "The first tokens" },
    storage: { notes: ["a", "b"], budget: 12 }
  })
}
