/**
 * The llm actor against a provider's real client, over real HTTP on loopback: a fake OpenAI
 * chat-completions server (`test/utils/chatServer.ts`) answers, the test watches the bus and the
 * server. Run by every OpenAI-compatible client we support.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, type Layer, Schema, type Scope } from "effect"
import { type LanguageModel, Tool, Toolkit } from "effect/ai"
import {
  Budget,
  type BusEvent,
  CheckpointStore,
  EventBus,
  type ExecutionEvent,
  ExecutionInterrupted,
  ExecutionState,
  Journal,
  Llm,
  Run,
  runEvent
} from "../../src/index.ts"
import { answer, chatServer, type ChatServer, finish, type Step, text, toolCall, usage } from "../utils/chatServer.ts"

export interface ProviderCase {
  /** The model layer of the client under test, talking to `url`. */
  readonly layer: (url: string) => Layer.Layer<LanguageModel.LanguageModel>
  /** Whether the client passes the usage a server sends with each chunk on as streamed usage. */
  readonly streamsUsage: boolean
}

/** Latencies from the interrupt to the server seeing the socket close (ms), for the report. */
export const closeLatencies: Array<number> = []

const withState = Effect.provide(ExecutionState.layerWithBus({ stateId: "test" }))

/** Resolves once `n` output deltas were published on the bus. */
const deltasSeen = (n: number) =>
  Effect.gen(function*() {
    const bus = yield* EventBus
    const seen = yield* Deferred.make<void>()
    let count = 0
    yield* bus.subscribe((event) =>
      event._tag === "OutputDelta" && ++count === n ? Deferred.succeed(seen, undefined) : Effect.void
    )
    return Deferred.await(seen)
  })

const historyOf = Effect.flatMap(EventBus, (bus) => bus.history)
const executionOf = (events: ReadonlyArray<BusEvent>) =>
  events.filter((e): e is ExecutionEvent => e._tag === "ExecutionEvent")

const slowTokens = (n: number, prompt: number, streamUsage: boolean): ReadonlyArray<Step> =>
  Array.from({ length: n }, (_, i) => text(`tok${i} `, streamUsage ? { prompt, completion: i + 1 } : undefined))

/** A server for one test, its requests answered by `script`. */
const server = (script: Parameters<typeof chatServer>[0]): Effect.Effect<ChatServer, never, Scope.Scope> =>
  chatServer(script)

const summarise = Llm.actor("summarise", (topic: string) => `Summarise ${topic}`)

