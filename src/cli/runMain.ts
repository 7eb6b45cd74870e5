/**
 * The command line's `runMain`: like `NodeRuntime.runMain`, but SIGINT and SIGTERM are handed to the
 * running command (which turns the first one into a graceful interrupt), a second signal exits at
 * once with code 130, and the program's result is the process exit code.
 */
import { Context, Effect, Exit, Queue, Runtime, type Scope } from "effect"

/**
 * The process signals a command asked to handle itself.
 */
export class Signals extends Context.Service<Signals, {
  /** Handle signals for as long as the scope lives (otherwise a signal interrupts the program). */
  readonly listen: Effect.Effect<Queue.Dequeue<"SIGINT" | "SIGTERM">, never, Scope.Scope>
}>()("agent-interrupt/cli/Signals") {}

/** Exit code of a second Ctrl-C: leave at once. */
export const FORCED_EXIT = 130

export const runMain = (program: Effect.Effect<number, never, Signals>): void => {
  let listening = 0
  let received = 0
  let queue: Queue.Queue<"SIGINT" | "SIGTERM"> | undefined
  const signals = Signals.of({
    listen: Effect.acquireRelease(
      Effect.gen(function*() {
        queue ??= yield* Queue.unbounded<"SIGINT" | "SIGTERM">()
        listening++
        return queue as Queue.Dequeue<"SIGINT" | "SIGTERM">
      }),
      () => Effect.sync(() => void listening--)
    )
  })
  Runtime.makeRunMain(({ fiber }) => {
    const onSignal = (signal: "SIGINT" | "SIGTERM") => {
      received++
      if (received > 1) {
        process.stderr.write(`\n${signal} again: exiting now (the checkpoint may not be saved)\n`)
        process.exit(FORCED_EXIT)
      }
      if (listening > 0 && queue !== undefined) Queue.offerUnsafe(queue, signal)
      else fiber.interruptUnsafe(fiber.id)
    }
    const onInt = () => onSignal("SIGINT")
    const onTerm = () => onSignal("SIGTERM")
    process.on("SIGINT", onInt)
    process.on("SIGTERM", onTerm)
    fiber.addObserver((exit) => {
      process.removeListener("SIGINT", onInt)
      process.removeListener("SIGTERM", onTerm)
      const code = Exit.isSuccess(exit) ? (exit.value as number) : FORCED_EXIT
      // Let pending output drain: end by exit code, with a deadline in case a handle lingers.
      process.exitCode = code
      setTimeout(() => process.exit(code), 3000).unref()
    })
  })(Effect.provideService(program, Signals, signals), { disableErrorReporting: true })
}
