/**
 * What the commands share: exit codes, flags, the printer, and running an execution of the control
 * plane attached to this terminal (its events printed, Ctrl-C and SIGTERM turned into interrupts, the
 * end reported).
 */
import { Cause, Config, Console, Context, Duration, Effect, Logger, Option, Queue, Ref, Schema, type Scope, Stream } from "effect"
import { errorMessage, oneLine } from "../internal/text.ts"
import { Argument, Flag } from "effect/cli"
import type { BusEvent, InputRequest } from "../EventBus.ts"
import type { ExecutionInfo } from "../ExecutionInfo.ts"
import { Executions, type ReadError } from "../Executions.ts"
import * as Printer from "../Printer.ts"
import { Signals } from "./runMain.ts"

/**
 * The process exit codes.
 *
 * - 0 completed, 1 failed (or an interrupt that did not reach its last stage), 2 bad input, 3
 *   interrupted (resumable unless it asked for no checkpoint), 4 ended but its journal could not be
 *   saved (the store was away), 5 waiting for a person's answer (human in the loop), 130 a second
 *   Ctrl-C.
 */
export const EXIT = { completed: 0, failed: 1, usage: 2, interrupted: 3, notSaved: 4, awaiting: 5 } as const

/** The exit code the command sets; the program returns it. */
export class ExitCode extends Context.Service<ExitCode, Ref.Ref<number>>()("agent-interrupt/cli/ExitCode") {}

export const setExit = (code: number) => Effect.flatMap(ExitCode, (ref) => Ref.set(ref, code))

/** How the program was started, for hints: from source (`npm run cli --`) or installed. */
export class Invocation extends Context.Service<Invocation, { readonly command: string }>()(
  "agent-interrupt/cli/Invocation"
) {}

/**
 * Bad input the command found itself (not the flag parser): one line, exit 2.
 */
export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", { message: Schema.String }) {}

// -----------------------------------------------------------------------------
// Flags
// -----------------------------------------------------------------------------

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

/** Parses `5s`, `500ms`, `1.5 s`, `2m`, `1 hour`: a positive number and a unit. */
export const parseDuration = (text: string): Option.Option<Duration.Duration> => {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$/i.exec(text)
  if (match === null) return Option.none()
  const factor = units[match[2]!.toLowerCase()]
  const value = Number(match[1])
  return factor === undefined || !(value > 0) ? Option.none() : Option.some(Duration.millis(value * factor))
}

/** Why a duration does not parse, in plain words. */
export const durationProblem = (text: string): string =>
  /^\s*-/.test(text)
    ? `${JSON.stringify(text)} is negative: use a positive duration such as 5s, 500ms, 2m or 1h`
    : `${JSON.stringify(text)} is not a duration: use a number and a unit, such as 5s, 500ms, 2m or 1h`

/**
 * A duration flag (`--timeout 5s`). Flag values that start with `-` (`--timeout -5s`) reach the
 * command as they are and are refused with one plain line.
 */
export const durationFlag = (name: string, description: string) =>
  Flag.String(name).pipe(Flag.withDescription(description))

/** The duration of a flag value, or a one-line usage error saying what is wrong with it. */
export const toDuration = (flag: string, text: string): Effect.Effect<Duration.Duration, UsageError> =>
  Option.match(parseDuration(text), {
    onNone: () => Effect.fail(new UsageError({ message: `--${flag} ${durationProblem(text)}` })),
    onSome: Effect.succeed
  })

export const jsonFlag = Flag.Boolean("json").pipe(
  Flag.withDescription("Print events (or the result) as JSON lines instead of text"),
  Flag.withDefault(false)
)

export const stateDirFlag = Flag.String("state-dir").pipe(
  Flag.withDescription("Where journals are kept (default ./.agent-interrupt, or AGENT_INTERRUPT_STATE_DIR)"),
  Flag.withFallbackConfig(Config.String("AGENT_INTERRUPT_STATE_DIR")),
  Flag.withDefault(".agent-interrupt")
)

export const stateIdArgument = Argument.String("stateId").pipe(Argument.withDescription("The execution's state id"))

