/**
 * The `agent-interrupt` command line: run the demo workflow, stop it with Ctrl-C, resume it, list and
 * show checkpoints; on Redis (`REDIS_URL`), run it as a `worker` and `interrupt` it from any process
 * (src/cli/redis.ts).
 *
 * Exit codes: 0 completed, 1 failed, 2 bad input (unknown id, bad flag, corrupt checkpoint),
 * 3 interrupted (checkpoint saved when possible), 130 a second Ctrl-C (left at once).
 */
import { NodeServices } from "@effect/platform-node"
import { Cause, Config, Console, Context, Duration, Effect, Layer, Option, Queue, Ref, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { Argument, CliError, CliOutput, Command, Flag } from "effect/cli"
import { CheckpointError, CheckpointStore } from "../Checkpoint.ts"
import { research } from "../demo/Research.ts"
import type { BusEvent } from "../EventBus.ts"
import type { ExecutionState } from "../ExecutionState.ts"
import { type InterruptChecker, InterruptSignal } from "../Interrupt.ts"
import * as Printer from "../Printer.ts"
import * as Run from "../Run.ts"
import * as Workflow from "../Workflow.ts"
import * as RedisCli from "./redis.ts"
import { makeServe } from "./serve.ts"
import { Signals } from "./runMain.ts"

export const EXIT = { completed: 0, failed: 1, usage: 2, interrupted: 3 } as const

const researchWorkflow = Workflow.register(research)

/** The workflows this command line knows by name. */
export const workflows: ReadonlyArray<Workflow.Registered> = [researchWorkflow]

// -----------------------------------------------------------------------------
// Settings
// -----------------------------------------------------------------------------

/** The exit code the command sets; the program returns it. */
export class ExitCode extends Context.Service<ExitCode, Ref.Ref<number>>()("agent-interrupt/cli/ExitCode") {}

const setExit = (code: number) => Effect.flatMap(ExitCode, (ref) => Ref.set(ref, code))

/** How the program was started, for the resume hint: from source (`npm run cli --`) or installed. */
export class Invocation extends Context.Service<Invocation, { readonly command: string }>()(
  "agent-interrupt/cli/Invocation"
) {}

const units: Record<string, number> = {
  ms: 1,
  millis: 1,
  milliseconds: 1,
  s: 1000,
  sec: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  min: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000
}

/** Parses `5s`, `500ms`, `1.5 s`, `2m`, `1 hour`. */
export const parseDuration = (text: string): Option.Option<Duration.Duration> => {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$/i.exec(text)
  if (match === null) return Option.none()
  const factor = units[match[2]!.toLowerCase()]
  const value = Number(match[1])
  return factor === undefined || !(value > 0) ? Option.none() : Option.some(Duration.millis(value * factor))
}

const timeoutFlag = Flag.String("timeout").pipe(
  Flag.withDescription("Interrupt with reason timeout after this long (5s, 500ms, 2m)"),
  Flag.filterMap(parseDuration, (text) => `Invalid duration ${JSON.stringify(text)}: use 5s, 500ms, 2m or 1h`),
  Flag.optional
)

const jsonFlag = Flag.Boolean("json").pipe(
  Flag.withDescription("Print events (or the result) as JSON lines instead of text"),
  Flag.withDefault(false)
)

const stateDirFlag = Flag.String("state-dir").pipe(
  Flag.withDescription("Where checkpoints are kept (default ./.agent-interrupt, or AGENT_INTERRUPT_STATE_DIR)"),
  Flag.withFallbackConfig(Config.String("AGENT_INTERRUPT_STATE_DIR")),
  Flag.withDefault(".agent-interrupt")
)

const stateIdArgument = Argument.String("stateId").pipe(Argument.withDescription("The execution's state id"))

const storeLayer = (dir: string) =>
  CheckpointStore.layerFileSystem(dir).pipe(Layer.provide(NodeServices.layer))

// Text for people, colours only on a terminal without NO_COLOR; NDJSON for machines.
const output = (json: boolean) =>
  Effect.gen(function*() {
    const noColor = yield* Config.String("NO_COLOR").pipe(Config.option)
    const color = !json && process.stdout.isTTY === true && Option.isNone(noColor)
    return json ? Printer.ndjson() : Printer.make({ color })
  })


// First Ctrl-C (SIGINT) or SIGTERM: a graceful interrupt of the run. A second one exits at once.
const interruptOnSignals = (signals: Signals["Service"]) => ({ state }: { readonly state: ExecutionState["Service"] }) =>
  Effect.gen(function*() {
    const queue = yield* signals.listen
    yield* Queue.take(queue).pipe(
      Effect.flatMap((signal) =>
        state.requestInterrupt(
          signal === "SIGINT"
            ? { reason: "user_cancelled", message: "Interrupted with Ctrl-C (SIGINT)", triggeredBy: "cli" }
            : { reason: "system_shutdown", message: "Received SIGTERM", triggeredBy: "cli" }
        )
      ),
      Effect.forkScoped
    )
  })

// worker, interrupt, and the Redis runs of `list` (src/cli/redis.ts)
const redis = RedisCli.make({
  exit: EXIT,
  setExit,
  command: Effect.map(Invocation, (invocation) => invocation.command),
  signals: Effect.map(Signals, (signals) => signals),
  onSignals: interruptOnSignals,
  output,
  parseDuration,
  workflow: researchWorkflow,
  workflows
})

const reportOutcome = (outcome: Run.Outcome<unknown, unknown>, json: boolean, dir: string) =>
  Effect.gen(function*() {
    const { command } = yield* Invocation
    switch (outcome._tag) {
      case "Completed": {
        if (json) yield* Console.log(JSON.stringify({ _tag: "Result", stateId: outcome.stateId, value: outcome.value }))
        else yield* Console.log(`Result: ${JSON.stringify(outcome.value)}`)
        return yield* setExit(EXIT.completed)
      }
      case "Interrupted": {
        if (!json) {
          const dirFlag = dir === ".agent-interrupt" ? "" : ` --state-dir ${JSON.stringify(dir)}`
          yield* Option.match(outcome.checkpointId, {
            onNone: () => Console.log("Nothing was saved, so this run cannot be resumed."),
            onSome: (id) => Console.log(`Resume with: ${command} resume ${id}${dirFlag}`)
          })
        }
        return yield* setExit(EXIT.interrupted)
      }
      case "Failed": {
        yield* Console.error(`error: the run failed: ${Cause.pretty(outcome.cause).split("\n")[0]}`)
        return yield* setExit(EXIT.failed)
      }
    }
  })

interface RunFlags {
  readonly json: boolean
  readonly stateDir: string
  readonly timeout: Option.Option<Duration.Duration>
}

// An external checker, as a remote controller would install one: `touch <state-dir>/<id>.stop` in
// another terminal stops the run (the file is consumed, so a resume is not stopped again by it).
const stopFileChecker = (file: string): InterruptChecker => () => {
  if (!fs.existsSync(file)) return false
  fs.rmSync(file, { force: true })
  return new InterruptSignal({
    reason: "custom",
    message: `Stop file found: ${file}`,
    triggeredBy: "stop-file"
  })
}

const runOptions = (
  flags: RunFlags,
  printer: (event: BusEvent) => Effect.Effect<void>,
  signals: Signals["Service"],
  stateId: string
): Run.RunOptions => ({
  subscribers: [printer],
  onStart: interruptOnSignals(signals),
  checker: stopFileChecker(path.join(flags.stateDir, `${stateId}.stop`)),
  checkerInterval: "200 millis",
  ...(Option.isSome(flags.timeout) ? { timeout: flags.timeout.value } : {})
})

// -----------------------------------------------------------------------------
// Commands
// -----------------------------------------------------------------------------

// Counts what a run did, for the tour's summary line.
const tally = () => {
  const counts = { completed: 0, recovered: 0, stopLatency: 0 }
  const subscriber = (event: BusEvent) =>
    Effect.sync(() => {
      if (event._tag !== "ExecutionEvent") return
      if (event.status === "completed") counts.completed++
      if (event.status === "recovered") counts.recovered++
      if (event.status === "interrupted") counts.stopLatency = Math.max(counts.stopLatency, event.stopLatency ?? 0)
    })
  return { counts, subscriber }
}

const demoRun = (
  flags: RunFlags & { readonly topic: string; readonly pace: number; readonly stateId: string },
  watch: ReadonlyArray<(event: BusEvent) => Effect.Effect<void>> = []
) =>
  Effect.gen(function*() {
    const prepared = yield* researchWorkflow.prepare({ topic: flags.topic, pace: flags.pace })
    const printer = yield* output(flags.json)
    const options = runOptions(flags, printer, yield* Signals, flags.stateId)
    const outcome = yield* Run.run(prepared.program, {
      ...options,
      subscribers: [...(options.subscribers ?? []), ...watch],
      stateId: flags.stateId,
      workflow: research.name,
      input: prepared.input
    })
    return outcome
  })

const demo = Command.make("demo", {
  timeout: timeoutFlag,
  json: jsonFlag,
  stateDir: stateDirFlag,
  stateId: Flag.String("state-id").pipe(Flag.withDescription("Use this state id (default: a new one)"), Flag.optional),
  topic: Flag.String("topic").pipe(Flag.withDescription("What to research"), Flag.withDefault("interruptible agents")),
  pace: Flag.Finite("pace").pipe(
    Flag.withDescription("Speed of the simulated calls: 1 = real-looking, 0.1 = ten times faster"),
    Flag.withDefault(1)
  ),
  tour: Flag.Boolean("tour").pipe(
    Flag.withDescription("Run, interrupt with a timeout, then resume from the checkpoint (npm run demo)"),
    Flag.withDefault(false)
  )
}, (flags) =>
  Effect.gen(function*() {
    const stateId = Option.getOrElse(flags.stateId, () => Workflow.newStateId(research.name, Date.now()))
    if (!flags.tour) {
      const outcome = yield* demoRun({ ...flags, stateId })
      return yield* reportOutcome(outcome, flags.json, flags.stateDir)
    }
    // The tour: the same run, stopped by a timeout mid-way, then resumed from its checkpoint.
    const timeout = Option.orElse(flags.timeout, () => Option.some(Duration.millis(4000 * flags.pace)))
    yield* Console.log(
      `Tour: the research workflow runs and is interrupted by a ${Duration.format(Option.getOrThrow(timeout))} timeout;` +
        " its checkpoint is saved, then it resumes without redoing finished work. (Ctrl-C stops it too.)\n"
    )
    const started = Date.now()
    const before = tally()
    const first = yield* demoRun({ ...flags, stateId, timeout }, [before.subscriber])
    if (first._tag !== "Interrupted" || first.signal.reason !== "timeout" || Option.isNone(first.checkpointId)) {
      return yield* reportOutcome(first, flags.json, flags.stateDir)
    }
    yield* Console.log(`\nResuming ${stateId} from its checkpoint…\n`)
    const after = tally()
    const resumed = yield* resumeRun(stateId, { ...flags, timeout: Option.none() }, [after.subscriber])
    yield* reportOutcome(resumed, flags.json, flags.stateDir)
    if (resumed._tag === "Completed") {
      yield* Console.log(
        `Summary: interrupted by ${first.signal.reason} after ${before.counts.completed} completed steps, ` +
          `stopped in ${Printer.formatMillis(before.counts.stopLatency)}; resumed with ${after.counts.recovered} ` +
          `steps recovered (not run again) and ${after.counts.completed} run; ` +
          `${Printer.formatMillis(Date.now() - started)} in all.`
      )
    }
  }).pipe(Effect.provide(storeLayer(flags.stateDir)))).pipe(
    Command.withDescription("Run the research demo workflow, printing its events live")
  )

const resumeRun = (
  stateId: string,
  flags: RunFlags,
  watch: ReadonlyArray<(event: BusEvent) => Effect.Effect<void>> = []
) =>
  Effect.gen(function*() {
    const snapshot = yield* Run.loadResumable(stateId)
    const prepared = yield* Run.workflowOf(workflows, snapshot)
    const printer = yield* output(flags.json)
    const options = runOptions(flags, printer, yield* Signals, stateId)
    return yield* Run.resume(stateId, prepared.program, {
      ...options,
      subscribers: [...(options.subscribers ?? []), ...watch]
    })
  })

const resume = Command.make("resume", {
  stateId: stateIdArgument,
  timeout: timeoutFlag,
  json: jsonFlag,
  stateDir: stateDirFlag
}, (flags) =>
  resumeRun(flags.stateId, flags).pipe(
    Effect.flatMap((outcome) => reportOutcome(outcome, flags.json, flags.stateDir)),
    Effect.provide(storeLayer(flags.stateDir))
  )).pipe(Command.withDescription("Continue an interrupted run from its checkpoint"))

const list = Command.make("list", { json: jsonFlag, stateDir: stateDirFlag }, (flags) =>
  Effect.gen(function*() {
    const store = yield* CheckpointStore
    const rows = yield* store.list
    if (flags.json) return yield* Console.log(JSON.stringify(rows))
    if (rows.length === 0) return yield* Console.log(`No checkpoints in ${store.location}`)
    const table = [["STATE ID", "STATUS", "UPDATED", "WORKFLOW", "REASON"], ...rows.map((r) => [
      r.stateId,
      r.status,
      r.updatedAt ?? "-",
      r.workflow ?? "-",
      r.reason ?? (r.error === undefined ? "-" : r.error)
    ])]
    const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)))
    for (const row of table) yield* Console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd())
  }).pipe(Effect.provide(storeLayer(flags.stateDir)), Effect.andThen(redis.listRedisRuns(flags.json)))).pipe(
    Command.withDescription("List the saved checkpoints (and the runs in Redis when REDIS_URL is set)")
  )

