/**
 * Language-model calls as execution events, over Effect's `LanguageModel` (`effect/ai`).
 *
 * This module holds the `llm` actor (`actor`: one streamed model call whose text arrives live on the
 * bus, whose result records the text, the finish reason and the tokens used, and whose HTTP request is
 * aborted by an interrupt), the tool loop (`agent`: model calls and `tool_call` events, round by round,
 * with approvals for the tools that need one), their results, the convention for usage streamed by a
 * provider, and a simulated model (`layerSimulated`) that streams canned text through the same code
 * path as a real provider.
 *
 * The provider comes from the context (`LanguageModel.LanguageModel`): `OpenAiCompat.layer` for any
 * OpenAI-compatible server, `layerSimulated` offline, or any `effect/ai` provider layer.
 *
 * @since 0.3.0
 */
import { Clock, Duration, Effect, Layer, Option, Predicate, Schema, Stream } from "effect"
import { AiError, LanguageModel, type Prompt, Response, type Tool, type Toolkit } from "effect/ai"
import { FetchHttpClient } from "effect/http"
import * as Actor from "./Actor.ts"
import { Budget } from "./Budget.ts"
import { CurrentPartialOutput, runEvent } from "./Event.ts"
import { EventBus, TokenUsage } from "./EventBus.ts"
import type { Execution } from "./ExecutionState.ts"
import { type Approval, requireApproval } from "./Input.ts"
import { isoOf } from "./internal/time.ts"
import type { ExecutionInterrupted } from "./Interrupt.ts"
import type { RetryOptions } from "./Retry.ts"

// -----------------------------------------------------------------------------
// Models
// -----------------------------------------------------------------------------

/**
 * A tool call the model asked for: its id, the tool's name and the (encoded, JSON) parameters.
 *
 * @category models
 * @since 0.3.0
 */
export const ToolCall = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  params: Schema.Json
})

/**
 * @category models
 * @since 0.3.0
 */
export interface ToolCall extends Schema.Schema.Type<typeof ToolCall> {}

/**
 * What one language-model call produced: its text, why it finished (`stop`, `length`, `tool-calls`,
 * ...: `effect/ai`'s `FinishReason`), the tokens it used, the model that answered (when the provider
 * says) and the tool calls it asked for. The result of a `completed` `llm_call` event, journaled and
 * replayed on resume.
 *
 * @category models
 * @since 0.3.0
 */
export const LlmResult = Schema.Struct({
  text: Schema.String,
  finishReason: Response.FinishReason,
  usage: TokenUsage,
  model: Schema.optionalKey(Schema.String),
  toolCalls: Schema.optionalKey(Schema.Array(ToolCall))
})

/**
 * @category models
 * @since 0.3.0
 */
export interface LlmResult extends Schema.Schema.Type<typeof LlmResult> {}

/**
 * What an {@link agent} produced: the model's last answer, its finish reason, the tokens of all its
 * rounds together, and how many model calls (rounds) it took.
 *
 * @category models
 * @since 0.3.0
 */
export const AgentResult = Schema.Struct({
  text: Schema.String,
  finishReason: Response.FinishReason,
  usage: TokenUsage,
  rounds: Schema.Int
})

/**
 * @category models
 * @since 0.3.0
 */
export interface AgentResult extends Schema.Schema.Type<typeof AgentResult> {}

/**
 * What a tool call returned to the model: its (encoded) result, or the failure the model is told of.
 *
 * @category models
 * @since 0.3.0
 */
export const ToolOutcome = Schema.Struct({
  isFailure: Schema.Boolean,
  result: Schema.Json
})

/**
 * @category models
 * @since 0.3.0
 */
export interface ToolOutcome extends Schema.Schema.Type<typeof ToolOutcome> {}

/**
 * An agent's model was still asking for tools after its last allowed round.
 *
 * @category errors
 * @since 0.3.0
 */
