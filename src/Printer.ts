/**
 * The terminal printer: a bus subscriber writing one line per event — status symbol, address,
 * duration, detail, tokens used, indented by depth — the live output of streaming events (a language
 * model's text, as it arrives, in lines of up to 72 characters), and the interrupt banner when a run
 * ends interrupted.
 *
 * Colours are used only when asked for (the command line asks when its output is a TTY and
 * `NO_COLOR` is not set). Lines go through Effect's `Console`.
 *
 * @since 0.1.0
 */
import { Console, Effect, Schema } from "effect"
import {
  type BusEvent,
  BusEventJson,
  eventDepth,
  type ExecutionEvent,
  type ExecutionFinished,
  type GroupEvent,
  type InputEvent,
  type InputRequest,
  type OutputDelta
} from "./EventBus.ts"
import type { ExecutionStatus, InterruptEvent, InterruptSignal } from "./Interrupt.ts"

/**
 * Options of {@link make} and {@link format}.
 *
 * **Details**
 *
 * - `color`: ANSI colours (default `false`).
 * - `write`: where lines go (default `Console.log`).
 *
 * @category options
 * @since 0.1.0
 */
export interface PrinterOptions {
  readonly color?: boolean | undefined
  readonly write?: ((line: string) => Effect.Effect<void>) | undefined
}

/**
 * The symbol of each status.
 *
 * @category models
 * @since 0.1.0
 */
export const symbols: Readonly<Record<ExecutionStatus, string>> = {
  started: "▶",
  completed: "✓",
  failed: "✗",
  interrupted: "■",
  cancelling: "…",
  recovered: "↺",
  retrying: "↻",
  awaiting: "⏸",
  human_intervention: "✋"
}

const ansi = {
  reset: "\u001b[0m",
  bold: "\u001b[1m",
  dim: "\u001b[2m",
  red: "\u001b[31m",
  green: "\u001b[32m",
  yellow: "\u001b[33m",
  blue: "\u001b[34m",
  magenta: "\u001b[35m",
  cyan: "\u001b[36m"
} as const

type Paint = keyof typeof ansi

const statusColor: Readonly<Record<ExecutionStatus, Paint>> = {
  started: "blue",
  completed: "green",
  failed: "red",
  interrupted: "magenta",
  cancelling: "yellow",
  recovered: "cyan",
  retrying: "yellow",
  awaiting: "dim",
  human_intervention: "yellow"
}

/**
 * A duration for humans: `850ms`, `1.20s`, `0.4ms`.
 *
 * @category utils
 * @since 0.1.0
 */
export const formatMillis = (ms: number): string => {
  if (ms < 1) return `${ms.toFixed(2)}ms`
  if (ms < 10) return `${ms.toFixed(1)}ms`
  if (ms < 1000) return `${Math.round(ms)}ms`
  return `${(ms / 1000).toFixed(2)}s`
}

const DETAIL = 90

const clip = (text: string): string => text.length <= DETAIL ? text : `${text.slice(0, DETAIL - 1)}…`

const quote = (value: unknown): string => {
  const text = typeof value === "string" ? value : JSON.stringify(value)
  return JSON.stringify(text.length > 60 ? `…${text.slice(-59)}` : text)
}

/**
 * The interrupt banner: `EXECUTION INTERRUPTED`, then reason, message, who, when and whether the
 * checkpoint was saved (`Checkpoint: not saved (<why>)` when it was not and the reason is known).
 *
 * @category formatting
 * @since 0.1.0
 */
export const banner = (
  signal: InterruptSignal,
  checkpoint: { readonly saved: boolean; readonly id?: string | undefined; readonly detail?: string | undefined }
): ReadonlyArray<string> => {
  const rule = "═".repeat(48)
  const notSaved = checkpoint.detail === undefined ? "Checkpoint: not saved" : `Checkpoint: not saved (${checkpoint.detail})`
  return [
    rule,
    "EXECUTION INTERRUPTED",
    `Reason: ${signal.reason}`,
    `Message: ${signal.message ?? "-"}`,
    `Triggered by: ${signal.triggeredBy ?? "-"}`,
    `Time: ${signal.triggeredAt}`,
    checkpoint.saved ? `Checkpoint: saved ${checkpoint.id ?? ""}` : notSaved,
    rule
  ]
}

// The text of a language-model call's result (`{ text, finishReason, usage, ... }`), if it is one.
const llmText = (event: ExecutionEvent): string | undefined => {
  const result = event.result
  if (event.kind !== "llm" || typeof result !== "object" || result === null || Array.isArray(result)) return undefined
  const text = (result as { readonly [key: string]: Schema.Json }).text
  return typeof text === "string" ? text : undefined
}

