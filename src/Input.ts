/**
 * Human in the loop: a step asks a person — answer a question, approve a tool call — and the run
 * waits for the answer, then goes on from exactly there. The answer may come hours later, to another
 * process: the question and its answer are journaled, so a resume replays every step completed before
 * the pause and `awaitInput` returns the journaled answer.
 *
 * What runs again when a paused run continues in another attempt (after its process let go of it, or
 * an interrupt while it waited): only the plain code of the asking handler before `awaitInput`, and
 * steps that had not completed. Anything that completed through `runEvent` never runs again.
 *
 * @since 0.2.0
 */
import { Clock, Duration, Effect, Exit, Fiber, Schema, SchemaAST, SchemaRepresentation } from "effect"
import { CurrentStep } from "./Event.ts"
import { EventBus, type InputRequest } from "./EventBus.ts"
import { ExecutionState } from "./ExecutionState.ts"
import { type ExecutionInterrupted } from "./Interrupt.ts"
import { isoOf } from "./internal/time.ts"
import { Journal } from "./Journal.ts"

// -----------------------------------------------------------------------------
// Models
// -----------------------------------------------------------------------------

/**
 * The answer to an approval: approved or not, and why.
 *
 * @category models
 * @since 0.2.0
 */
export const Approval = Schema.Struct({
  approved: Schema.Boolean,
  reason: Schema.optionalKey(Schema.String)
})

/**
 * @category models
 * @since 0.2.0
 */
export interface Approval extends Schema.Schema.Type<typeof Approval> {}

/**
 * Options of {@link awaitInput}.
 *
 * **Details**
 *
 * - `prompt`: what the person is asked.
 * - `answer`: the answer's Schema; an answer arrives as JSON and is decoded with it (a value it
 *   refuses is refused where it is given, and nothing changes).
 * - `choices`: the only answers accepted, when given.
 * - `deadline`: how long the question waits; then `default` is the answer, or without one the run
 *   is interrupted with reason `timeout`. The deadline is journaled: a resume keeps it.
 *
 * @category options
 * @since 0.2.0
 */
export interface AwaitInputOptions<S extends Schema.Top> {
  readonly prompt: string
  readonly answer: S
  readonly choices?: ReadonlyArray<S["Type"]> | undefined
  readonly deadline?: Duration.Input | undefined
  readonly default?: S["Type"] | undefined
}

/**
 * Options of {@link requireApproval}: the tool and its input, and optionally the prompt (default
 * `Approve <tool> with <input>?`), a deadline and the answer it defaults to.
 *
 * @category options
 * @since 0.2.0
 */
export interface ApprovalOptions {
  readonly tool: string
  readonly input: Schema.Json
  readonly prompt?: string | undefined
  readonly deadline?: Duration.Input | undefined
  readonly default?: Approval | undefined
}

// -----------------------------------------------------------------------------
// Ids and answer checks
// -----------------------------------------------------------------------------

/**
 * The id of the `n`th question of the step at `address` + `occurrence`: `in-` and 8 hex digits of a
 * hash of the three, so the same program asks the same question under the same id on every attempt
 * (URL-safe, short enough to type).
 *
 * @category utils
 * @since 0.2.0
 */
export const inputIdOf = (address: string, occurrence: number, n: number): string => {
  const text = `${address}#${occurrence}/${n}`
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return `in-${(hash >>> 0).toString(16).padStart(8, "0")}`
}

// Every reviver Effect ships: a representation of a built-in schema and its checks comes back whole.
const revivers: ReadonlyArray<SchemaRepresentation.AnyReviver> = (Object.values(SchemaRepresentation) as ReadonlyArray<unknown>)
  .filter((value): value is SchemaRepresentation.AnyReviver =>
    typeof value === "object" && value !== null && "id" in value && "revive" in value
  )

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

const firstLine = (text: string) => text.split("\n").map((line) => line.trim()).filter((line) => line !== "").join(" ")

/**
 * What is wrong with `value` as an answer to `request`, or `undefined` when it may be given: it must
 * decode with the answer's Schema (rebuilt from its journaled representation, so any process can
 * check it) and be one of the choices when there are some. Checks the representation can not carry
 * (a custom filter) are left to the step, which decodes with the Schema itself.
 *
 * @category utils
 * @since 0.2.0
 */
export const checkAnswer = (request: InputRequest, value: unknown): string | undefined => {
  const decoded = Schema.decodeUnknownExit(answerSchemaOf(request))(value)
  if (Exit.isFailure(decoded)) return firstLine(String(Exit.findErrorOption(decoded).pipe((o) => o._tag === "Some" ? o.value.message : "invalid")))
  return notAChoice(request, value)
}