export class TooManyToolRounds extends Schema.TaggedError<TooManyToolRounds>("agent-interrupt/TooManyToolRounds")(
  "TooManyToolRounds",
  { agent: Schema.String, maxRounds: Schema.Int }
) {
  override get message(): string {
    return `Agent ${this.agent} was still calling tools after ${this.maxRounds} rounds: raise maxRounds or change the prompt`
  }
}

// -----------------------------------------------------------------------------
// Streamed usage
// -----------------------------------------------------------------------------

/**
 * The key of a stream part's `metadata` under which a provider puts the usage of the call so far
 * (a `TokenUsage`), when it streams usage (some OpenAI-compatible servers send it with every chunk).
 * The llm actor charges budgets from it; without it, it counts one output token per text delta until
 * the final usage comes.
 *
 * @category streamed usage
 * @since 0.3.0
 */
export const usageMetadataKey = "agent-interrupt/usage"

/**
 * The `metadata` of a stream part that carries the usage so far.
 *
 * @category streamed usage
 * @since 0.3.0
 */
export const streamedUsage = (usage: TokenUsage): Response.ProviderMetadata => ({
  [usageMetadataKey]: { inputTokens: usage.inputTokens, outputTokens: usage.outputTokens }
})

const isTokenUsage = Schema.is(TokenUsage)

const usageOfPart = (part: { readonly metadata: Response.ProviderMetadata }): TokenUsage | undefined => {
  const value = part.metadata[usageMetadataKey]
  return isTokenUsage(value) ? value : undefined
}

/**
 * The tokens of a `Response.Usage` (what a `finish` part reports): totals, else the parts that add up
 * to them; `undefined` for a count the provider did not report.
 *
 * @category streamed usage
 * @since 0.3.0
 */
export const fromResponseUsage = (usage: Response.Usage): {
  readonly inputTokens: number | undefined
  readonly outputTokens: number | undefined
} => {
  const input = usage.inputTokens
  const output = usage.outputTokens
  const inputParts = [input.uncached, input.cacheRead, input.cacheWrite].filter(Predicate.isNotUndefined)
  const outputParts = [output.text, output.reasoning].filter(Predicate.isNotUndefined)
  return {
    inputTokens: input.total ?? (inputParts.length > 0 ? inputParts.reduce((a, b) => a + b, 0) : undefined),
    outputTokens: output.total ?? (outputParts.length > 0 ? outputParts.reduce((a, b) => a + b, 0) : undefined)
  }
}

// -----------------------------------------------------------------------------
// The llm actor
// -----------------------------------------------------------------------------

/**
 * Options of {@link actor}: the actor's options (retry, conditions, input Schema, description), and:
 *
 * **Details**
 *
 * - `toolkit`: tools offered to the model; its tool calls are returned in `toolCalls`, not run (an
 *   {@link agent} runs them). Default: none.
 * - `toolChoice`: `auto` (default), `none`, `required`, or `{ tool: name }`.
 * - `model`: the model id budgets price the call at when the provider does not name the model.
 * - `retry`: as for any actor; by default an `llm` call is tried 3 times, and an `AiError` the provider
 *   calls not retryable (a bad key, a bad request) is not retried.
 *
 * @category options
 * @since 0.3.0
 */
export interface LlmOptions<I, Tools extends Record<string, Tool.Any> = {}, E = never, R = never>
  extends Omit<Actor.ActorOptions<I, LlmResult, E, R>, "output">
{
  readonly toolkit?: Toolkit.Toolkit<Tools> | undefined
  readonly toolChoice?: LanguageModel.ToolChoice<Extract<keyof Tools, string>> | undefined
  readonly model?: string | undefined
}

/**
 * What a prompt function may return: a prompt (`effect/ai`'s `Prompt.RawInput`: a string, messages,
 * or a `Prompt`), or an effect of one.
 *
 * @category models
 * @since 0.3.0
 */
export type PromptOf<E = never, R = never> = Prompt.RawInput | Effect.Effect<Prompt.RawInput, E, R>