// A question for a person: what it asks and how to answer.
const waitingLine = (
  event: ExecutionEvent,
  input: InputRequest,
  paint: (color: Paint, text: string) => string
): string => {
  const how = input.kind === "approval"
    ? "approve or reject"
    : input.choices !== undefined
    ? `one of ${input.choices.map((c) => JSON.stringify(c)).join(", ")}`
    : undefined
  const until = input.deadline === undefined
    ? ""
    : ` (until ${input.deadline}, then ${input.default === undefined ? "a timeout" : JSON.stringify(input.default)})`
  return `${"  ".repeat(eventDepth(event))}${paint("yellow", "✋ waiting for you:")} ${input.prompt}${
    how === undefined ? "" : ` — ${how}`
  }${until} ${paint("dim", `[${input.inputId} at ${event.address}]`)}`
}

const inputLine = (event: InputEvent, paint: (color: Paint, text: string) => string): string =>
  "  ".repeat(eventDepth(event)) + (event.status === "answered"
    ? `${paint("green", "✓ answered")} ${event.inputId}: ${clip(JSON.stringify(event.value ?? null))}${
      event.defaulted === true ? " (the default: the deadline passed)" : event.answeredBy === undefined ? "" : ` (by ${event.answeredBy})`
    }`
    : `${paint("red", "✗ answer refused")} ${event.inputId}: ${event.message ?? "invalid"}`)

const executionLine = (event: ExecutionEvent, paint: (color: Paint, text: string) => string): string => {
  if (event.input !== undefined) return waitingLine(event, event.input, paint)
  const indent = "  ".repeat(eventDepth(event))
  const symbol = paint(statusColor[event.status], symbols[event.status])
  const parts = [`${indent}${symbol} ${event.address}`]
  if (event.occurrence > 1) parts.push(paint("dim", `#${event.occurrence}`))
  if (event.attempt > 1 && event.status !== "retrying") parts.push(paint("dim", `[attempt ${event.attempt}]`))
  if (event.executionTime !== undefined) parts.push(paint("dim", `(${formatMillis(event.executionTime)})`))
  if (event.stopLatency !== undefined) parts.push(paint("dim", `(stopped in ${formatMillis(event.stopLatency)})`))
  const said = [event.message, event.detail].filter((s): s is string => s !== undefined && s !== "")
  if (event.status === "completed" || event.status === "recovered" || event.status === "started") {
    const text = llmText(event)
    if (text !== undefined) parts.push(`— ${clip(JSON.stringify(text))}`)
    else if (event.detail !== undefined) parts.push(`— ${clip(event.detail)}`)
    if (event.status === "recovered" && event.message !== undefined) parts.push(paint("cyan", `(${event.message})`))
  } else if (said.length > 0) {
    parts.push(`— ${clip(said.join(" · "))}`)
  }
  if (event.partialOutput !== undefined) parts.push(paint("dim", `partial output: ${quote(event.partialOutput)}`))
  if (event.usage !== undefined && event.status !== "recovered") {
    parts.push(paint("dim", `(tokens: ${event.usage.inputTokens} in, ${event.usage.outputTokens} out)`))
  }
  return parts.join(" ")
}

/** How wide a line of live output may grow before it is written. */
const LIVE_WIDTH = 72

// Cuts complete lines off the front of `buffer`: at a newline, or at the last space before the width.
const takeLines = (buffer: string): { readonly lines: Array<string>; readonly rest: string } => {
  const lines: Array<string> = []
  let rest = buffer
  for (;;) {
    const newline = rest.indexOf("\n")
    if (newline >= 0 && newline <= LIVE_WIDTH) {
      lines.push(rest.slice(0, newline))
      rest = rest.slice(newline + 1)
      continue
    }
    if (rest.length <= LIVE_WIDTH) return { lines, rest }
    const space = rest.lastIndexOf(" ", LIVE_WIDTH)
    const cut = space > 0 ? space : LIVE_WIDTH
    lines.push(rest.slice(0, cut))
    rest = rest.slice(space > 0 ? cut + 1 : cut)
  }
}

const liveLine = (address: string, text: string, paint: (color: Paint, text: string) => string): string =>
  `${"  ".repeat(eventDepth({ address }) + 1)}${paint("dim", `┆ ${text}`)}`

const groupLine = (event: GroupEvent, paint: (color: Paint, text: string) => string): string => {
  const indent = "  ".repeat(Math.max(0, event.address.split("::").length - 1))
  const color: Paint = event.status === "completed"
    ? "green"
    : event.status === "failed" || event.status === "cancelled"
    ? "magenta"
    : "blue"
  const counts = `${event.completed}/${event.total} done${event.failed > 0 ? `, ${event.failed} failed` : ""}`
  return `${indent}${paint(color, "◆")} group ${event.groupId} ${event.status} (${counts})${
    event.detail === undefined ? "" : ` — ${event.detail}`
  }`
}

