import { Effect } from "effect"
import { EventBus, type ExecutionEvent, type GroupEvent } from "../../src/index.ts"

/** The execution events on the bus so far. */
export const executionEvents = Effect.map(
  Effect.flatMap(EventBus, (bus) => bus.history),
  (events) => events.filter((e): e is ExecutionEvent => e._tag === "ExecutionEvent")
)

/** `status address` of each execution event so far (`started planner::agent_call`). */
export const timeline = Effect.map(executionEvents, (events) => events.map((e) => `${e.status} ${e.address}`))

/** The group events on the bus so far. */
export const groupEvents = Effect.map(
  Effect.flatMap(EventBus, (bus) => bus.history),
  (events) => events.filter((e): e is GroupEvent => e._tag === "GroupEvent")
)

/** How many InterruptEvents are on the bus. */
export const interruptEventCount = Effect.map(
  Effect.flatMap(EventBus, (bus) => bus.history),
  (events) => events.filter((e) => e._tag === "InterruptEvent").length
)
