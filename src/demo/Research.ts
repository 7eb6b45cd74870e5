/**
 * The demo workflow: a research agent that plans (a language-model call), searches three sources in
 * parallel (one fails once and is retried) and streams a summary (a language-model call).
 *
 * Offline (the default) the model is simulated: a `LanguageModel` that streams canned answers with
 * delays and reports usage, through the same code path as a real one. With `model: "openai:<name>"`
 * the same workflow asks a real model (`OPENAI_API_KEY`, and `OPENAI_BASE_URL` for any OpenAI-compatible
 * server). `budget` caps the tokens of the run: crossing it stops the run with `resource_limit`. With
 * `ask`, the summary is published only once a person approves (human in the loop).
 *
 * @since 0.1.0
 */
import { Config, Duration, Effect, Layer, Schema } from "effect"
import type { LanguageModel, Prompt } from "effect/ai"
import { FetchHttpClient } from "effect/http"
import * as Actor from "../Actor.ts"
import { Budget } from "../Budget.ts"
import { runEvent } from "../Event.ts"
import { requireApproval } from "../Input.ts"
import { Journal } from "../Journal.ts"
import * as Llm from "../Llm.ts"
import * as OpenAiCompat from "../llm/OpenAiCompat.ts"
import { parallel } from "../Parallel.ts"
import * as Workflow from "../Workflow.ts"

/**
 * The input: a topic, a pace (1 = the real-looking speed, 0.1 = ten times faster), and whether to
 * ask a person before publishing the summary (`ask`).
 *
 * @category models
 * @since 0.1.0
 */
export const ResearchInput = Schema.Struct({
  topic: Schema.NonEmptyString,
  pace: Schema.Number.pipe(
    Schema.check(Schema.isGreaterThan(0), Schema.isLessThanOrEqualTo(10)),
    Schema.withDecodingDefaultKey(Effect.succeed(1))
  ),
  ask: Schema.optionalKey(Schema.Boolean),
  /** The model: `openai:<name>` (default: the simulated one). */
  model: Schema.optionalKey(Schema.String.pipe(Schema.check(Schema.isPattern(/^openai:\S+$/, {
    expected: "a model such as openai:gpt-4o-mini"
  })))),
  /** A token budget for the run's model calls. */
  budget: Schema.optionalKey(Schema.Int.pipe(Schema.check(Schema.isGreaterThan(0))))
})

/**
 * @category models
 * @since 0.1.0
 */
export type ResearchInput = typeof ResearchInput.Type

/**
 * What the workflow returns.
 *
 * @category models
 * @since 0.1.0
 */
export const Report = Schema.Struct({
  topic: Schema.String,
  sources: Schema.Array(Schema.String),
  findings: Schema.Int,
  summary: Schema.String,
  /** With `ask`: whether the person approved publishing, and why not. */
  published: Schema.optionalKey(Schema.Boolean),
  rejected: Schema.optionalKey(Schema.String)
})

/**
 * @category models
 * @since 0.1.0
 */
export type Report = typeof Report.Type

class SourceUnavailable extends Schema.TaggedError<SourceUnavailable>()("SourceUnavailable", {
  source: Schema.String
}) {
  override get message() {
    return `${this.source} is not answering (HTTP 503)`
  }
}

const Finding = Schema.Struct({ source: Schema.String, title: Schema.String })
const Findings = Schema.Array(Finding)

const SOURCES = [
  { name: "web", millis: 1200 },
  { name: "papers", millis: 2000 },
  { name: "news", millis: 900 }
] as const

const wait = (millis: number, pace: number) => Effect.sleep(Duration.millis(Math.round(millis * pace)))

const planPrompt = (topic: string) =>
  `Which sources should I search to research "${topic}"? Choose from: ${SOURCES.map((s) => s.name).join(", ")}. ` +
  "Answer with their names only, comma-separated."

const summaryPrompt = (topic: string, titles: ReadonlyArray<string>) =>
  `Summarise ${titles.length} findings about "${topic}" in two sentences:\n${titles.map((t) => `- ${t}`).join("\n")}`

/**
 * The sources a plan names (in their usual order); all of them when it names none.
 *
 * @category constructors
 * @since 0.3.0
 */
export const sourcesOf = (plan: string): Array<string> => {
  const named = SOURCES.map((s) => s.name).filter((name) => new RegExp(`\\b${name}\\b`, "i").test(plan))
  return named.length === 0 ? SOURCES.map((s) => s.name) : named
}

const userText = (prompt: Prompt.Prompt): string =>
  prompt.content.flatMap((m) => m.role === "user" ? m.content.flatMap((p) => p.type === "text" ? [p.text] : []) : []).join("")

/**
 * What the simulated model answers in the demo: the plan names every source; the summary says what
 * interrupts come down to.
 *
 * @category constructors
 * @since 0.3.0
 */
export const simulatedReply = (prompt: Prompt.Prompt): string => {
  const text = userText(prompt)
  const summary = /^Summarise (\d+) findings about "(.*)"/.exec(text)
  if (summary !== null) {
    return `Across ${summary[1]} findings, ${summary[2]} come down to three things: stop at once, announce the stop once, and keep every finished step so a resume never redoes it.`
  }
  return SOURCES.map((s) => s.name).join(", ")
}