const show = Command.make("show", { stateId: stateIdArgument, json: jsonFlag, stateDir: stateDirFlag }, (flags) =>
  Effect.gen(function*() {
    const store = yield* CheckpointStore
    const found = yield* store.load(flags.stateId)
    if (Option.isNone(found)) {
      return yield* new CheckpointError({
        reason: "not_found",
        stateId: flags.stateId,
        location: store.location,
        detail: ""
      })
    }
    const snap = found.value
    if (flags.json) {
      const { StateSnapshotJson } = yield* Effect.promise(() => import("../Checkpoint.ts"))
      return yield* Console.log(Schema.encodeSync(StateSnapshotJson)(snap))
    }
    const signal = snap.metadata.interrupt
    const lines = [
      `State id:   ${snap.stateId}`,
      `Status:     ${snap.status}`,
      `Workflow:   ${snap.metadata.workflow ?? "-"}  input ${JSON.stringify(snap.metadata.input ?? null)}`,
      `Created:    ${snap.createdAt}`,
      `Updated:    ${snap.updatedAt}`,
      ...(signal === undefined ? [] : [
        `Interrupt:  ${signal.reason} — ${signal.message ?? "-"} (by ${signal.triggeredBy ?? "-"} at ${signal.triggeredAt})`
      ]),
      ...(snap.metadata.error === undefined ? [] : [`Error:      ${snap.metadata.error}`]),
      `Completed:  ${snap.completed.length} events (replayed on resume)`,
      ...snap.completed.map((e) => `  ✓ ${e.address}${e.occurrence > 1 ? ` #${e.occurrence}` : ""}`),
      ...Object.entries(snap.partialOutputs).map(([key, value]) => `Partial:    ${key}: ${JSON.stringify(value)}`),
      `Storage:    ${JSON.stringify(snap.storage)}`,
      `Attempts:   ${snap.attempts}`
    ]
    for (const line of lines) yield* Console.log(line)
  }).pipe(Effect.provide(storeLayer(flags.stateDir)))).pipe(Command.withDescription("Show one checkpoint"))

export const root = Command.make("agent-interrupt").pipe(
  Command.withDescription("Run agent workflows that can be stopped at any moment without losing work"),
  Command.withSubcommands([demo, resume, list, show, redis.worker, redis.interrupt, makeServe({ workflows })])
)

// -----------------------------------------------------------------------------
// Main
// -----------------------------------------------------------------------------

// Bad invocations: the errors only, one line each, on stderr (help stays behind --help).
const presenter = CliOutput.layerPresenter({
  present: (event) =>
    event._tag === "InvalidInvocation"
      ? Console.error(
        `error: ${event.errors.map((error) => error.message).join("; ")} (see: agent-interrupt ${
          event.commandPath.slice(1).join(" ")
        } --help)`
      )
      : CliOutput.defaultPresenter.present(event)
})

/** Runs the command line with `args`; succeeds with the process exit code. */
export const main = (args: ReadonlyArray<string>, invocation: string): Effect.Effect<number, never, Signals> =>
  Effect.gen(function*() {
    const code = yield* Ref.make<number>(EXIT.completed)
    const exit = yield* Command.runWith(root, { version: "0.1.0" })(args).pipe(
      Effect.provide(Layer.mergeAll(NodeServices.layer, presenter)),
      Effect.provideService(ExitCode, code),
      Effect.provideService(Invocation, { command: invocation }),
      Effect.exit
    )
    if (exit._tag === "Success") return yield* Ref.get(code)
    const error = Cause.findErrorOption(exit.cause)
    if (Option.isSome(error)) {
      const e = error.value
      if (CliError.isCliError(e)) return EXIT.usage // already reported by the presenter
      const message = typeof e === "object" && e !== null && "message" in e ? String(e.message) : String(e)
      yield* Console.error(`error: ${message}`)
      return EXIT.usage
    }
    if (Cause.hasInterruptsOnly(exit.cause)) return 130
    yield* Console.error(`error: ${Cause.pretty(exit.cause).split("\n")[0]}`)
    return EXIT.failed
  })
