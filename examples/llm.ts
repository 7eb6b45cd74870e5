import { Effect, Layer, Schema } from "effect"
import { Tool, Toolkit } from "effect/ai"
import { Budget, type BusEvent, Llm, Run, runEvent } from "agent-interrupt"

// A tool the model may call, and its handler.
const GetWeather = Tool.make("GetWeather", {
  description: "The weather in a city now",
  parameters: Schema.Struct({ city: Schema.String }),
  success: Schema.Struct({ city: Schema.String, celsius: Schema.Number, sky: Schema.String })
})
const Tools = Toolkit.make(GetWeather)
const ToolsLive = Tools.toLayer({ GetWeather: ({ city }) => Effect.succeed({ city, celsius: 21, sky: "sunny" }) })

// Offline: a simulated model streams its answer a word every 10 ms and reports usage, through the same
// LanguageModel code path as a real one (swap in OpenAiCompat.layer({ model, apiKey }) for that).
const model = Llm.layerSimulated({
  delay: "10 millis",
  reply: (prompt) =>
    prompt.content.some((message) => message.role === "tool")
      ? "Paris is sunny at 21 degrees: a fine day to stop an agent and resume it later."
      : { toolCalls: [{ name: "GetWeather", params: { city: "Paris" } }] }
})

// An agent: a model call, the tool call it asks for (a journaled tool_call event), a second model call.
const assistant = Llm.agent("assistant", (question: string) => question, { toolkit: Tools })

// The same question twice: with no limit, then with a budget of 25 tokens (crossed mid-answer).
const ask = (budget?: number) => {
  let partial: unknown
  const keepPartial = (event: BusEvent) =>
    Effect.sync(() => {
      if (event._tag === "ExecutionEvent" && event.status === "interrupted" && event.kind === "llm") {
        partial = event.partialOutput
      }
    })
  const question = runEvent(assistant, "What is the weather in Paris?").pipe(
    Effect.provide(Layer.merge(model, ToolsLive)),
    (asked) => budget === undefined ? asked : Effect.provide(asked, Budget.tokens(budget))
  )
  return Effect.map(Run.run(question, { subscribers: [keepPartial] }), (outcome) => ({ outcome, partial }))
}

export const program = Effect.gen(function*() {
  const free = yield* ask()
  const capped = yield* ask(25)
  return {
    answer: free.outcome._tag === "Completed" ? free.outcome.value.text : free.outcome._tag,
    tokens: free.outcome._tag === "Completed" ? free.outcome.value.usage : undefined,
    stopped: capped.outcome._tag === "Interrupted" ? capped.outcome.signal.message : capped.outcome._tag,
    kept: capped.partial
  }
})

// npm run example llm
if (import.meta.main) Effect.runPromise(program).then(console.log)
// => { answer: "Paris is sunny at 21 degrees: a fine day to stop an agent and resume it later.",
//      tokens: { inputTokens: 14, outputTokens: 18 },
//      stopped: "Token budget of 25 exceeded (26 used)",
//      kept: "Paris is sunny at 21 degrees: a fine day to stop " }
