/**
 * Child processes for the cross-process tests: started with `process.execPath` (Node 24 inside
 * vitest), their stdout read line by line, killed (SIGKILL) when the test's scope closes.
 *
 * Tests synchronise on what a child prints and on its exit, never on time: `waitLine` takes lines
 * until one matches (failing, with the child's output, if it exits first), `runToEnd` waits for the
 * exit and every line.
 */
import { Deferred, Effect, Queue } from "effect"
import { spawn } from "node:child_process"
import * as os from "node:os"
import * as path from "node:path"

export const root = path.resolve(import.meta.dirname, "..", "..")

/** The command line, from source. */
export const bin = path.join(root, "src", "cli", "bin.ts")

/** A fixture of `test/fixtures`. */
export const fixture = (name: string) => path.join(root, "test", "fixtures", name)

// Node's compile cache, shared by the children of every run: a child starts in about half the time.
const compileCache = path.join(os.tmpdir(), "agent-interrupt-test-compile-cache")

export interface Child {
  readonly pid: number
  /** Every stdout line, in order, as it comes. */
  readonly lines: Queue.Queue<string>
  /** What it printed so far. */
  readonly stdout: () => string
  readonly stderr: () => string
  /** Both, for failure messages. */
  readonly output: () => string
  /** The exit code (128 + the signal's number when killed), once its output is read to the end. */
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
      let stdout = ""
      let stderr = ""
      let all = ""
      let pending = ""
      const child = spawn(process.execPath, [script, ...args], {
        cwd: root,
        env: { ...process.env, NO_COLOR: "1", NODE_COMPILE_CACHE: compileCache, ...env },
        stdio: ["ignore", "pipe", "pipe"]
      })
      child.stdout.on("data", (chunk: Buffer) => {
        const text = chunk.toString()
        stdout += text
        all += text
        pending += text
        let nl = pending.indexOf("\n")
        while (nl >= 0) {
          Queue.offerUnsafe(lines, pending.slice(0, nl))
          pending = pending.slice(nl + 1)
          nl = pending.indexOf("\n")
        }
      })
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString()
        all += chunk.toString()
      })
      child.on("error", (error) => {
        all += `spawn failed: ${error.message}\n`
        Deferred.doneUnsafe(exit, Effect.succeed(-1))
      })
      // `close`, not `exit`: every byte it printed has been read by then
      child.on("close", (code, signal) => {
        if (pending !== "") Queue.offerUnsafe(lines, pending)
        pending = ""
        Deferred.doneUnsafe(exit, Effect.succeed(code ?? 128 + (signals[signal ?? ""] ?? 0)))
      })
      const handle: Child = {
        pid: child.pid ?? -1,
        lines,
        stdout: () => stdout,
        stderr: () => stderr,
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

/**
 * Takes stdout lines until `predicate` returns something for one (it may parse it); fails with the
 * child's output if the child ends first, or after 20 seconds (a hung child, not a synchronisation).
 */
export const waitLine = <A>(child: Child, predicate: (line: string) => A | undefined, what: string) =>
  Effect.gen(function*() {
    while (true) {
      const line = yield* Queue.take(child.lines).pipe(
        Effect.raceFirst(
          Effect.flatMap(Deferred.await(child.exit), (code) =>
            // the last lines may still be queued
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

/** A stdout line starting with `prefix`. */
export const lineStarting = (child: Child, prefix: string) =>
  waitLine(child, (l) => l.startsWith(prefix) ? l : undefined, JSON.stringify(prefix))

/** What a finished child did: its exit code, its stdout and stderr lines (blank ones left out). */
export interface Finished {
  readonly code: number
  readonly lines: ReadonlyArray<string>
  readonly errors: ReadonlyArray<string>
  readonly output: string
}

const nonEmpty = (text: string) => text.split("\n").filter((l) => l.trim() !== "")

/** Waits for the child's end (20 seconds at most). */
export const finished = (child: Child): Effect.Effect<Finished, Error> =>
  Deferred.await(child.exit).pipe(
    Effect.map((code) => ({
      code,
      lines: nonEmpty(child.stdout()),
      errors: nonEmpty(child.stderr()),
      output: child.output()
    })),
    Effect.timeoutOrElse({
      duration: "20 seconds",
      orElse: () => Effect.fail(new Error(`the child did not end:\n${child.output().slice(-3000)}`))
    })
  )

/** Runs `node <script> ...args` to its end. */
export const runToEnd = (script: string, args: ReadonlyArray<string>, env: Record<string, string>) =>
  Effect.scoped(Effect.flatMap(spawnNode(script, args, env), finished))

/** One event line of the worker fixture: `{"sequence":n,"event":{…}}`. */
export interface EventLine {
  readonly sequence: number
  readonly event: { readonly _tag: string; readonly [k: string]: unknown }
}

/** The event of a fixture's event line, if it is one. */
export const eventOf = (line: string): EventLine | undefined => {
  if (!line.startsWith("{\"sequence\":")) return undefined
  try {
    return JSON.parse(line) as EventLine
  } catch {
    return undefined
  }
}
