/**
 * The demo workflow: a research agent that plans, searches three sources in parallel and streams a
 * summary — all local, simulated with delays, no network. One source fails once and is retried.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Schedule, Schema, Stream } from "effect"
import * as Actor from "../Actor.ts"
import { runEvent } from "../Event.ts"
import { Journal } from "../Journal.ts"
import { parallel } from "../Parallel.ts"
import { requireApproval } from "../Input.ts"
import { interruptible } from "../Streams.ts"
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
  ask: Schema.optionalKey(Schema.Boolean)
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

/**
 * Builds the research workflow's actors. `failures` counts the simulated outages per source, so that
 * "news" fails on its first attempt in every process, as a flaky service would.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeActors = () => {
  const outages = new Map<string, number>()

  const plan = Actor.llm("plan", (input: ResearchInput) =>
    Effect.gen(function*() {
      yield* wait(800, input.pace)
      return SOURCES.map((s) => s.name)
    }), { output: Schema.Array(Schema.String), description: "decides which sources to search" })

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

  const summarise = Actor.llm("summarise", (input: { readonly topic: string; readonly findings: number; readonly pace: number }) => {
    const words =
      `Across ${input.findings} findings, ${input.topic} come down to three things: stop at once, announce the stop once, and keep every finished step so a resume never redoes it.`
        .split(" ")
    return interruptible(
      Stream.fromIterable(words).pipe(
        Stream.schedule(Schedule.spaced(Duration.millis(Math.round(90 * input.pace)))),
        Stream.map((word) => `${word} `)
      )
    ).pipe(Stream.runCollect, Effect.map((tokens) => tokens.join("").trim()))
  }, { description: "streams a summary, token by token" })

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
      const sources = yield* runEvent(plan, input)
      const journal = yield* Journal
      yield* journal.storage.set("sources", [...sources])
      const results = yield* parallel(
        sources.map((source) => runEvent(search, { topic: input.topic, source, pace: input.pace }, { tag: source })),
        { name: "search", concurrency: 3 }
      )
      const findings = results.flatMap((r) => (r.ok ? r.result ?? [] : []))
      const summary = yield* runEvent(summarise, { topic: input.topic, findings: findings.length, pace: input.pace })
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
    "plan → search web, papers and news in parallel (news fails once, retried) → stream a summary (→ with ask, publish once a person approves)",
  input: ResearchInput,
  example: { topic: "interruptible agents", pace: 1 },
  steps: 6,
  run: (input) => Effect.suspend(() => runEvent(makeActors().planner, input))
})
