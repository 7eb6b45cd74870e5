/**
 * Child processes for the cross-process tests: started with `process.execPath` (Node 24 inside
 * vitest), their stdout read line by line, killed when the test's scope closes.
 */
import { Deferred, Effect, Queue } from "effect"
import { spawn } from "node:child_process"
import * as path from "node:path"

export interface Child {
  readonly pid: number
  /** Every stdout line, in order. */
  readonly lines: Queue.Queue<string>
  /** Everything printed so far (stdout and stderr), for failure messages. */
  readonly output: () => string
  /** The exit code (or 128 + signal number). */
  readonly exit: Deferred.Deferred<number>
  readonly kill: (signal: NodeJS.Signals) => Effect.Effect<void>
}

const signals: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 }

/** Runs `node <script> ...args` with `env` added; the child is killed (SIGKILL) when the scope closes. */
export const spawnNode = (script: string, args: ReadonlyArray<string>, env: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const lines = yield* Queue.unbounded<string>()
      const exit = yield* Deferred.make<number>()
      let all = ""
      let pending = ""
      const child = spawn(process.execPath, [script, ...args], {
        cwd: path.resolve(import.meta.dirname, "..", ".."),
        env: { ...process.env, NO_COLOR: "1", ...env },
        stdio: ["ignore", "pipe", "pipe"]
      })
      child.stdout.on("data", (chunk: Buffer) => {
        const text = chunk.toString()
        all += text
        pending += text
        let nl = pending.indexOf("\n")
        while (nl >= 0) {
          Queue.offerUnsafe(lines, pending.slice(0, nl))
          pending = pending.slice(nl + 1)
          nl = pending.indexOf("\n")
        }
      })
      child.stderr.on("data", (chunk: Buffer) => void (all += chunk.toString()))
      child.on("exit", (code, signal) => {
        Deferred.doneUnsafe(exit, Effect.succeed(code ?? 128 + (signals[signal ?? ""] ?? 0)))
      })
      const handle: Child = {
        pid: child.pid ?? -1,
        lines,
        output: () => all,
        exit,
        kill: (signal) => Effect.sync(() => void child.kill(signal))
      }
      return { handle, child }
    }),
    ({ child }) =>
      Effect.sync(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      })
  ).pipe(Effect.map(({ handle }) => handle))

/** Takes lines until one satisfies `predicate` (which may parse it); fails if the child exits first. */
export const waitLine = <A>(child: Child, predicate: (line: string) => A | undefined, what: string) =>
  Effect.gen(function*() {
    while (true) {
      const line = yield* Queue.take(child.lines).pipe(
        Effect.raceFirst(
          Effect.flatMap(Deferred.await(child.exit), (code) =>
            // drain what is left before giving up
            Effect.flatMap(Queue.poll(child.lines), (next) =>
              next._tag === "Some"
                ? Effect.succeed(next.value)
                : Effect.fail(new Error(`child exited (${code}) before ${what}:\n${child.output().slice(-3000)}`))))
        )
      )
      const found = predicate(line)
      if (found !== undefined) return found
    }
  }).pipe(
    Effect.timeoutOrElse({
      duration: "20 seconds",
      orElse: () => Effect.fail(new Error(`timed out waiting for ${what}:\n${child.output().slice(-3000)}`))
    })
  )

/** A JSON bus event from an NDJSON line, if it is one. */
export const eventOf = (line: string): { readonly _tag: string; readonly [k: string]: unknown } | undefined => {
  if (!line.startsWith("{")) return undefined
  try {
    return JSON.parse(line)
  } catch {
    return undefined
  }
}

export const fixture = (name: string) => path.resolve(import.meta.dirname, "..", "fixtures", name)
