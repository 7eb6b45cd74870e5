/**
 * The distributed commands of the command line, in child processes: `worker`, `interrupt`, `list`
 * (with REDIS_URL) and `worker --resume`.
 */
import { assert, layer } from "@effect/vitest"
import { Deferred, Effect, Queue } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { RedisServer, testLayer } from "../utils/redisServer.ts"
import { type Child, spawnNode, waitLine } from "./children.ts"
import { uid } from "./helpers.ts"

const bin = path.resolve(import.meta.dirname, "..", "..", "src", "cli", "bin.ts")

const cli = (args: ReadonlyArray<string>) =>
  Effect.flatMap(RedisServer, (server) =>
    spawnNode(bin, args, { REDIS_URL: server.url, AGENT_INTERRUPT_REDIS_PREFIX: server.prefix }))

/** Runs a command to its end: its exit code and stdout lines. */
const runToEnd = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const child = yield* cli(args)
    const code = yield* Deferred.await(child.exit)
    const lines = yield* Queue.takeAll(child.lines).pipe(
      Effect.map((all) => Array.from(all)),
      Effect.timeoutOrElse({ duration: "1 second", orElse: () => Effect.succeed<Array<string>>([]) })
    )
    return { code, lines, output: child.output() }
  })

const line = (child: Child, prefix: string) =>
  waitLine(child, (l) => l.startsWith(prefix) ? l : undefined, JSON.stringify(prefix))

layer(testLayer, { excludeTestServices: true, timeout: "60 seconds" })("agent-interrupt worker / interrupt / list", (it) => {
  it.effect("worker runs the demo on Redis; interrupt stops it from another process and prints the stages", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer
      const stateId = uid("cli")
      const worker = yield* cli(["worker", "--state-id", stateId, "--owner", "cli-worker", "--pace", "1"])
      const started = yield* line(worker, "Worker cli-worker runs ")
      assert.strictEqual(started, `Worker cli-worker runs ${stateId} on ${server.url} (prefix ${server.prefix}).`)
      yield* line(worker, "  ✓ planner::plan::llm_call")

      const stop = yield* runToEnd(["interrupt", stateId, "--reason", "user_cancelled", "--message", "From the CLI"])
      assert.strictEqual(stop.code, 0, stop.output)
      assert.strictEqual(stop.lines[0], `Interrupt user_cancelled sent to ${stateId} (running on cli-worker):`)
      assert.deepStrictEqual(stop.lines.slice(1).map((l) => l.trim().split(/\s+/)[0]), [
        "requested",
        "delivered",
        "stopped",
        "checkpointed"
      ])
      assert.match(stop.lines[2]!, /^ {2}delivered {4}\d{2}:\d{2}:\d{2}\.\d{3} {2}[+-]\d+ ms +to cli-worker via push$/)
      assert.match(stop.lines[4]!, new RegExp(`^  checkpointed \\S+  [+-]\\d+ ms +checkpoint ${stateId}$`))

      assert.strictEqual(yield* Deferred.await(worker.exit), 3)
      const rest = worker.output()
      assert.include(rest, "Message: From the CLI")
      assert.include(rest, "Triggered by: cli")
      assert.include(rest, `Checkpoint: saved ${stateId}`)
      assert.include(rest, `Resume on any machine with: npm run cli -- worker --resume ${stateId}`)

      // list, with REDIS_URL set, shows the Redis runs after the file checkpoints
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "agent-interrupt-cli-redis-"))
      const listed = yield* runToEnd(["list", "--state-dir", dir])
      assert.strictEqual(listed.code, 0, listed.output)
      const header = listed.lines.indexOf(`Redis runs on ${server.url} (prefix ${server.prefix}):`)
      assert.isAbove(header, 0)
      assert.match(listed.lines[header + 1]!, /^STATE ID\s+STATUS\s+OWNER\s+UPDATED\s+WORKFLOW\s+REASON$/)
      assert.isTrue(
        listed.lines.some((l) => new RegExp(`^${stateId}\\s+interrupted\\s+cli-worker\\s+\\S+\\s+research\\s+user_cancelled$`).test(l))
      )

      // another worker resumes it from the Redis checkpoint; the plan is replayed
      const resumed = yield* runToEnd(["worker", "--resume", stateId, "--owner", "cli-heir"])
      assert.strictEqual(resumed.code, 0, resumed.output)
      assert.isTrue(resumed.lines.some((l) => l.includes("↺ planner::plan::llm_call")))
      assert.isFalse(resumed.lines.some((l) => l.includes("▶ planner::plan::llm_call")))
      assert.isTrue(resumed.lines.some((l) => l.startsWith("Result: ")))
    }))

  it.effect("interrupt says when no worker owns the run, and rejects a bad state id", () =>
    Effect.gen(function*() {
      const stateId = uid("nobody")
      const waiting = yield* runToEnd(["interrupt", stateId, "--wait", "300ms"])
      assert.strictEqual(waiting.code, 1, waiting.output)
      assert.deepStrictEqual(waiting.lines.slice(0, 1), [`Interrupt user_cancelled sent to ${stateId} (no worker runs it yet):`])
      assert.strictEqual(
        waiting.lines.at(-1),
        `No worker runs ${stateId} yet: the interrupt waits for it and is honoured when it starts (until it expires).`
      )
      // a second one follows the first (first request wins)
      const again = yield* runToEnd(["interrupt", stateId, "--wait", "0s", "--reason", "timeout"])
      assert.strictEqual(again.code, 0, again.output)
      assert.strictEqual(
        again.lines[0],
        `An earlier interrupt of ${stateId} is already in effect (user_cancelled); following it (no worker runs it yet):`
      )

      const bad = yield* runToEnd(["interrupt", "../etc"])
      assert.strictEqual(bad.code, 2)
      assert.include(bad.output, "error: Invalid state id \"../etc\": use 1 to 128 letters")
    }))
})
