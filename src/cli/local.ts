/**
 * The commands of one machine: `demo`, `resume`, `list` and `show`, over the control plane running
 * in this process (`Executions.layerLocal`) with journals in the state directory.
 */
import { NodeServices } from "@effect/platform-node"
import { Config, Console, Duration, Effect, Layer, Option, Redacted, Schema } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import * as fs from "node:fs"
import * as path from "node:path"
import { CheckpointStore } from "../Checkpoint.ts"
import { Research } from "../demo/index.ts"
import type { BusEvent, InputRequest } from "../EventBus.ts"
import type { ExecutionInfo } from "../ExecutionInfo.ts"
import { Executions } from "../Executions.ts"
import { type InterruptChecker, InterruptSignal, isStateId, STATE_ID_RULE } from "../Interrupt.ts"
import { StateSnapshotJson } from "../Journal.ts"
import { errorMessage } from "../internal/text.ts"
import * as Printer from "../Printer.ts"
import * as Workflow from "../Workflow.ts"
import {
  answerAndFollow,
  answerCommand,
  EXIT,
  follow,
  type Hints,
  forceFlag,
  Invocation,
  jsonFlag,
  paceFlag,
  report,
  setExit,
  stateDirFlag,
  stateIdArgument,
  table,
  toDuration,
  topicFlag,
  UsageError
} from "./common.ts"
import * as RedisCli from "./redis.ts"

/** The workflows the command line knows by name. */
export const workflows: ReadonlyArray<Workflow.Registered> = [Workflow.register(Research.research)]

/**
 * The control plane over the journals in `dir`. A directory that cannot be made (a file, `/proc/…`)
 * is one line at once.
 */
const localLayer = (dir: string) =>
  Executions.layerLocal({ workflows }).pipe(
    Layer.provideMerge(CheckpointStore.layerFileSystem(dir)),
    Layer.provide(NodeServices.layer)
  )

// An external checker, as a remote controller would install one: `touch <state-dir>/<id>.stop` in
// another terminal stops the run (the file is consumed, so a resume is not stopped again by it).
const stopFileChecker = (file: string): InterruptChecker => () => {
  if (!fs.existsSync(file)) return false
  fs.rmSync(file, { force: true })
  return new InterruptSignal({ reason: "custom", message: `Stop file found: ${file}`, triggeredBy: "stop-file" })
}

const attachOptions = (dir: string, stateId: string, timeout: Option.Option<Duration.Duration>) => ({
  checker: stopFileChecker(path.join(dir, `${stateId}.stop`)),
  checkerInterval: Duration.millis(200),
  ...(Option.isSome(timeout) ? { timeout: timeout.value } : {})
})

const dirSuffix = (dir: string) => dir === ".agent-interrupt" ? "" : ` --state-dir ${JSON.stringify(dir)}`

/** How to resume a run and answer its questions, from this state directory. */
const hints = (dir: string) =>
  Effect.map(Invocation, ({ command }): Hints => ({
    resumeHint: (id) => `${command} resume ${id}${dirSuffix(dir)}`,
    answerHint: answerCommand(command, dirSuffix(dir))
  }))

const optionalDuration = (flag: string, value: Option.Option<string>) =>
  Option.match(value, {
    onNone: () => Effect.succeed(Option.none<Duration.Duration>()),
    onSome: (text) => Effect.map(toDuration(flag, text), Option.some)
  })

// Counts what a run did, for the tour's summary line.
const tally = () => {
  const counts = { completed: 0, recovered: 0, stopLatency: 0 }
  const watcher = (event: BusEvent) =>
    Effect.sync(() => {
      if (event._tag !== "ExecutionEvent") return
      if (event.status === "completed") counts.completed++
      if (event.status === "recovered") counts.recovered++
      if (event.status === "interrupted") counts.stopLatency = Math.max(counts.stopLatency, event.stopLatency ?? 0)
    })
  return { counts, watcher }
}

const modelFlag = Flag.String("model").pipe(
  Flag.withDescription(
    "Ask a real model instead of the simulated one: openai:<model> (needs OPENAI_API_KEY; OPENAI_BASE_URL for any compatible server)"
  ),
  Flag.optional
)

const budgetFlag = Flag.String("budget").pipe(
  Flag.withDescription("Stop the run (reason resource_limit) once its model calls have used this many tokens"),
  Flag.optional
)

// The model of `--model`: one line (exit 2) when it is not openai:<model> or when its key is missing.
const modelOf = (value: Option.Option<string>) =>
  Effect.gen(function*() {
    if (Option.isNone(value)) return Option.none<string>()
    if (!/^openai:\S+$/.test(value.value)) {
      return yield* new UsageError({
        message: `--model ${JSON.stringify(value.value)} is not a model: use openai:<model>, such as openai:gpt-4o-mini`
      })
    }
    const key = yield* Config.Redacted("OPENAI_API_KEY").pipe(Config.option)
    if (Option.isNone(key) || Redacted.value(key.value).trim() === "") {
      return yield* new UsageError({
        message: `OPENAI_API_KEY is not set: --model ${value.value} needs an API key (and OPENAI_BASE_URL for a server other than OpenAI's)`
      })
    }
    return value
  })

