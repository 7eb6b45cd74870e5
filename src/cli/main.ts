/**
 * The `agent-interrupt` command line: run the demo workflow, stop it with Ctrl-C, resume it, list and
 * show executions; on Redis (`REDIS_URL`), run it as a `worker` and `interrupt` it from any process;
 * `serve` the HTTP control API and page. Every command maps its input to the control plane
 * (`Executions`).
 *
 * Exit codes (src/cli/common.ts `EXIT`): 0 completed, 1 failed (or an interrupt that found the run
 * not running), 2 bad input, 3 interrupted, 4 ended but not saved, 5 awaiting a person's answer, 130 a
 * second Ctrl-C.
 */
import { NodeServices } from "@effect/platform-node"
import { Cause, Console, Effect, Layer, Logger, Option, Ref } from "effect"
import { CliError, CliOutput, Command } from "effect/cli"
import { errorMessage } from "../internal/text.ts"
import { cliLogger, EXIT, ExitCode, Invocation, oneLine } from "./common.ts"
import * as Local from "./local.ts"
import * as RedisCli from "./redis.ts"
import type { Signals } from "./runMain.ts"
import { makeServe } from "./serve.ts"

export { EXIT } from "./common.ts"

export const root = Command.make("agent-interrupt").pipe(
  Command.withDescription("Run agent workflows that can be stopped at any moment without losing work"),
  Command.withSubcommands([...Local.commands, ...RedisCli.commands, makeServe({ workflows: Local.workflows })])
)

// Bad invocations: the errors only, one line each, on stderr (help stays behind --help).
const presenter = CliOutput.layerPresenter({
  present: (event) =>
    event._tag === "InvalidInvocation"
      ? Console.error(
        `error: ${event.errors.map((error) => oneLine(error.message)).join("; ")} (see: agent-interrupt ${
          event.commandPath.slice(1).join(" ")
        } --help)`
      )
      : CliOutput.defaultPresenter.present(event)
})

// Flags whose value may begin with "-" (`--timeout -5s`): joined to their flag so the command itself
// says what is wrong with the value, instead of the parser reading it as an unknown flag.
const VALUE_FLAGS = new Set(["--timeout", "--wait", "--message", "--pace"])
const normalize = (args: ReadonlyArray<string>): Array<string> => {
  const out: Array<string> = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    const next = args[i + 1]
    if (VALUE_FLAGS.has(arg) && next !== undefined && /^-[^-]/.test(next)) {
      out.push(`${arg}=${next}`)
      i++
    } else out.push(arg)
  }
  return out
}

// A failure as one line without a doubled "Error:" prefix.
const lineOf = (error: unknown): string =>
  oneLine(errorMessage(error)).replace(/^(?:[A-Za-z]*Error: )+/, "")

/** Exit codes of the command's own typed failures (everything else is bad input, 2). */
const codeOf = (error: unknown): number => {
  const tag = typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : ""
  if (tag === "RedisUnreachable") return (error as { readonly badUrl: boolean }).badUrl ? EXIT.usage : EXIT.failed
  if (tag === "BackendUnavailable") return EXIT.failed
  return EXIT.usage
}

/** Runs the command line with `args`; succeeds with the process exit code. */
export const main = (args: ReadonlyArray<string>, invocation: string): Effect.Effect<number, never, Signals> =>
  Effect.gen(function*() {
    const code = yield* Ref.make<number>(EXIT.completed)
    const exit = yield* Command.runWith(root, { version: "0.2.0" })(normalize(args)).pipe(
      Effect.provide(Layer.mergeAll(NodeServices.layer, presenter, Logger.layer([cliLogger]))),
      Effect.provideService(ExitCode, code),
      Effect.provideService(Invocation, { command: invocation }),
      Effect.exit
    )
    if (exit._tag === "Success") return yield* Ref.get(code)
    const error = Cause.findErrorOption(exit.cause)
    if (Option.isSome(error)) {
      const e = error.value
      if (CliError.isCliError(e)) return EXIT.usage // already reported by the presenter
      yield* Console.error(`error: ${lineOf(e)}`)
      return codeOf(e)
    }
    if (Cause.hasInterruptsOnly(exit.cause)) return 130
    yield* Console.error(`error: ${lineOf(Cause.squash(exit.cause))}`)
    return EXIT.failed
  })