/**
 * Whether an error of a model call is worth retrying: an `AiError` says so itself (`isRetryable`);
 * anything else is.
 *
 * @category predicates
 * @since 0.3.0
 */
export const isRetryable = (error: unknown): boolean => !AiError.isAiError(error) || error.isRetryable

const truncated = (method: string) =>
  AiError.make({
    module: "Llm",
    method,
    reason: new AiError.InternalProviderError({
      description: "the answer ended without a finish part (the stream was cut short)"
    })
  })

/**
 * One language-model call as an `llm` actor: `prompt` builds the prompt from the input, and the call
 * streams the answer with `LanguageModel.streamText` from the provider in context.
 *
 * **Details**
 *
 * - Each text delta is recorded as the event's partial output and published on the bus as an
 *   `OutputDelta` (printers and pages show it as it arrives).
 * - The `completed` event's result is an {@link LlmResult} — text, finish reason, usage — journaled:
 *   a resumed run gets it back without a request to the provider.
 * - The tokens used so far are recorded as they grow (the provider's streamed usage, else one output
 *   token per delta, then the final usage) and charged to the `Budget` in context, if any: crossing it
 *   interrupts the execution (`resource_limit`) at that delta.
 * - An interrupt interrupts the handler, which aborts the provider's HTTP request (its socket closes:
 *   no more tokens are generated); the `interrupted` event keeps the streamed text as its partial
 *   output and the usage known so far, both journaled. An interrupted call runs again on resume.
 * - An answer that ends without a `finish` part (a cut connection) fails, retryably.
 *
 * **Example** (A streamed summary)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Llm, runEvent } from "agent-interrupt"
 *
 * const summarise = Llm.actor("summarise", (topic: string) => `Summarise ${topic} in one sentence.`)
 * const program = runEvent(summarise, "interrupts").pipe(
 *   Effect.provide(Llm.layerSimulated({ reply: () => "Stop at once, keep the work." }))
 * )
 * // => { text: "Stop at once, keep the work.", finishReason: "stop", usage: { inputTokens: 5, outputTokens: 6 }, ... }
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const actor = <I, Tools extends Record<string, Tool.Any> = {}, E = never, R = never>(
  name: string,
  prompt: (input: I, ctx: Actor.HandlerContext) => PromptOf<E, R>,
  options: LlmOptions<I, Tools, E, R> = {}
): Actor.Actor<I, LlmResult, E | AiError.AiError, R | LanguageModel.LanguageModel> => {
  const { model, toolChoice, toolkit, ...actorOptions } = options
  return Actor.llm<I, LlmResult, E | AiError.AiError, R | LanguageModel.LanguageModel>(
    name,
    (input, ctx) =>
      Effect.flatMap(
        Effect.suspend(() => {
          const raw = prompt(input, ctx)
          return Effect.isEffect(raw) ? raw : Effect.succeed(raw)
        }),
        (built) => streamCall(built, ctx, { model, toolChoice, toolkit })
      ),
    {
      ...actorOptions,
      output: LlmResult,
      retry: { retryOn: isRetryable, ...actorOptions.retry }
    } as Actor.ActorOptions<I, LlmResult, E | AiError.AiError, R | LanguageModel.LanguageModel>
  )
}

interface CallOptions {
  readonly model: string | undefined
  readonly toolChoice: LanguageModel.ToolChoice<string> | undefined
  readonly toolkit: Toolkit.Any | undefined
}

// The stream of one call, with tools offered but never run here (an agent runs them as events).
const partsOf = (
  lm: LanguageModel.LanguageModel,
  prompt: Prompt.RawInput,
  options: CallOptions
): Stream.Stream<Response.StreamPart<{}, "deferred">, AiError.AiError> =>
  options.toolkit === undefined
    ? lm.streamText({ prompt })
    // The toolkit's handlers are never looked up with resolution disabled: only its tool definitions
    // are sent. The toolkit's type is erased here (its tools are named by the caller's options).
    : (lm.streamText({
      prompt,
      toolkit: options.toolkit as unknown as Toolkit.WithHandler<{}>,
      disableToolCallResolution: true,
      ...(options.toolChoice === undefined ? {} : { toolChoice: options.toolChoice as LanguageModel.ToolChoice<never> })
    }) as Stream.Stream<Response.StreamPart<{}, "deferred">, AiError.AiError>)

const streamCall = (
  prompt: Prompt.RawInput,
  ctx: Actor.HandlerContext,
  options: CallOptions
): Effect.Effect<LlmResult, AiError.AiError, LanguageModel.LanguageModel> =>
  Effect.gen(function*() {
    const lm = yield* LanguageModel.LanguageModel
    const bus = Option.getOrUndefined(yield* Effect.serviceOption(EventBus))
    const budget = Option.getOrUndefined(yield* Effect.serviceOption(Budget))
    const recorder = yield* CurrentPartialOutput
    const clock = yield* Clock.Clock

    let text = ""
    let deltas = 0
    let finishReason: Response.FinishReason | undefined
    let model = options.model
    let streamed: TokenUsage | undefined
    let final: TokenUsage | undefined
    let charged: TokenUsage = { inputTokens: 0, outputTokens: 0 }
    const toolCalls: Array<ToolCall> = []

    // The usage known now: the final usage once it came, else what the provider streamed, else one
    // output token per delta.
    const current = (): TokenUsage =>
      final ?? streamed ?? { inputTokens: 0, outputTokens: deltas }

    // Records the usage now, synchronously with the output it goes with (an interrupt may come at
    // the next step), and returns the budget charge of what it added.
    const account = (): Effect.Effect<void> => {
      const usage = current()
      recorder?.recordUsage?.(usage)
      if (budget === undefined) return Effect.void
      const increment: TokenUsage = {
        inputTokens: Math.max(0, usage.inputTokens - charged.inputTokens),
        outputTokens: Math.max(0, usage.outputTokens - charged.outputTokens)
      }
      charged = {
        inputTokens: Math.max(usage.inputTokens, charged.inputTokens),
        outputTokens: Math.max(usage.outputTokens, charged.outputTokens)
      }
      return budget.charge(increment, model)
    }

    const onPart = (part: Response.StreamPart<{}, "deferred">): Effect.Effect<void, AiError.AiError> => {
      switch (part.type) {
        case "response-metadata": {
          if (part.modelId !== undefined) model = part.modelId
          return Effect.void
        }
        case "text-delta": {
          if (part.delta === "") return Effect.void
          text += part.delta
          deltas++
          streamed = usageOfPart(part) ?? streamed
          recorder?.record(part.delta)
          const charge = account()
          const published = bus === undefined ? Effect.void : bus.publish({
            _tag: "OutputDelta",
            stateId: ctx.stateId,
            address: ctx.address,
            occurrence: ctx.occurrence,
            attempt: ctx.attempt,
            timestamp: isoOf(clock.currentTimeMillisUnsafe()),
            delta: part.delta
          })
          // published first: the delta that crosses a budget is part of the output
          return Effect.andThen(published, charge)
        }
        case "reasoning-delta": {
          deltas++
          streamed = usageOfPart(part) ?? streamed
          return account()
        }
        case "tool-call": {
          toolCalls.push({ id: part.id, name: part.name, params: part.params as Schema.Json })
          return Effect.void
        }
        case "finish": {
          finishReason = part.reason
          const reported = fromResponseUsage(part.usage)
          const known = current()
          final = {
            inputTokens: reported.inputTokens ?? known.inputTokens,
            outputTokens: reported.outputTokens ?? known.outputTokens
          }
          return account()
        }
        case "error":
          return Effect.fail(
            AiError.isAiError(part.error) ? part.error : AiError.make({
              module: "Llm",
              method: "actor",
              reason: new AiError.UnknownError({ description: String(part.error) })
            })
          )
        default: {
          const usage = "metadata" in part ? usageOfPart(part) : undefined
          if (usage === undefined) return Effect.void
          streamed = usage
          return account()
        }
      }
    }

    // The handler's AbortSignal aborts the moment the interrupt is requested (before its fiber is
    // interrupted): tied to the request, a fetch-based client aborts it at that moment.
    const fetch = yield* FetchHttpClient.Fetch
    const signal = ctx.signal
    const linked: typeof globalThis.fetch = (input, init) =>
      fetch(input, { ...init, signal: init?.signal == null ? signal : AbortSignal.any([init.signal, signal]) })
    yield* Stream.runForEach(partsOf(lm, prompt, options), onPart).pipe(
      Effect.provideService(FetchHttpClient.Fetch, linked)
    )
    if (finishReason === undefined) return yield* truncated("actor")
    return {
      text,
      finishReason,
      usage: current(),
      ...(model === undefined ? {} : { model }),
      ...(toolCalls.length === 0 ? {} : { toolCalls })
    }
  })

// -----------------------------------------------------------------------------
// The tool loop
// -----------------------------------------------------------------------------

/**
 * What a person is asked about a tool call that needs approval.
 *
 * @category models
 * @since 0.3.0
 */