const budgetOf = (value: Option.Option<string>) =>
  Option.match(value, {
    onNone: () => Effect.succeed(Option.none<number>()),
    onSome: (text) =>
      /^\s*\d+\s*$/.test(text) && Number(text) > 0 && Number.isSafeInteger(Number(text))
        ? Effect.succeed(Option.some(Number(text)))
        : Effect.fail(new UsageError({ message: `--budget ${JSON.stringify(text)} is not a token budget: use a positive whole number of tokens, such as 2000` }))
  })

const timeoutFlag = Flag.String("timeout").pipe(
  Flag.withDescription("Interrupt with reason timeout after this long (5s, 500ms, 2m)"),
  Flag.optional
)

// -----------------------------------------------------------------------------
// demo
// -----------------------------------------------------------------------------

const demo = Command.make("demo", {
  timeout: timeoutFlag,
  json: jsonFlag,
  stateDir: stateDirFlag,
  stateId: Flag.String("state-id").pipe(Flag.withDescription("Use this state id (default: a new one)"), Flag.optional),
  topic: topicFlag,
  pace: paceFlag,
  model: modelFlag,
  budget: budgetFlag,
  force: forceFlag,
  ask: Flag.Boolean("ask").pipe(
    Flag.withDescription(
      "Ask for your approval before publishing the summary: the process exits while it waits (exit 5); approve <id> continues it"
    ),
    Flag.withDefault(false)
  ),
  tour: Flag.Boolean("tour").pipe(
    Flag.withDescription("Run, interrupt with a timeout, resume from the journal, approve, finish (npm run demo)"),
    Flag.withDefault(false)
  )
}, (flags) =>
  Effect.gen(function*() {
    const timeout = yield* optionalDuration("timeout", flags.timeout)
    const model = yield* modelOf(flags.model)
    const budget = yield* budgetOf(flags.budget)
    const executions = yield* Executions
    const stateId = Option.getOrElse(flags.stateId, () => Workflow.newStateId(Research.research.name, Date.now()))
    if (!isStateId(stateId)) {
      return yield* new UsageError({ message: `Invalid state id ${JSON.stringify(stateId)}: ${STATE_ID_RULE}` })
    }
    const resumeHint = yield* hints(flags.stateDir)
    const ask = flags.ask || flags.tour
    const start = (runTimeout: Option.Option<Duration.Duration>) =>
      executions.start(Research.research.name, {
        topic: flags.topic,
        pace: flags.pace,
        ...(ask ? { ask } : {}),
        ...(Option.isSome(model) ? { model: model.value } : {}),
        ...(Option.isSome(budget) ? { budget: budget.value } : {})
      }, {
        stateId,
        startedBy: "cli",
        force: flags.force,
        ...attachOptions(flags.stateDir, stateId, runTimeout)
      })
    // A question parks the run: this process lets go of it and exits (5); an answer continues it.
    const park = () => Effect.asVoid(executions.park(stateId))
    if (!flags.tour) {
      yield* start(timeout)
      const info = yield* follow(executions, stateId, { after: 0, json: flags.json, onQuestion: park })
      return yield* report(info, { json: flags.json, ...resumeHint })
    }
    // The tour: the same run, stopped by a timeout mid-way, resumed from its journal, paused for an
    // approval (the tour gives it), finished.
    const tourTimeout = Option.orElse(timeout, () => Option.some(Duration.millis(4000 * flags.pace)))
    yield* Console.log(
      `Tour: the research workflow runs and is interrupted by a ${Duration.format(Option.getOrThrow(tourTimeout))} timeout;` +
        " its journal is saved step by step, then it resumes without redoing finished work, and waits for your" +
        " approval before publishing. (Ctrl-C stops it too.)\n"
    )
    const started = Date.now()
    const before = tally()
    yield* start(tourTimeout)
    const first = yield* follow(executions, stateId, { after: 0, json: flags.json, watch: [before.watcher], onQuestion: park })
    if (first.status !== "interrupted" || first.interrupt?.reason !== "timeout" || first.checkpoint !== "saved") {
      return yield* report(first, { json: flags.json, ...resumeHint })
    }
    yield* Console.log(`\nResuming ${stateId} from its checkpoint…\n`)
    const after = tally()
    let approvedIn = 0
    const approveForYou = (question: InputRequest) =>
      Effect.gen(function*() {
        if (!flags.json) {
          yield* Console.log(
            `\nThe run waits for you (it could wait for days, in no process). The tour approves it for you; you would type:\n  ${
              resumeHint.answerHint!(stateId, question, true)
            }\n`
          )
        }
        const asked = Date.now()
        yield* Effect.ignore(executions.answer(stateId, question.inputId, { approved: true }, { answeredBy: "tour" }))
        approvedIn = Date.now() - asked
      })
    yield* executions.resume(stateId, { resumedBy: "cli", ...attachOptions(flags.stateDir, stateId, Option.none()) })
    const resumed = yield* follow(executions, stateId, {
      after: first.lastSequence,
      json: flags.json,
      watch: [after.watcher],
      onQuestion: approveForYou
    })
    yield* report(resumed, { json: flags.json, ...resumeHint })
    if (resumed.status === "completed") {
      yield* Console.log(
        `Summary: interrupted by ${first.interrupt.reason} after ${before.counts.completed} completed steps, ` +
          `stopped in ${Printer.formatMillis(before.counts.stopLatency)}; resumed with ${after.counts.recovered} ` +
          `steps recovered (not run again) and ${after.counts.completed} run; paused for an approval, ` +
          `continued ${Printer.formatMillis(approvedIn)} after it; ${Printer.formatMillis(Date.now() - started)} in all.`
      )
    }
  }).pipe(Effect.provide(localLayer(flags.stateDir)))).pipe(
    Command.withDescription("Run the research demo workflow, printing its events live")
  )

