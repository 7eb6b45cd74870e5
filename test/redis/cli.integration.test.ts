/**
 * The Redis commands of the real command line, each in its own process: `worker`, `interrupt` from
 * another process, `worker --resume`, `list` with REDIS_URL, and what they say when the run is not
 * running, the id is invalid, REDIS_URL is not a URL or Redis is not there.
 */
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { RedisServer, testLayer } from "../utils/redisServer.ts"
import { finished, lineStarting } from "./children.ts"
import { cli, cliToEnd, keys, send, uid } from "./helpers.ts"

const STAMP = String.raw`\d{2}:\d{2}:\d{2}\.\d{3}`
const DELTA = String.raw`[+-]\d+ ms`

/** A fresh, empty state directory for `list`. */
const stateDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "agent-interrupt-cli-redis-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

/** No stack trace, no log line (`[12:00:00.000] WARN (#7): …`) in what a command printed. */
const assertNoNoise = (output: string) => {
  assert.notMatch(output, /^\s+at /m, `a stack trace:\n${output}`)
  assert.notMatch(output, /\b(WARN|ERROR|INFO)\b.*\(#\d+\)/, `a log line:\n${output}`)
  assert.notInclude(output, "NodeRedis client error", output)
}

layer(testLayer, { excludeTestServices: true, timeout: "30 seconds" })("agent-interrupt worker / interrupt / list on Redis", (it) => {
  it.effect(
    "worker runs; interrupt from another process prints every stage; the worker exits 3; worker --resume completes",
    () =>
      Effect.gen(function*() {
        const server = yield* RedisServer
        const k = yield* keys
        const stateId = uid("cli")
        const worker = yield* cli(["worker", "--state-id", stateId, "--pace", "1"])
        assert.strictEqual(
          yield* lineStarting(worker, "Worker runs "),
          `Worker runs ${stateId} on ${server.url} (prefix ${server.prefix}).`
        )
        yield* lineStarting(worker, "  ✓ planner::plan::llm_call")
        const owner = yield* send<string | null>("GET", k.lease(stateId))
        assert.isString(owner)

        const stop = yield* cliToEnd(["interrupt", stateId, "--message", "enough"])
        assert.strictEqual(stop.code, 0, stop.output)
        assert.deepStrictEqual(stop.errors, [])
        assert.strictEqual(stop.lines.length, 5, stop.output)
        assert.strictEqual(stop.lines[0], `Interrupt user_cancelled sent to ${stateId} (running on ${owner}):`)
        assert.match(stop.lines[1]!, new RegExp(`^  requested    ${STAMP}$`))
        assert.match(stop.lines[2]!, new RegExp(`^  delivered    ${STAMP}  ${DELTA} +to ${owner} via push$`))
        assert.match(stop.lines[3]!, new RegExp(`^  stopped      ${STAMP}  ${DELTA}$`))
        assert.match(stop.lines[4]!, new RegExp(`^  checkpointed ${STAMP}  ${DELTA} +checkpoint ${stateId}$`))

        const first = yield* finished(worker)
        assert.strictEqual(first.code, 3, first.output)
        assert.include(first.lines, "Message: enough")
        assert.include(first.lines, "Triggered by: cli")
        assert.include(first.lines, `Checkpoint: saved ${stateId}`)
        assert.strictEqual(first.lines.at(-1), `Resume with: npm run cli -- worker --resume ${stateId}`)
        assertNoNoise(first.output)

        // resumed from its journal in Redis by another process: the plan is replayed, not run again
        const resumed = yield* cliToEnd(["worker", "--resume", stateId])
        assert.strictEqual(resumed.code, 0, resumed.output)
        const recovered = resumed.lines.filter((l) => l.includes("↺ "))
        assert.isAbove(recovered.length, 0, resumed.output)
        assert.isTrue(recovered.every((l) => l.endsWith("(Recovered from restored state)")), recovered.join("\n"))
        assert.isTrue(recovered.some((l) => l.startsWith("  ↺ planner::plan::llm_call")), recovered.join("\n"))
        assert.isFalse(resumed.lines.some((l) => l.includes("▶ planner::plan::llm_call")), resumed.output)
        assert.match(resumed.lines.at(-1)!, /^Result: \{"topic":"interruptible agents","sources":\["web","papers","news"\]/)
        assertNoNoise(resumed.output)

        // now it is not running: one line, exit 1, nothing left behind; and `list` shows it on Redis
        const dir = yield* stateDir
        const [again, listed] = yield* Effect.all([
          cliToEnd(["interrupt", stateId]),
          cliToEnd(["list", "--state-dir", dir])
        ], { concurrency: "unbounded" })
        assert.strictEqual(again.code, 1, again.output)
        assert.deepStrictEqual([again.lines, again.errors], [[], [
          `${stateId} is not running (completed): nothing to interrupt`
        ]])
        assert.strictEqual(yield* send<number>("EXISTS", k.request(stateId)), 0)
        assert.strictEqual(listed.code, 0, listed.output)
        const header = listed.lines.indexOf(`Executions on Redis ${server.url} (prefix ${server.prefix}):`)
        assert.isAbove(header, 0, listed.output)
        assert.match(listed.lines[header + 1]!, /^STATE ID\s+STATUS\s+OWNER\s+UPDATED\s+WORKFLOW\s+REASON$/)
        assert.isTrue(
          listed.lines.some((l) => new RegExp(`^${stateId}\\s+completed\\s+\\S+\\s+\\S+\\s+research\\s+-$`).test(l)),
          listed.output
        )
      }),
    30_000
  )

  it.effect("interrupt of an unknown run, and invalid state ids: one line each", () =>
    Effect.gen(function*() {
      const unknown = uid("nobody")
      const [missing, badInterrupt, badWorker] = yield* Effect.all([
        cliToEnd(["interrupt", unknown]),
        cliToEnd(["interrupt", "../etc"]),
        cliToEnd(["worker", "--state-id", "../etc"])
      ], { concurrency: "unbounded" })
      assert.strictEqual(missing.code, 1, missing.output)
      assert.deepStrictEqual([missing.lines, missing.errors], [[], [`${unknown} is not running (unknown): nothing to interrupt`]])
      for (const bad of [badInterrupt, badWorker]) {
        assert.strictEqual(bad.code, 2, bad.output)
        assert.deepStrictEqual(bad.lines, [])
        assert.strictEqual(bad.errors.length, 1, bad.output)
        assert.match(bad.errors[0]!, /^error: Invalid state id "\.\.\/etc": use 1 to 128 letters/)
      }
    }), 30_000)

  it.effect("REDIS_URL that is not a URL: one line, exit 2; Redis not listening: one line, exit 1, no stack, no log", () =>
    Effect.gen(function*() {
      const dir = yield* stateDir
      const down = { REDIS_URL: "redis://127.0.0.1:1" }
      const [notUrl, list, interrupt, worker] = yield* Effect.all([
        cliToEnd(["list", "--state-dir", dir], { REDIS_URL: "notaurl" }),
        cliToEnd(["list", "--state-dir", dir], down),
        cliToEnd(["interrupt", "some-run"], down),
        cliToEnd(["worker", "--pace", "0.1"], down)
      ], { concurrency: "unbounded" })

      assert.strictEqual(notUrl.code, 2, notUrl.output)
      assert.deepStrictEqual(notUrl.errors, [
        "error: REDIS_URL \"notaurl\" is not a Redis URL (it does not start with redis://); use redis://host:port"
      ])
      // `list` lists the state directory first, then refuses the Redis part
      assert.deepStrictEqual(notUrl.lines, [`No executions in ${dir}`])

      for (const [name, result, stdout] of [
        ["list", list, [`No executions in ${dir}`]],
        ["interrupt", interrupt, []],
        ["worker", worker, []]
      ] as const) {
        assert.strictEqual(result.code, 1, `${name}: ${result.output}`)
        assertNoNoise(result.output)
        assert.deepStrictEqual(result.lines, stdout, `${name}: ${result.output}`)
        assert.strictEqual(result.errors.length, 1, `${name}: ${result.output}`)
        assert.match(
          result.errors[0]!,
          /^error: Redis at redis:\/\/127\.0\.0\.1:1 is unavailable: .*ECONNREFUSED.* \(start it, or set REDIS_URL\)$/,
          name
        )
      }
    }), 30_000)
})