export interface ToolApprovalRequest {
  /** The agent whose model asked for the call. */
  readonly agent: string
  readonly tool: string
  readonly callId: string
  readonly params: Schema.Json
}

/**
 * The one place where an agent asks a person to approve a tool call marked `needsApproval`: a
 * `requireApproval` (human in the loop) naming the tool and its parameters. The run waits (it may be
 * parked meanwhile); on a later attempt the journaled answer is returned at once.
 *
 * @category tools
 * @since 0.3.0
 */
export const requestToolApproval = (
  request: ToolApprovalRequest
): Effect.Effect<Approval, ExecutionInterrupted, Execution> =>
  requireApproval({
    tool: request.tool,
    input: request.params,
    prompt: `Allow ${request.agent} to call ${request.tool} with ${JSON.stringify(request.params)}?`
  })

/**
 * Per-tool options of an {@link agent}.
 *
 * **Details**
 *
 * - `needsApproval`: ask a person before each call of this tool (default `false`).
 * - `retry`: retry options of its `tool_call` events (default: the `tool` kind's, 3 attempts).
 *
 * @category options
 * @since 0.3.0
 */
export interface ToolOptions {
  readonly needsApproval?: boolean | undefined
  readonly retry?: RetryOptions | undefined
}

/**
 * Options of {@link agent}.
 *
 * **Details**
 *
 * - `toolkit`: the tools the model may call, with their handlers in context (`toolkit.toLayer(...)`).
 * - `tools`: per-tool options, by name: `needsApproval`, `retry`.
 * - `maxRounds`: the most model calls (default 10); a model still asking for tools after the last one
 *   fails the agent with `TooManyToolRounds`.
 * - `llm`: the name of the model calls' actor (default `model`: events at `<agent>::model::llm_call`).
 * - `model`, `toolChoice`, `retry`: options of the model calls (see {@link LlmOptions}).
 * - `description`: for printers and UIs.
 *
 * @category options
 * @since 0.3.0
 */