// -----------------------------------------------------------------------------
// resume
// -----------------------------------------------------------------------------

const notFound = (dir: string, stateId: string) =>
  new UsageError({ message: `No checkpoint for execution ${stateId} (${path.resolve(dir)})` })

const resume = Command.make("resume", {
  stateId: stateIdArgument,
  timeout: timeoutFlag,
  json: jsonFlag,
  stateDir: stateDirFlag,
  force: forceFlag
}, (flags) =>
  Effect.gen(function*() {
    const timeout = yield* optionalDuration("timeout", flags.timeout)
    const executions = yield* Executions
    const before = yield* executions.get(flags.stateId).pipe(
      Effect.catchTag("ExecutionNotFound", () => Effect.fail(notFound(flags.stateDir, flags.stateId)))
    )
    yield* executions.resume(flags.stateId, {
      resumedBy: "cli",
      force: flags.force,
      ...attachOptions(flags.stateDir, flags.stateId, timeout)
    })
    const info = yield* follow(executions, flags.stateId, {
      after: before.lastSequence,
      json: flags.json,
      onQuestion: () => Effect.asVoid(executions.park(flags.stateId))
    })
    return yield* report(info, { json: flags.json, ...(yield* hints(flags.stateDir)) })
  }).pipe(Effect.provide(localLayer(flags.stateDir)))).pipe(
    Command.withDescription("Continue an interrupted or lost run from its journal")
  )

// -----------------------------------------------------------------------------
// list and show
// -----------------------------------------------------------------------------

const listRows = (infos: ReadonlyArray<ExecutionInfo>) =>
  infos.map((r) => [
    r.executionId,
    r.status,
    r.updatedAt,
    r.workflow,
    r.interrupt?.reason ?? r.error ?? "-"
  ])

const list = Command.make("list", { json: jsonFlag, stateDir: stateDirFlag }, (flags) =>
  Effect.gen(function*() {
    const executions = yield* Executions
    const store = yield* CheckpointStore
    const infos = yield* executions.list()
    const broken = yield* executions.unreadable
    if (flags.json) {
      yield* Console.log(JSON.stringify({ executions: infos, unreadable: broken }))
    } else if (infos.length === 0 && broken.length === 0) {
      yield* Console.log(`No executions in ${store.location}`)
    } else {
      const rows = [
        ["STATE ID", "STATUS", "UPDATED", "WORKFLOW", "REASON"],
        ...listRows(infos),
        ...broken.map((b) => [b.executionId, "corrupt", "-", "-", b.error.replace(/\s+/g, " ")])
      ]
      for (const line of table(rows)) yield* Console.log(line)
    }
    yield* RedisCli.listRedisRuns(flags.json)
  }).pipe(Effect.provide(localLayer(flags.stateDir)))).pipe(
    Command.withDescription("List the executions in the state directory (and on Redis when REDIS_URL is set)")
  )