// Rebuilding a Schema from its representation costs far more than checking a value: once per
// question (its representation's text).
const answerSchemas = new Map<string, Schema.Codec<unknown, unknown>>()
const answerSchemaOf = (request: InputRequest): Schema.Codec<unknown, unknown> => {
  const key = JSON.stringify(request.answer)
  let schema = answerSchemas.get(key)
  if (schema === undefined) {
    try {
      schema = SchemaRepresentation.fromRepresentation(SchemaRepresentation.fromJson(request.answer), { revivers }) as Schema.Codec<
        unknown,
        unknown
      >
    } catch {
      schema = Schema.Unknown
    }
    if (answerSchemas.size >= 1000) answerSchemas.clear()
    answerSchemas.set(key, schema)
  }
  return schema
}

const notAChoice = (request: InputRequest, value: unknown): string | undefined =>
  request.choices !== undefined && !request.choices.some((choice) => sameJson(choice, value))
    ? `Expected one of ${request.choices.map((c) => JSON.stringify(c)).join(", ")}, got ${JSON.stringify(value)}`
    : undefined

// -----------------------------------------------------------------------------
// Asking
// -----------------------------------------------------------------------------

const ask = <S extends Schema.Top>(
  kind: InputRequest["kind"],
  options: AwaitInputOptions<S>,
  tool?: { readonly tool: string; readonly input: Schema.Json }
): Effect.Effect<S["Type"], ExecutionInterrupted, ExecutionState | EventBus | Journal> =>
  Effect.gen(function*() {
    const journal = yield* Journal
    const state = yield* ExecutionState
    const bus = yield* EventBus
    const step = yield* CurrentStep
    // checkpoint: nothing is asked once the execution is interrupted
    yield* state.checkInterrupt
    const address = step?.address ?? "workflow"
    const occurrence = step?.occurrence ?? 1
    const n = step === undefined ? journal.nextOccurrence("workflow::input") : ++step.inputs
    const inputId = inputIdOf(address, occurrence, n)
    const codec = Schema.toCodecJson(options.answer) as unknown as Schema.Codec<S["Type"], Schema.Json>
    const decodeExit = Schema.decodeUnknownExit(codec)
    const decoded = (value: Schema.Json) =>
      Effect.suspend(() => {
        const exit = decodeExit(value)
        return Exit.isSuccess(exit)
          ? Effect.succeed(exit.value)
          : Effect.die(new Error(`The journaled answer to ${inputId} (${address}) no longer decodes: ${String(exit.cause)}`))
      })
    const known = journal.input(inputId)
    if (known?.answer !== undefined) return yield* decoded(known.answer.value)

    const now = yield* Clock.currentTimeMillis
    const encode = Schema.encodeSync(codec)
    const request: InputRequest = known?.request ?? {
      inputId,
      address,
      occurrence,
      kind,
      prompt: options.prompt,
      answer: SchemaRepresentation.toJson(SchemaRepresentation.toRepresentation(SchemaAST.toEncoded(codec.ast))),
      jsonSchema: SchemaRepresentation.toJsonSchemaDocument(
        SchemaRepresentation.toRepresentation(SchemaAST.toEncoded(codec.ast))
      ).schema as Schema.Json,
      ...(options.choices === undefined ? {} : { choices: options.choices.map((c) => encode(c)) }),
      ...(options.deadline === undefined
        ? {}
        : { deadline: isoOf(now + Duration.toMillis(Duration.fromInputUnsafe(options.deadline))) }),
      ...(options.default === undefined ? {} : { default: encode(options.default) }),
      ...(tool === undefined ? {} : { tool: tool.tool, toolInput: tool.input })
    }
    yield* journal.ask(request, step?.attempt ?? 1)

    // The step checks an answer with the Schema itself (and the choices), before it is journaled.
    const check = (value: Schema.Json): string | undefined => {
      const exit = decodeExit(value)
      if (Exit.isFailure(exit)) {
        return firstLine(String(Exit.findErrorOption(exit).pipe((o) => o._tag === "Some" ? o.value.message : "invalid")))
      }
      return notAChoice(request, value)
    }

    // An answer the resume brought: taken now if it is good; otherwise it is refused, and the
    // question is asked again.
    const offer = journal.offered(inputId)
    if (offer !== undefined) {
      const refused = check(offer.value)
      if (refused === undefined) {
        yield* journal.answer(inputId, offer.value, { answeredBy: offer.answeredBy })
      } else {
        yield* bus.publish({
          _tag: "InputEvent",
          stateId: journal.stateId,
          inputId,
          address,
          status: "rejected",
          timestamp: isoOf(yield* Clock.currentTimeMillis),
          message: refused
        })
      }
    }
    const answered = journal.input(inputId)?.answer
    if (answered !== undefined) return yield* decoded(answered.value)

    // waiting before the question is announced: an answer given the moment it is seen is checked
    const waiter = yield* Effect.forkChild(journal.awaitAnswer(inputId, check), { startImmediately: true })
    yield* bus.publish({
      _tag: "ExecutionEvent",
      stateId: journal.stateId,
      address,
      actor: step?.actor ?? "workflow",
      kind: step?.kind ?? "agent",
      status: kind === "approval" ? "human_intervention" : "awaiting",
      occurrence,
      attempt: step?.attempt ?? 1,
      timestamp: isoOf(yield* Clock.currentTimeMillis),
      message: request.prompt,
      input: request
    })

    const waiting = Fiber.join(waiter)
    if (request.deadline === undefined) return yield* Effect.flatMap(waiting, (a) => decoded(a.value))
    const deadline = request.deadline
    const remaining = Math.max(0, Date.parse(deadline) - (yield* Clock.currentTimeMillis))
    const onDeadline: Effect.Effect<never, ExecutionInterrupted> = request.default !== undefined
      ? Effect.andThen(journal.answer(inputId, request.default, { answeredBy: "deadline", defaulted: true }), Effect.never)
      : Effect.andThen(
        state.requestInterrupt({
          reason: "timeout",
          message: `No answer to ${JSON.stringify(request.prompt)} by ${deadline}`,
          triggeredBy: "deadline"
        }),
        Effect.andThen(state.checkInterrupt, Effect.never)
      )
    const answer = yield* Effect.raceFirst(waiting, Effect.andThen(Effect.sleep(remaining), onDeadline))
    return yield* decoded(answer.value)
  })