export interface AgentOptions<Tools extends Record<string, Tool.Any>> {
  readonly toolkit: Toolkit.Toolkit<Tools>
  readonly tools?: { readonly [Name in keyof Tools]?: ToolOptions | undefined } | undefined
  readonly maxRounds?: number | undefined
  readonly llm?: string | undefined
  readonly model?: string | undefined
  readonly toolChoice?: LanguageModel.ToolChoice<Extract<keyof Tools, string>> | undefined
  readonly retry?: RetryOptions | undefined
  readonly description?: string | undefined
}

const toMessages = (raw: Prompt.RawInput | ReadonlyArray<Prompt.MessageEncoded>): Array<Prompt.MessageEncoded> =>
  typeof raw === "string" ? [{ role: "user", content: raw }] : Array.from(raw as Iterable<Prompt.MessageEncoded>)

/**
 * A tool-using agent: an `agent` actor that calls the model (an `llm` event per round), runs the tool
 * calls it asks for as `tool_call` events (`<agent>::<Tool>::tool_call`), hands their results back,
 * and repeats until the model answers without calling a tool.
 *
 * **Details**
 *
 * - Tool calls run one after the other, in the order the model gave them: journaled with their
 *   idempotency keys, interruptible, retried per the tool's policy.
 * - A tool marked `needsApproval` waits for a person's approval first (`requestToolApproval`); a
 *   rejected call is reported to the model as a failure (with the person's reason) and never runs.
 * - Resume replays every completed round and tool call from the journal: the model is asked again only
 *   from the round that was interrupted, with the same history, so no completed call is paid for or
 *   run twice.
 * - The prompt is a string or messages (`Prompt.MessageEncoded`), so each round's history is JSON.
 *
 * @category constructors
 * @since 0.3.0
 */
