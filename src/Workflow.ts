/**
 * Workflows: named programs with a Schema for their input, so that a command line, a worker or an
 * HTTP server can start one by name, record its input in the checkpoint and resume it later.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import type { ActorContractError } from "./Actor.ts"
import type { Execution } from "./ExecutionState.ts"
import { isoOf } from "./internal/time.ts"
import type { ExecutionInterrupted } from "./Interrupt.ts"

/**
 * A named program with a typed input.
 *
 * @category models
 * @since 0.1.0
 */
export interface Workflow<I = unknown, A = unknown> {
  readonly name: string
  readonly description: string
  /** Decodes the input from JSON (a request body, a CLI flag, a checkpoint). */
  readonly input: Schema.Codec<I, unknown>
  /** An example input, for help texts and pages. */
  readonly example: I
  /** How many steps (actor calls) a run usually makes, for progress bars (optional). */
  readonly steps?: number | undefined
  readonly run: (
    input: I
  ) => Effect.Effect<A, ExecutionInterrupted | ActorContractError | WorkflowError, Execution>
}

/**
 * A workflow failed on its own terms (not an interrupt).
 *
 * @category errors
 * @since 0.1.0
 */
export class WorkflowError extends Schema.TaggedError<WorkflowError>("agent-interrupt/WorkflowError")(
  "WorkflowError",
  { workflow: Schema.String, detail: Schema.String, cause: Schema.optionalKey(Schema.Defect()) }
) {
  override get message(): string {
    return `Workflow ${this.workflow} failed: ${this.detail}`
  }
}

/**
 * The input of a workflow did not decode.
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidWorkflowInput extends Schema.TaggedError<InvalidWorkflowInput>(
  "agent-interrupt/InvalidWorkflowInput"
)("InvalidWorkflowInput", { workflow: Schema.String, detail: Schema.String }, { httpApiStatus: 400 }) {
  override get message(): string {
    return `Invalid input for workflow ${this.workflow}: ${this.detail}`
  }
}

/**
 * No workflow of that name is registered.
 *
 * @category errors
 * @since 0.1.0
 */
export class UnknownWorkflow extends Schema.TaggedError<UnknownWorkflow>("agent-interrupt/UnknownWorkflow")(
  "UnknownWorkflow",
  { workflow: Schema.String, known: Schema.Array(Schema.String) },
  { httpApiStatus: 400 }
) {
  override get message(): string {
    return `Unknown workflow ${JSON.stringify(this.workflow)}; known: ${this.known.join(", ")}`
  }
}

/**
 * Defines a workflow.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = <I, A>(workflow: Workflow<I, A>): Workflow<I, A> => workflow

/**
 * A new state id for a run of `workflow` started at `millis`: its name, the UTC time and a random
 * suffix, e.g. `research-20261124-101500-a1b2c3`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const newStateId = (workflow: string, millis: number): string => {
  const slug = workflow.replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^-+/, "").slice(0, 64) || "run"
  const stamp = isoOf(millis).replace(/[-:]/g, "").replace("T", "-").slice(0, 15)
  return `${slug}-${stamp}-${globalThis.crypto.randomUUID().slice(0, 6)}`
}

/**
 * Decodes unknown input (parsed JSON) for a workflow, with the Schema's message on failure.
 *
 * @category constructors
 * @since 0.1.0
 */
export const decodeInput = <I, A>(workflow: Workflow<I, A>, input: unknown): Effect.Effect<I, InvalidWorkflowInput> =>
  Schema.decodeUnknownEffect(workflow.input)(input).pipe(
    Effect.mapError((error) => new InvalidWorkflowInput({ workflow: workflow.name, detail: error.message }))
  )

/**
 * Encodes a workflow's input to JSON, for the checkpoint.
 *
 * @category constructors
 * @since 0.1.0
 */
export const encodeInput = <I, A>(workflow: Workflow<I, A>, input: I): Schema.Json =>
  Schema.encodeSync(workflow.input)(input) as Schema.Json

/**
 * A workflow with its input type erased, so that workflows of different inputs can sit in one list:
 * `prepare` decodes JSON input into the input as recorded (JSON) and the program to run.
 *
 * @category models
 * @since 0.1.0
 */
export interface Registered {
  readonly name: string
  readonly description: string
  readonly example: Schema.Json
  readonly steps?: number | undefined
  readonly prepare: (input: unknown) => Effect.Effect<
    {
      readonly input: Schema.Json
      readonly program: Effect.Effect<
        unknown,
        ExecutionInterrupted | ActorContractError | WorkflowError,
        Execution
      >
    },
    InvalidWorkflowInput
  >
}

/**
 * Erases a workflow's input type for a registry.
 *
 * @category constructors
 * @since 0.1.0
 */
export const register = <I, A>(workflow: Workflow<I, A>): Registered => ({
  name: workflow.name,
  description: workflow.description,
  example: encodeInput(workflow, workflow.example),
  ...(workflow.steps === undefined ? {} : { steps: workflow.steps }),
  prepare: (input) =>
    Effect.map(decodeInput(workflow, input), (decoded) => ({
      input: encodeInput(workflow, decoded),
      program: workflow.run(decoded)
    }))
})

/**
 * Finds a workflow by name.
 *
 * @category constructors
 * @since 0.1.0
 */
export const find = (
  workflows: ReadonlyArray<Registered>,
  name: string
): Effect.Effect<Registered, UnknownWorkflow> => {
  const found = workflows.find((w) => w.name === name)
  return found === undefined
    ? Effect.fail(new UnknownWorkflow({ workflow: name, known: workflows.map((w) => w.name) }))
    : Effect.succeed(found)
}