const interruptLine = (event: InterruptEvent, paint: (color: Paint, text: string) => string): string => {
  const signal = event.signal
  return paint(
    "magenta",
    `⚡ interrupt requested: ${signal.reason}${signal.message === undefined ? "" : ` — ${signal.message}`}${
      signal.triggeredBy === undefined ? "" : ` (by ${signal.triggeredBy})`
    }`
  )
}

const finishedLines = (event: ExecutionFinished, paint: (color: Paint, text: string) => string): ReadonlyArray<string> => {
  switch (event.status) {
    case "completed":
      return [paint("green", `✔ execution ${event.stateId} completed`)]
    case "failed":
      return [paint("red", `✘ execution ${event.stateId} failed${event.detail === undefined ? "" : `: ${event.detail}`}`)]
    case "awaiting":
      return [
        paint("yellow", `⏸ execution ${event.stateId} is waiting for an answer: nothing runs until it comes, from any process`)
      ]
    case "interrupted":
      return event.signal === undefined
        ? [paint("magenta", `■ execution ${event.stateId} interrupted`)]
        : banner(event.signal, {
          saved: event.checkpoint === "saved",
          id: event.checkpointId,
          detail: event.checkpointDetail
        }).map((line) =>
          paint("magenta", line)
        )
  }
}

const painter = (options: PrinterOptions) =>
  options.color === true
    ? (color: Paint, text: string) => `${ansi[color]}${text}${ansi.reset}`
    : (_: Paint, text: string) => text

/**
 * The lines the printer writes for one bus event (none for events it does not show). An
 * `OutputDelta` alone makes no line: {@link make} gathers the deltas of an event into lines.
 *
 * @category formatting
 * @since 0.1.0
 */
export const format = (event: BusEvent, options: PrinterOptions = {}): ReadonlyArray<string> => {
  const paint = painter(options)
  switch (event._tag) {
    case "ExecutionEvent":
      return [executionLine(event, paint)]
    case "OutputDelta":
      return []
    case "GroupEvent":
      return event.status === "pending" ? [] : [groupLine(event, paint)]
    case "LogEvent":
      return [paint(event.level === "error" ? "red" : "yellow", `! ${event.level}: ${event.message}`)]
    case "InterruptEvent":
      return [interruptLine(event, paint)]
    case "ExecutionStarted":
      return []
    case "ExecutionFinished":
      return finishedLines(event, paint)
    case "InputEvent":
      return [inputLine(event, paint)]
  }
}

/**
 * A bus handler printing every event. The live output of a streaming event (`OutputDelta`s) is
 * written as it comes, one line of up to 72 characters at a time (`┆ text`, under the event), and
 * what is left when the event ends, just before its final line.
 *
 * **Example** (Print a run's events)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Printer, Run } from "agent-interrupt"
 *
 * const program = Effect.succeed("done")
 * Run.run(program, { subscribers: [Printer.make({ color: false })] })
 * // prints "✔ execution … completed"
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: PrinterOptions = {}) => {
  const write = options.write ?? ((line: string) => Console.log(line))
  const paint = painter(options)
  const writeAll = (lines: ReadonlyArray<string>) => Effect.forEach(lines, write, { discard: true })
  // the text of each streaming event (address#occurrence) not written yet
  const live = new Map<string, string>()
  const onDelta = (event: OutputDelta): Effect.Effect<void> => {
    const key = `${event.address}#${event.occurrence}`
    const { lines, rest } = takeLines((live.get(key) ?? "") + event.delta)
    live.set(key, rest)
    return writeAll(lines.map((line) => liveLine(event.address, line, paint)))
  }
  const flush = (event: ExecutionEvent): ReadonlyArray<string> => {
    const key = `${event.address}#${event.occurrence}`
    const rest = live.get(key)
    if (rest === undefined) return []
    live.delete(key)
    return rest.trim() === "" ? [] : [liveLine(event.address, rest, paint)]
  }
  return (event: BusEvent): Effect.Effect<void> => {
    if (event._tag === "OutputDelta") return onDelta(event)
    const lines = format(event, options)
    return event._tag === "ExecutionEvent" && event.status !== "started"
      ? writeAll([...flush(event), ...lines])
      : writeAll(lines)
  }
}

/**
 * A bus handler writing each event as one JSON line (NDJSON).
 *
 * @category constructors
 * @since 0.1.0
 */
export const ndjson = (write: (line: string) => Effect.Effect<void> = (line) => Console.log(line)) => {
  const encode = Schema.encodeSync(BusEventJson)
  return (event: BusEvent): Effect.Effect<void> => write(encode(event))
}
