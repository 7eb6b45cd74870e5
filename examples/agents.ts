import { Effect, Schedule, Schema, Stream } from "effect"
import { Actor, ExecutionState, interruptible, parallel, runEvent, StopPolicy } from "agent-interrupt"

class SearchUnavailable extends Schema.TaggedError<SearchUnavailable>()("SearchUnavailable", {
  source: Schema.String
}) {}

// A tool: one search source. "news" fails once, then answers; tools retry 3 times by default.
let newsCalls = 0
const search = Actor.tool("search", (query: string, ctx) =>
  Effect.gen(function*() {
    yield* Effect.sleep("20 millis") // the network call; an interrupt preempts it here
    if (ctx.address.includes("news") && ++newsCalls === 1) {
      return yield* new SearchUnavailable({ source: "news" })
    }
    return [`${query}: result from ${ctx.path.at(-1)}`]
  }), { retry: { baseDelay: "10 millis" } })

// An llm call that streams tokens; `interruptible` ends the stream at the interrupt and records the
// tokens produced so far as the event's partial output.
const summarise = Actor.llm("summarise", (hits: ReadonlyArray<string>) =>
  interruptible(
    Stream.fromIterable(`Summary of ${hits.length} results.`.split(" ")).pipe(
      Stream.schedule(Schedule.spaced("5 millis")),
      Stream.map((word) => `${word} `)
    )
  ).pipe(Stream.runCollect, Effect.map((tokens) => tokens.join("").trim())))

// An agent: plans, searches three sources in parallel (two at a time), then summarises.
const planner = Actor.agent("planner", (topic: string) =>
  Effect.gen(function*() {
    const results = yield* parallel(
      ["web", "news", "papers"].map((source) => runEvent(search, topic, { tag: source })),
      { concurrency: 2, name: "search" }
    )
    const hits = results.flatMap((r) => (r.ok ? r.result ?? [] : []))
    return yield* runEvent(summarise, hits)
  }))

export const program = runEvent(planner, "interrupts").pipe(
  Effect.provide(ExecutionState.layerWithBus({
    stateId: "agents-example",
    // a shutdown lets running handlers finish for up to 5 s; a user stop aborts at once
    stopPolicy: { system_shutdown: StopPolicy.drain("5 seconds"), user_cancelled: StopPolicy.abort() }
  }))
)

// npm run example agents
if (import.meta.main) Effect.runPromise(program).then(console.log)
// => "Summary of 3 results."