/**
 * The demo's simulated model: about half a second before the first word, then a word every 90 ms
 * (times `pace`).
 *
 * @category layers
 * @since 0.3.0
 */
export const layerSimulated = (pace: number): Layer.Layer<LanguageModel.LanguageModel> =>
  Llm.layerSimulated({
    reply: simulatedReply,
    firstTokenDelay: Duration.millis(Math.round(530 * pace)),
    delay: Duration.millis(Math.round(90 * pace))
  })

/**
 * The model of a `model` input: `openai:<name>` is that model on OpenAI's chat completions API (or any
 * compatible server): `OPENAI_API_KEY`, and `OPENAI_BASE_URL` (default OpenAI's) read with `Config`.
 *
 * @category layers
 * @since 0.3.0
 */
export const layerModel = (model: string): Layer.Layer<LanguageModel.LanguageModel, Config.ConfigError> =>
  OpenAiCompat.layerConfig({
    model: Config.succeed(model.replace(/^openai:/, "")),
    apiKey: Config.Redacted("OPENAI_API_KEY"),
    baseUrl: Config.String("OPENAI_BASE_URL").pipe(Config.withDefault(OpenAiCompat.DEFAULT_BASE_URL))
  }).pipe(Layer.provide(FetchHttpClient.layer))

/**
 * Builds the research workflow's actors. `failures` counts the simulated outages per source, so that
 * "news" fails on its first attempt in every process, as a flaky service would.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeActors = () => {
  const outages = new Map<string, number>()

  const plan = Llm.actor("plan", (input: ResearchInput) => planPrompt(input.topic), {
    description: "decides which sources to search"
  })

  const search = Actor.tool("search", (query: { readonly topic: string; readonly source: string; readonly pace: number }) =>
    Effect.gen(function*() {
      const source = SOURCES.find((s) => s.name === query.source)!
      yield* wait(source.millis, query.pace)
      if (query.source === "news" && (outages.get("news") ?? 0) === 0) {
        outages.set("news", 1)
        return yield* new SourceUnavailable({ source: "news" })
      }
      return [1, 2, 3].map((n) => ({ source: query.source, title: `${query.topic}: ${query.source} finding ${n}` }))
    }), {
    output: Findings,
    retry: { baseDelay: "400 millis", maxAttempts: 3, retryOn: ["SourceUnavailable"] },
    description: "searches one source"
  })

  const summarise = Llm.actor(
    "summarise",
    (input: { readonly topic: string; readonly titles: ReadonlyArray<string> }) => summaryPrompt(input.topic, input.titles),
    { description: "streams a summary, token by token" }
  )

  // Publishing needs a person's approval (human in the loop): the run waits for it, and may be
  // parked meanwhile; everything before it is in the journal and is not run again.
  const publish = Actor.tool("publish", (summary: string) =>
    Effect.map(
      requireApproval({ tool: "publish", input: summary, prompt: "Publish this summary?" }),
      (verdict) => verdict.approved ? { published: true } : { published: false, rejected: verdict.reason ?? "rejected" }
    ), {
    output: Schema.Struct({ published: Schema.Boolean, rejected: Schema.optionalKey(Schema.String) }),
    description: "publishes the summary, once a person approves it"
  })

  const planner = Actor.agent("planner", (input: ResearchInput) =>
    Effect.gen(function*() {
      const sources = sourcesOf((yield* runEvent(plan, input)).text)
      const journal = yield* Journal
      yield* journal.storage.set("sources", [...sources])
      const results = yield* parallel(
        sources.map((source) => runEvent(search, { topic: input.topic, source, pace: input.pace }, { tag: source })),
        { name: "search", concurrency: 3 }
      )
      const findings = results.flatMap((r) => (r.ok ? r.result ?? [] : []))
      const summary = (yield* runEvent(summarise, { topic: input.topic, titles: findings.map((f) => f.title) })).text.trim()
      const report = { topic: input.topic, sources: [...sources], findings: findings.length, summary }
      return input.ask === true ? { ...report, ...(yield* runEvent(publish, summary)) } : report
    }), { output: Report, description: "plans the research and writes the report" })

  return { plan, search, summarise, publish, planner }
}

/**
 * The research workflow.
 *
 * @category workflows
 * @since 0.1.0
 */
export const research = Workflow.make<ResearchInput, Report>({
  name: "research",
  description:
    "plan (a model call) → search web, papers and news in parallel (news fails once, retried) → stream a summary (a model call; → with ask, publish once a person approves)",
  input: ResearchInput,
  example: { topic: "interruptible agents", pace: 1 },
  steps: 6,
  run: (input) => {
    const failed = (detail: string, cause: unknown) => new Workflow.WorkflowError({ workflow: "research", detail, cause })
    const model = input.model === undefined ? layerSimulated(input.pace) : layerModel(input.model)
    const program = Effect.suspend(() => runEvent(makeActors().planner, input)).pipe(Effect.provide(model))
    return (input.budget === undefined ? program : Effect.provide(program, Budget.tokens(input.budget))).pipe(
      Effect.catchTags({
        AiError: (error) => Effect.fail(failed(error.message, error)),
        ConfigError: (error) => Effect.fail(failed(`the model's configuration is missing or invalid: ${error.cause.message}`, error))
      })
    )
  }
})