export const suite = (name: string, provider: ProviderCase) =>
  describe(`llm actor over ${name}`, () => {
    it.effect("streams the answer and completes with its text, finish reason and usage", () =>
      Effect.gen(function*() {
        const fixture = yield* server(() => answer("Hello, world!", 12))
        const result = yield* runEvent(summarise, "greetings").pipe(Effect.provide(provider.layer(fixture.url)))
        assert.deepStrictEqual(result, {
          text: "Hello, world!",
          finishReason: "stop",
          usage: { inputTokens: 12, outputTokens: 2 },
          model: "fixture"
        })
        assert.strictEqual(fixture.requests.length, 1)
        const body = fixture.requests[0]!.body
        assert.deepStrictEqual([body.model, body.stream, body.messages], [
          "fixture",
          true,
          [{ role: "user", content: "Summarise greetings" }]
        ])
        const completed = executionOf(yield* historyOf).at(-1)!
        assert.deepStrictEqual([completed.status, completed.usage], ["completed", { inputTokens: 12, outputTokens: 2 }])
      }).pipe(withState))

    it.effect("an interrupt mid-stream aborts the HTTP request: the server sees the socket close", () =>
      Effect.gen(function*() {
        // three tokens, then the model "thinks" until the client goes away
        const fixture = yield* server(() => [...slowTokens(3, 12, true), "hold"])
        const seen = yield* deltasSeen(3)
        const fiber = yield* Effect.forkChild(
          runEvent(summarise, "a long story").pipe(Effect.provide(provider.layer(fixture.url))),
          { startImmediately: true }
        )
        yield* seen
        const t0 = performance.now()
        yield* Effect.flatMap(ExecutionState, (s) => s.requestInterrupt({ reason: "user_cancelled" }))
        const error = yield* Effect.flip(Fiber.join(fiber))
        assert.instanceOf(error, ExecutionInterrupted)
        const closedAt = yield* Effect.promise(() => fixture.closed(0))
        closeLatencies.push(closedAt - t0)
        const interrupted = executionOf(yield* historyOf).at(-1)!
        assert.deepStrictEqual(
          [interrupted.status, interrupted.partialOutput, interrupted.usage],
          [
            "interrupted",
            "tok0 tok1 tok2 ",
            provider.streamsUsage ? { inputTokens: 12, outputTokens: 3 } : { inputTokens: 0, outputTokens: 3 }
          ]
        )
        const records = yield* Effect.flatMap(Journal, (j) => j.records)
        const step = records.find((r) => r._tag === "StepInterrupted")
        assert.deepStrictEqual(step?._tag === "StepInterrupted" ? [step.partialOutput, step.usage] : undefined, [
          "tok0 tok1 tok2 ",
          interrupted.usage
        ])
        assert.strictEqual(fixture.requests.length, 1)
      }).pipe(withState))

    it.effect("a token budget crossed mid-stream interrupts with resource_limit and aborts the request", () =>
      Effect.gen(function*() {
        const fixture = yield* server(() => [...slowTokens(10, 50, true), "hold"])
        // with streamed usage: 50 + 4 > 53; without, one token per delta: 4 > 3
        const max = provider.streamsUsage ? 53 : 3
        const used = provider.streamsUsage ? 54 : 4
        const error = yield* Effect.flip(
          runEvent(summarise, "a long story").pipe(
            Effect.provide(provider.layer(fixture.url)),
            Effect.provide(Budget.tokens(max))
          )
        )
        assert.instanceOf(error, ExecutionInterrupted)
        assert.deepStrictEqual([error.reason, error.message], [
          "resource_limit",
          `Token budget of ${max} exceeded (${used} used)`
        ])
        yield* Effect.promise(() => fixture.closed(0))
        const interrupted = executionOf(yield* historyOf).at(-1)!
        assert.deepStrictEqual([interrupted.status, interrupted.partialOutput], ["interrupted", "tok0 tok1 tok2 tok3 "])
      }).pipe(withState))

    it.effect("the model's tool calls run as tool_call events; their results go back in the next request", () =>
      Effect.gen(function*() {
        const fixture = yield* server((_, n) =>
          n === 0
            ? [
              toolCall(0, "call_1", "GetWeather", "{\"city\":\"Paris\"}"),
              finish("tool_calls"),
              usage(20, 8),
              "done"
            ]
            : answer("It is 21 degrees in Paris.", 30)
        )
        const ran: Array<string> = []
        const agent = Llm.agent("assistant", (q: string) => q, { toolkit: Tools })
        const result = yield* runEvent(agent, "Weather in Paris?").pipe(
          Effect.provide(provider.layer(fixture.url)),
          Effect.provide(Tools.toLayer({ GetWeather: ({ city }) => Effect.sync(() => (ran.push(city), { city, celsius: 21 })) }))
        )
        assert.deepStrictEqual(result, {
          text: "It is 21 degrees in Paris.",
          finishReason: "stop",
          usage: { inputTokens: 50, outputTokens: 8 + 6 },
          rounds: 2
        })
        assert.deepStrictEqual(ran, ["Paris"])
        assert.deepStrictEqual(
          executionOf(yield* historyOf).filter((e) => e.status === "completed").map((e) => e.address),
          ["assistant::model::llm_call", "assistant::GetWeather::tool_call", "assistant::model::llm_call", "assistant::agent_call"]
        )
        assert.strictEqual(fixture.requests.length, 2)
        const first = fixture.requests[0]!.body as { readonly tools?: ReadonlyArray<{ readonly function: { readonly name: string } }> }
        assert.deepStrictEqual(first.tools?.map((t) => t.function.name), ["GetWeather"])
        const followUp = fixture.requests[1]!.body.messages
        assert.deepStrictEqual(followUp.map((m) => m.role), ["user", "assistant", "tool"])
        assert.deepStrictEqual([followUp[2]!.tool_call_id, JSON.parse(String(followUp[2]!.content))], [
          "call_1",
          { city: "Paris", celsius: 21 }
        ])
      }).pipe(withState))

    it.effect("resume replays the completed llm call: no request reaches the server for it", () =>
      Effect.gen(function*() {
        // request 0: the plan (completes); request 1: the summary (interrupted); request 2: the summary again
        const fixture = yield* server((_, n) => n === 0 ? answer("web, papers", 8) : n === 1 ? [...slowTokens(2, 9, true), "hold"] : answer("All done.", 9))
        const plan = Llm.actor("plan", (topic: string) => `Plan ${topic}`)
        const program = Effect.gen(function*() {
          const planned = yield* runEvent(plan, "agents")
          const summary = yield* runEvent(summarise, planned.text)
          return [planned.text, summary.text]
        }).pipe(Effect.provide(provider.layer(fixture.url)))
        let deltas = 0
        let state: ExecutionState["Service"] | undefined
        const first = yield* Run.run(program, {
          stateId: "resumable",
          onStart: (execution) => Effect.sync(() => void (state = execution.state)),
          subscribers: [(event) =>
            event._tag === "OutputDelta" && event.address === "summarise::llm_call" && ++deltas === 2 && state !== undefined
              ? Effect.asVoid(state.requestInterrupt({ reason: "user_cancelled" }))
              : Effect.void]
        })
        assert.strictEqual(first._tag, "Interrupted")
        yield* Effect.promise(() => fixture.closed(1))
        assert.strictEqual(fixture.requests.length, 2)

        const events: Array<BusEvent> = []
        const second = yield* Run.resume("resumable", program, {
          subscribers: [(e) => Effect.sync(() => void events.push(e))]
        })
        assert.deepStrictEqual(second._tag === "Completed" ? second.value : second._tag, ["web, papers", "All done."])
        // one more request: the summary; the plan came back from the journal
        assert.strictEqual(fixture.requests.length, 3)
        assert.strictEqual(fixture.requests[2]!.body.messages[0]!.content, "Summarise web, papers")
        assert.deepStrictEqual(
          executionOf(events).map((e) => `${e.status} ${e.address}`),
          ["recovered plan::llm_call", "started summarise::llm_call", "completed summarise::llm_call"]
        )
      }).pipe(Effect.provide(CheckpointStore.layerMemory)))
  })

const GetWeather = Tool.make("GetWeather", {
  description: "The weather in a city",
  parameters: Schema.Struct({ city: Schema.String }),
  success: Schema.Struct({ city: Schema.String, celsius: Schema.Number })
})
const Tools = Toolkit.make(GetWeather)