export const agent = <I, Tools extends Record<string, Tool.Any>, E = never, R = never>(
  name: string,
  prompt: (
    input: I,
    ctx: Actor.HandlerContext
  ) => string | ReadonlyArray<Prompt.MessageEncoded> | Effect.Effect<string | ReadonlyArray<Prompt.MessageEncoded>, E, R>,
  options: AgentOptions<Tools>
): Actor.Actor<
  I,
  AgentResult,
  | E
  | AiError.AiError
  | TooManyToolRounds
  | Tool.HandlerError<Tools[keyof Tools]>
  | ExecutionInterrupted
  | Actor.ActorContractError,
  R | LanguageModel.LanguageModel | Tool.HandlersFor<Tools> | Tool.HandlerServices<Tools[keyof Tools]> | Execution
> => {
  const maxRounds = Math.max(1, Math.floor(options.maxRounds ?? 10))
  const rounds = actor<ReadonlyArray<Prompt.MessageEncoded>, Tools>(options.llm ?? "model", (messages) => messages, {
    toolkit: options.toolkit,
    toolChoice: options.toolChoice,
    model: options.model,
    retry: options.retry,
    description: `the model calls of ${name}`
  })
  type HandlerFailure = Tool.HandlerError<Tools[keyof Tools]> | AiError.AiError
  type HandlerNeeds = Tool.HandlerServices<Tools[keyof Tools]>

  return Actor.agent(name, (input: I, ctx) =>
    Effect.gen(function*() {
      const raw = prompt(input, ctx)
      let messages = toMessages(Effect.isEffect(raw) ? yield* raw : raw)
      const toolkit = yield* options.toolkit
      const usage = { inputTokens: 0, outputTokens: 0 }

      const runTool = (call: ToolCall) =>
        Effect.gen(function*() {
          if (!Object.hasOwn(toolkit.tools, call.name)) {
            return { isFailure: true, result: `No tool named ${call.name}` } satisfies ToolOutcome
          }
          const toolOptions: ToolOptions | undefined = options.tools?.[call.name as keyof Tools]
          if (toolOptions?.needsApproval === true) {
            const verdict = yield* requestToolApproval({
              agent: name,
              tool: call.name,
              callId: call.id,
              params: call.params
            })
            if (!verdict.approved) {
              return {
                isFailure: true,
                result: `A person rejected this call of ${call.name}${verdict.reason === undefined ? "" : `: ${verdict.reason}`}`
              } satisfies ToolOutcome
            }
          }
          const tool = Actor.tool<Schema.Json, ToolOutcome, HandlerFailure, HandlerNeeds>(call.name, (params) =>
            Effect.flatMap(
              // the model's name and encoded parameters, as the toolkit's `handle` takes them
              (toolkit.handle as (
                name: string,
                params: unknown,
                toolCallId?: string
              ) => Effect.Effect<
                Stream.Stream<Tool.HandlerResult<Tools[keyof Tools]>, HandlerFailure, HandlerNeeds>,
                AiError.AiError,
                HandlerNeeds
              >)(call.name, params, call.id),
              (results) =>
                Effect.map(
                  Stream.runLast(Stream.filter(results, (r) => !r.preliminary)),
                  (last) =>
                    Option.match(last, {
                      onNone: () => ({ isFailure: true, result: `${call.name} returned nothing` }),
                      onSome: (r) => ({ isFailure: r.isFailure, result: r.encodedResult as Schema.Json })
                    })
                )
            ), { output: ToolOutcome, ...(toolOptions?.retry === undefined ? {} : { retry: toolOptions.retry }) })
          return yield* runEvent(tool, call.params)
        })

      for (let round = 1;; round++) {
        const answer = yield* runEvent(rounds, messages)
        usage.inputTokens += answer.usage.inputTokens
        usage.outputTokens += answer.usage.outputTokens
        const calls = answer.toolCalls ?? []
        if (calls.length === 0) {
          return { text: answer.text, finishReason: answer.finishReason, usage: { ...usage }, rounds: round }
        }
        if (round >= maxRounds) return yield* new TooManyToolRounds({ agent: name, maxRounds })
        const outcomes: Array<ToolOutcome> = []
        for (const call of calls) outcomes.push(yield* runTool(call))
        messages = [
          ...messages,
          {
            role: "assistant",
            content: [
              ...(answer.text === "" ? [] : [{ type: "text" as const, text: answer.text }]),
              ...calls.map((call) => ({ type: "tool-call" as const, id: call.id, name: call.name, params: call.params }))
            ]
          },
          {
            role: "tool",
            content: calls.map((call, i) => ({
              type: "tool-result" as const,
              id: call.id,
              name: call.name,
              isFailure: outcomes[i]!.isFailure,
              result: outcomes[i]!.result
            }))
          }
        ]
      }
    }), { output: AgentResult, ...(options.description === undefined ? {} : { description: options.description }) })
}