/**
 * Asks a person and waits for the answer, inside a step's handler (or a run's program): journals the
 * question, publishes an `awaiting` event carrying it (`✋ waiting for you: …`), and suspends; the
 * run's status is `awaiting` meanwhile. Returns the answer, decoded with `answer`.
 *
 * **Details**
 *
 * - The answer comes through `Executions.answer` (library), `agent-interrupt answer` (CLI), `POST
 *   /api/executions/:id/inputs/:inputId` (HTTP) or the page, from any process; it is journaled before
 *   the run goes on. Answers are matched by input id, never by position, so parallel branches may
 *   ask at once and be answered in any order.
 * - On a later attempt the same question (same step, same occurrence, same order in the handler) has
 *   the same id: its journaled answer is returned at once, or it is asked again.
 * - An interrupt while waiting ends the run at once; the question stays pending in the journal.
 *
 * **Example** (Ask which source to trust)
 *
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Actor, awaitInput } from "agent-interrupt"
 *
 * const pick = Actor.agent("pick", (sources: ReadonlyArray<string>) =>
 *   awaitInput({ prompt: "Which source should I trust?", answer: Schema.String, choices: sources }))
 * ```
 *
 * @category constructors
 * @since 0.2.0
 */
export const awaitInput = <S extends Schema.Top>(
  options: AwaitInputOptions<S>
): Effect.Effect<S["Type"], ExecutionInterrupted, ExecutionState | EventBus | Journal> => ask("input", options)

/**
 * Asks a person whether a tool may run (`human_intervention`), and waits: `{ approved: true }` or
 * `{ approved: false, reason }`. An approval is an input like any other (`approve` / `reject` answer
 * it); what to do with a rejection is the caller's.
 *
 * **Example** (Approve before publishing)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Actor, requireApproval } from "agent-interrupt"
 *
 * const publish = Actor.tool("publish", (text: string) =>
 *   Effect.gen(function*() {
 *     const approval = yield* requireApproval({ tool: "publish", input: text })
 *     return approval.approved ? `published: ${text}` : `not published (${approval.reason ?? "rejected"})`
 *   }))
 * ```
 *
 * @category constructors
 * @since 0.2.0
 */
export const requireApproval = (
  options: ApprovalOptions
): Effect.Effect<Approval, ExecutionInterrupted, ExecutionState | EventBus | Journal> =>
  ask("approval", {
    prompt: options.prompt ?? `Approve ${options.tool} with ${JSON.stringify(options.input)}?`,
    answer: Approval,
    ...(options.deadline === undefined ? {} : { deadline: options.deadline }),
    ...(options.default === undefined ? {} : { default: options.default })
  }, { tool: options.tool, input: options.input })