export const topicFlag = Flag.String("topic").pipe(
  Flag.withDescription("What to research"),
  Flag.withDefault("interruptible agents")
)

export const paceFlag = Flag.Finite("pace").pipe(
  Flag.withDescription("Speed of the simulated calls: 1 = real-looking, 0.1 = ten times faster"),
  Flag.withDefault(1)
)

export const forceFlag = Flag.Boolean("force").pipe(
  Flag.withDescription("Start over an existing execution of that id (demo), or take over one still owned elsewhere (resume)"),
  Flag.withDefault(false)
)

// -----------------------------------------------------------------------------
// Output
// -----------------------------------------------------------------------------

/** Text for people (colours only on a terminal without NO_COLOR), NDJSON for machines. */
export const output = (json: boolean) =>
  Effect.gen(function*() {
    const noColor = yield* Config.String("NO_COLOR").pipe(Config.option)
    const color = !json && process.stdout.isTTY === true && Option.isNone(noColor)
    return json ? Printer.ndjson() : Printer.make({ color })
  })

/** Rows as an aligned table. */
export const table = (rows: ReadonlyArray<ReadonlyArray<string>>): Array<string> => {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)))
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd())
}

export { oneLine } from "../internal/text.ts"

/**
 * The command line's logger: one line per entry on stderr (`warn: …`), so stdout stays the run's
 * events (JSON lines with `--json`) and a failure's stack never spills over the terminal.
 */
export const cliLogger = Logger.make<unknown, void>(({ cause, logLevel, message }) => {
  const parts = (Array.isArray(message) ? message : [message]).map((part) =>
    typeof part === "string" ? part : errorMessage(part)
  )
  if (cause.reasons.length > 0) parts.push(`(${errorMessage(Cause.squash(cause))})`)
  process.stderr.write(`${logLevel.toLowerCase()}: ${oneLine(parts.join(" "))}\n`)
})

// -----------------------------------------------------------------------------
// Attached runs
// -----------------------------------------------------------------------------

/**
 * Until the scope closes, the first Ctrl-C (SIGINT) interrupts `executionId` with `user_cancelled`
 * and SIGTERM with `system_shutdown` (a drain); a second signal exits at once (runMain).
 */
export const interruptOnSignals = (
  executions: Executions["Service"],
  executionId: string
): Effect.Effect<void, never, Signals | Scope.Scope> =>
  Effect.gen(function*() {
    const signals = yield* Signals
    const queue = yield* signals.listen
    yield* Queue.take(queue).pipe(
      Effect.flatMap((signal) =>
        executions.interrupt(
          executionId,
          signal === "SIGINT"
            ? { reason: "user_cancelled", message: "Interrupted with Ctrl-C (SIGINT)", triggeredBy: "cli" }
            : { reason: "system_shutdown", message: "Received SIGTERM", triggeredBy: "cli" }
        )
      ),
      Effect.ignore,
      Effect.forkScoped
    )
  })

/**
 * Prints the events of an execution's current attempt (those after `after`) as they come, with the
 * signals of this terminal attached to it, and returns how the attempt ended.
 */
export const follow = (
  executions: Executions["Service"],
  executionId: string,
  options: {
    readonly after: number
    readonly json: boolean
    readonly watch?: ReadonlyArray<(event: BusEvent) => Effect.Effect<void>> | undefined
    /** What to do when a step asks a person (after the question is printed). */
    readonly onQuestion?: ((question: InputRequest) => Effect.Effect<void, ReadError>) | undefined
  }
): Effect.Effect<ExecutionInfo, ReadError | Config.ConfigError, Signals> =>
  Effect.scoped(Effect.gen(function*() {
    yield* interruptOnSignals(executions, executionId)
    const printer = yield* output(options.json)
    yield* executions.events(executionId, { after: options.after }).pipe(
      Stream.runForEach((item) =>
        Effect.andThen(
          printer(item.event),
          Effect.andThen(
            Effect.forEach(options.watch ?? [], (watcher) => watcher(item.event), { discard: true }),
            item.event._tag === "ExecutionEvent" && item.event.input !== undefined && options.onQuestion !== undefined
              ? options.onQuestion(item.event.input)
              : Effect.void
          )
        )
      )
    )
    return yield* executions.awaitEnd(executionId)
  }))