// -----------------------------------------------------------------------------
// The simulated model
// -----------------------------------------------------------------------------

/**
 * What the simulated model answers: text, and tool calls to ask for.
 *
 * @category simulated
 * @since 0.3.0
 */
export interface SimulatedReply {
  readonly text?: string | undefined
  readonly toolCalls?: ReadonlyArray<{ readonly name: string; readonly params: Schema.Json }> | undefined
}

/**
 * Options of {@link layerSimulated}.
 *
 * **Details**
 *
 * - `reply`: the answer to a prompt (text, or a {@link SimulatedReply}); it is streamed one word at a
 *   time (each word with the spaces after it).
 * - `delay`: the wait before each word (default 0); `firstTokenDelay`: before the first one instead
 *   (default `delay`). Both are `Effect.sleep`s: `TestClock` drives them in tests.
 * - `model`: the model id it reports (default `simulated`).
 *
 * Usage: one input token per word of the prompt, one output token per word streamed (plus one per tool
 * call), reported with every word (as streamed usage) and at the end.
 *
 * @category options
 * @since 0.3.0
 */
export interface SimulatedOptions {
  readonly reply: (prompt: Prompt.Prompt) => string | SimulatedReply
  readonly delay?: Duration.Input | undefined
  readonly firstTokenDelay?: Duration.Input | undefined
  readonly model?: string | undefined
}

/**
 * The words of a text as a model would stream them: each with the whitespace after it (leading
 * whitespace goes with the first).
 *
 * @category simulated
 * @since 0.3.0
 */
export const words = (text: string): Array<string> => {
  const found = text.match(/\s*\S+\s*/g) ?? []
  return found.length === 0 && text !== "" ? [text] : found
}

