/**
 * Small workflows for the control-plane tests: gated by Deferreds the test opens, quick, failing,
 * and slow (two 5-second steps of the test clock).
 */
import { Deferred, Effect, Schema } from "effect"
import { Actor, awaitInput, requireApproval, runEvent, Workflow } from "../../src/index.ts"
import { Research } from "../../src/demo/index.ts"

// Gates by name: a test opens one to let a `gated` run past its `wait` step.
const gates = new Map<string, Deferred.Deferred<void>>()
export const gateOf = (name: string): Deferred.Deferred<void> => {
  let gate = gates.get(name)
  if (gate === undefined) {
    gate = Deferred.makeUnsafe<void>()
    gates.set(name, gate)
  }
  return gate
}
export const openGate = (name: string) => Deferred.succeed(gateOf(name), undefined)

let unique = 0
/** A gate name no other test uses. */
export const freshGate = (label: string) => `${label}-${++unique}-${Math.random().toString(36).slice(2, 8)}`

const prepare = Actor.tool("prepare", (gate: string) => Effect.succeed(`prepared ${gate}`), { output: Schema.String })
const wait = Actor.tool("wait", (gate: string) => Effect.as(Deferred.await(gateOf(gate)), `waited ${gate}`), {
  output: Schema.String
})
const finish = Actor.tool("finish", (gate: string) => Effect.succeed(`finished ${gate}`), { output: Schema.String })

/** prepare → wait (until the test opens the gate) → finish. */
export const gated = Workflow.make({
  name: "gated",
  description: "prepare, wait for the test's gate, finish",
  input: Schema.Struct({ gate: Schema.String }),
  example: { gate: "example" },
  run: (input) =>
    Effect.gen(function*() {
      yield* runEvent(prepare, input.gate)
      yield* runEvent(wait, input.gate)
      return yield* runEvent(finish, input.gate)
    })
})

/** Completes at once. */
export const quick = Workflow.make({
  name: "quick",
  description: "one step, done",
  input: Schema.Struct({ n: Schema.Number }),
  example: { n: 1 },
  run: (input) => runEvent(Actor.tool("double", (n: number) => Effect.succeed(n * 2), { output: Schema.Number }), input.n)
})

/** Fails at once. */
export const failing = Workflow.make({
  name: "failing",
  description: "fails",
  input: Schema.Struct({}),
  example: {},
  run: () => Effect.fail(new Workflow.WorkflowError({ workflow: "failing", detail: "it always fails" }))
})

/** Two steps of 5 seconds (of the test clock). */
export const slow = Workflow.make({
  name: "slow",
  description: "two 5-second steps",
  input: Schema.Struct({}),
  example: {},
  run: () =>
    Effect.gen(function*() {
      const step = Actor.tool("step", (n: number) => Effect.as(Effect.sleep("5 seconds"), n), { output: Schema.Number })
      yield* runEvent(step, 1)
      return yield* runEvent(step, 2)
    })
})

/** prepare → ask a person which ending (a or b) → finish with it. */
export const asking = Workflow.make({
  name: "asking",
  description: "prepare, ask a person, finish",
  input: Schema.Struct({ topic: Schema.String }),
  example: { topic: "example" },
  run: (input) =>
    Effect.gen(function*() {
      yield* runEvent(prepare, input.topic)
      const ending = yield* runEvent(
        Actor.agent("ask", (topic: string) =>
          awaitInput({ prompt: `Which ending for ${topic}?`, answer: Schema.String, choices: ["a", "b"] })),
        input.topic
      )
      return yield* runEvent(finish, `${input.topic}-${ending}`)
    })
})

/**
 * prepare → ask how many copies (an object: copies 1 to 5, an optional note) → ask for tags (a list:
 * free-form JSON; by a deadline of an hour, else ["general"]) → publish, once a person approves it
 * (`published …`, or `not published: <reason>`).
 */
export const reviewing = Workflow.make({
  name: "reviewing",
  description: "prepare, ask for copies and tags, publish once approved",
  input: Schema.Struct({ topic: Schema.String }),
  example: { topic: "example" },
  run: (input) =>
    Effect.gen(function*() {
      yield* runEvent(prepare, input.topic)
      const details = yield* runEvent(
        Actor.agent("details", (topic: string) =>
          awaitInput({
            prompt: `How many copies of ${topic}?`,
            answer: Schema.Struct({
              copies: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 5 })),
              note: Schema.optionalKey(Schema.String)
            })
          })),
        input.topic
      )
      const tags = yield* runEvent(
        Actor.agent("tags", (topic: string) =>
          awaitInput({
            prompt: `Which tags for ${topic}?`,
            answer: Schema.Array(Schema.String),
            deadline: "1 hour",
            default: ["general"]
          })),
        input.topic
      )
      const publish = Actor.tool("publish", (text: string) =>
        Effect.map(
          requireApproval({ tool: "publish", input: text }),
          (approval) => approval.approved ? `published ${text}` : `not published: ${approval.reason ?? "rejected"}`
        ), { output: Schema.String })
      return yield* runEvent(publish, `${input.topic} x${details.copies}${details.note === undefined ? "" : ` (${details.note})`} [${tags.join(", ")}]`)
    })
})

export const testWorkflows = [
  Workflow.register(Research.research),
  Workflow.register(gated),
  Workflow.register(quick),
  Workflow.register(failing),
  Workflow.register(slow),
  Workflow.register(asking),
  Workflow.register(reviewing)
]