/** The hints `report` prints: how to resume a run, how to answer a question. */
export interface Hints {
  readonly resumeHint: (executionId: string) => string
  readonly answerHint?: ((executionId: string, question: InputRequest, only: boolean) => string) | undefined
}

/**
 * The command that answers `question`: `approve <id>` for an approval, `answer <id> --value '…'`
 * otherwise (with the input id when several wait). `suffix` ends it (`--state-dir …`).
 */
export const answerCommand = (command: string, suffix: string) =>
(executionId: string, question: InputRequest, only: boolean): string => {
  const target = only ? executionId : `${executionId} ${question.inputId}`
  if (question.kind === "approval") {
    return `${command} approve ${target}${suffix}   (or: ${command} reject ${target} --reason "…"${suffix})`
  }
  const example = question.choices?.[0] ?? question.default
  return `${command} answer ${target} --value '${example === undefined ? "<json>" : JSON.stringify(example)}'${suffix}`
}

/**
 * Answers a question of `executionId` with the control plane in context, then prints the run's
 * events as it goes on (here when it was parked and is resumed here, or where it runs) and reports
 * how it ended. A new question parks it again (exit 5).
 */
export const answerAndFollow = (
  executionId: string,
  inputId: string | undefined,
  value: unknown,
  options: Hints & { readonly json: boolean }
) =>
  Effect.gen(function*() {
    const executions = yield* Executions
    const before = yield* executions.get(executionId)
    const receipt = yield* executions.answer(executionId, inputId, value, { answeredBy: "cli" })
    yield* options.json
      ? Console.log(JSON.stringify({ _tag: "AnswerAccepted", stateId: executionId, inputId: receipt.inputId, value: receipt.value }))
      : Console.log(`Answered ${receipt.inputId} of ${executionId}: ${JSON.stringify(receipt.value)}\n`)
    const info = yield* follow(executions, executionId, {
      after: before.lastSequence,
      json: options.json,
      onQuestion: () => Effect.asVoid(executions.park(executionId))
    })
    return yield* report(info, options)
  })

/**
 * Reports how an attempt ended: the result (or the resume hint) and the exit code.
 */
export const report = (
  info: ExecutionInfo,
  options: Hints & { readonly json: boolean }
) =>
  Effect.gen(function*() {
    if (info.checkpoint === "failed") {
      yield* Console.error(
        `error: ${info.executionId} ended ${info.status}, but its journal could not be saved${
          info.checkpointDetail === undefined ? "" : `: ${info.checkpointDetail}`
        }`
      )
      return yield* setExit(EXIT.notSaved)
    }
    switch (info.status) {
      case "completed": {
        const value = info.result ?? null
        yield* Console.log(
          options.json ? JSON.stringify({ _tag: "Result", stateId: info.executionId, value }) : `Result: ${JSON.stringify(value)}`
        )
        return yield* setExit(EXIT.completed)
      }
      case "interrupted": {
        if (!options.json) {
          yield* Console.log(
            info.checkpoint === "saved"
              ? `Resume with: ${options.resumeHint(info.executionId)}`
              : "Nothing was saved, so this run cannot be resumed."
          )
        }
        return yield* setExit(EXIT.interrupted)
      }
      case "awaiting": {
        if (!options.json && options.answerHint !== undefined) {
          const answerHint = options.answerHint
          for (const question of info.inputs) {
            yield* Console.log(`Waiting for your answer: ${question.prompt}`)
            yield* Console.log(`Answer with: ${answerHint(info.executionId, question, info.inputs.length === 1)}`)
          }
        }
        return yield* setExit(EXIT.awaiting)
      }
      case "failed": {
        yield* Console.error(`error: the run failed: ${info.error ?? "unknown error"}`)
        return yield* setExit(EXIT.failed)
      }
      default:
        return yield* setExit(EXIT.failed)
    }
  })