// The text of a prompt, for counting its tokens.
const promptText = (prompt: Prompt.Prompt): string =>
  prompt.content.map((message) => {
    if (message.role === "system") return message.content
    return message.content.map((part) => {
      switch (part.type) {
        case "text":
          return part.text
        case "tool-call":
          return JSON.stringify(part.params)
        case "tool-result":
          return JSON.stringify(part.result)
        default:
          return ""
      }
    }).join(" ")
  }).join(" ")

const countWords = (text: string): number => text.split(/\s+/).filter((w) => w !== "").length

/**
 * A `LanguageModel` that streams canned answers with delays and reports usage, built with
 * `LanguageModel.make`: the same code path (`LanguageModel.streamText`, part decoding) as a real
 * provider. For offline demos and tests.
 *
 * @category simulated
 * @since 0.3.0
 */
export const makeSimulated = (options: SimulatedOptions): Effect.Effect<LanguageModel.LanguageModel> => {
  const modelId = options.model ?? "simulated"
  const delay = Duration.fromInputUnsafe(options.delay ?? 0)
  const firstDelay = options.firstTokenDelay === undefined ? delay : Duration.fromInputUnsafe(options.firstTokenDelay)

  const script = (providerOptions: LanguageModel.ProviderOptions) => {
    const answer = options.reply(providerOptions.prompt)
    const reply: SimulatedReply = typeof answer === "string" ? { text: answer } : answer
    const tokens = words(reply.text ?? "")
    const calls = reply.toolCalls ?? []
    const input = Math.max(1, countWords(promptText(providerOptions.prompt)))
    const usage = (output: number): typeof Response.Usage.Encoded => ({
      inputTokens: { total: input, uncached: input },
      outputTokens: { total: output, text: output }
    })
    const parts: Array<Response.StreamPartEncoded> = [{ type: "response-metadata", modelId }]
    if (tokens.length > 0) {
      parts.push({ type: "text-start", id: "text" })
      tokens.forEach((delta, i) =>
        parts.push({
          type: "text-delta",
          id: "text",
          delta,
          metadata: streamedUsage({ inputTokens: input, outputTokens: i + 1 })
        })
      )
      parts.push({ type: "text-end", id: "text" })
    }
    calls.forEach((call, i) => parts.push({ type: "tool-call", id: `call_${i + 1}`, name: call.name, params: call.params }))
    parts.push({
      type: "finish",
      reason: calls.length > 0 ? "tool-calls" : "stop",
      usage: usage(tokens.length + calls.length)
    })
    return parts
  }

  return LanguageModel.make({
    streamText: (providerOptions) =>
      Stream.suspend(() => {
        let first = true
        return Stream.mapEffect(Stream.fromIterable(script(providerOptions)), (part): Effect.Effect<Response.StreamPartEncoded> => {
          if (part.type !== "text-delta") return Effect.succeed(part)
          const wait = first ? firstDelay : delay
          first = false
          return Duration.isZero(wait) ? Effect.succeed(part) : Effect.as(Effect.sleep(wait), part)
        })
      }),
    generateText: (providerOptions) =>
      Effect.sync(() => {
        const parts = script(providerOptions)
        const text = parts.flatMap((p) => p.type === "text-delta" ? [p.delta] : []).join("")
        return [
          ...(text === "" ? [] : [{ type: "text" as const, text }]),
          ...parts.filter((p): p is Response.ToolCallPartEncoded | Response.FinishPartEncoded | Response.ResponseMetadataPartEncoded =>
            p.type === "tool-call" || p.type === "finish" || p.type === "response-metadata"
          )
        ]
      })
  })
}

/**
 * The simulated model as a layer.
 *
 * **Example** (Offline answers)
 *
 * ```ts
 * import { Llm } from "agent-interrupt"
 *
 * const offline = Llm.layerSimulated({ reply: () => "web, papers, news", delay: "90 millis" })
 * ```
 *
 * @category simulated
 * @since 0.3.0
 */
export const layerSimulated = (options: SimulatedOptions): Layer.Layer<LanguageModel.LanguageModel> =>
  Layer.effect(LanguageModel.LanguageModel, makeSimulated(options))