const show = Command.make("show", { stateId: stateIdArgument, json: jsonFlag, stateDir: stateDirFlag }, (flags) =>
  Effect.gen(function*() {
    const executions = yield* Executions
    const info = yield* executions.get(flags.stateId).pipe(
      Effect.catchTag("ExecutionNotFound", () => Effect.fail(notFound(flags.stateDir, flags.stateId)))
    )
    const snap = yield* executions.snapshot(flags.stateId)
    if (flags.json) return yield* Console.log(Schema.encodeSync(StateSnapshotJson)(snap))
    const signal = snap.metadata.interrupt
    const lines = [
      `State id:   ${snap.stateId}`,
      `Status:     ${info.status}`,
      `Workflow:   ${snap.metadata.workflow ?? "-"}  input ${JSON.stringify(snap.metadata.input ?? null)}`,
      `Created:    ${snap.createdAt}`,
      `Updated:    ${snap.updatedAt}`,
      ...(signal === undefined ? [] : [
        `Interrupt:  ${signal.reason} — ${signal.message ?? "-"} (by ${signal.triggeredBy ?? "-"} at ${signal.triggeredAt})`
      ]),
      ...(snap.metadata.error === undefined ? [] : [`Error:      ${snap.metadata.error}`]),
      `Completed:  ${snap.completed.length} steps (replayed on resume)`,
      ...snap.completed.map((e) => `  ✓ ${e.address}${e.occurrence > 1 ? ` #${e.occurrence}` : ""}`),
      ...Object.entries(snap.partialOutputs).map(([key, value]) => `Partial:    ${key}: ${JSON.stringify(value)}`),
      `Storage:    ${JSON.stringify(snap.storage)}`,
      `Attempts:   ${snap.attempts}`
    ]
    for (const line of lines) yield* Console.log(line)
    return yield* setExit(EXIT.completed)
  }).pipe(Effect.provide(localLayer(flags.stateDir)))).pipe(Command.withDescription("Show one execution's journal"))

// -----------------------------------------------------------------------------
// answer, approve, reject
// -----------------------------------------------------------------------------

const inputIdArgument = Argument.String("inputId").pipe(
  Argument.withDescription("The question's input id (optional when only one waits)"),
  Argument.optional
)

/**
 * Answers a question of a run in the state directory (or, when it is not there and `REDIS_URL` is
 * set, on Redis), then follows the run to its end here or where it runs.
 */
const answering = (
  flags: { readonly stateId: string; readonly inputId: Option.Option<string>; readonly json: boolean; readonly stateDir: string },
  value: unknown
) =>
  Effect.gen(function*() {
    const inputId = Option.getOrUndefined(flags.inputId)
    const local = Effect.flatMap(hints(flags.stateDir), (h) =>
      answerAndFollow(flags.stateId, inputId, value, { json: flags.json, ...h })).pipe(
        Effect.provide(localLayer(flags.stateDir))
      )
    return yield* local.pipe(
      Effect.catchTag("InvalidAnswer", (error) =>
        Effect.fail(
          new UsageError({ message: `Not an answer${error.inputId === undefined ? "" : ` to ${error.inputId}`}: ${error.message}` })
        )),
      Effect.catchTag("ExecutionNotFound", () =>
        Effect.gen(function*() {
          if (!(yield* RedisCli.configured)) return yield* notFound(flags.stateDir, flags.stateId)
          return yield* RedisCli.answerOnRedis(flags.stateId, inputId, value, flags.json)
        }))
    )
  })

const answerFlags = { stateId: stateIdArgument, inputId: inputIdArgument, json: jsonFlag, stateDir: stateDirFlag }

const answer = Command.make("answer", {
  ...answerFlags,
  value: Flag.String("value").pipe(Flag.withDescription("The answer, as JSON (a string needs its quotes: '\"a\"')"))
}, (flags) =>
  Effect.gen(function*() {
    let value: unknown
    try {
      value = JSON.parse(flags.value)
    } catch (error) {
      return yield* new UsageError({
        message: `--value ${JSON.stringify(flags.value)} is not JSON (${errorMessage(error)}): a string needs its quotes, as in --value '"yes"'`
      })
    }
    return yield* answering(flags, value)
  })).pipe(Command.withDescription("Answer a question a run waits for, and follow the run as it goes on"))

const approve = Command.make("approve", {
  ...answerFlags,
  reason: Flag.String("reason").pipe(Flag.withDescription("Why (recorded with the approval)"), Flag.optional)
}, (flags) =>
  answering(flags, { approved: true, ...Option.match(flags.reason, { onNone: () => ({}), onSome: (reason) => ({ reason }) }) }))
  .pipe(Command.withDescription("Approve what a run waits for (a tool call), and follow the run as it goes on"))

const reject = Command.make("reject", {
  ...answerFlags,
  reason: Flag.String("reason").pipe(Flag.withDescription("Why not (the run gets it)"), Flag.optional)
}, (flags) =>
  answering(flags, { approved: false, ...Option.match(flags.reason, { onNone: () => ({}), onSome: (reason) => ({ reason }) }) }))
  .pipe(Command.withDescription("Reject what a run waits for (a tool call), and follow the run as it goes on"))

export const commands = [demo, resume, list, show, answer, approve, reject] as const
