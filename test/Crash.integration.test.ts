/**
 * Crash tests of durability: runs killed with SIGKILL at random steps and resumed until they complete
 * (file store and Redis), two resumes racing for one lost run, and Redis itself killed under a run.
 *
 * The child process is test/fixtures/crash-run.ts: 15 steps (6, a parallel group of 3, 6), each
 * writing `start <idempotencyKey>` to a counts file and printing `STEP <address#occurrence>`; a bus
 * subscriber writes `published <address#occurrence>` for every `completed` event. Kills are
 * synchronised on the child's `STEP` lines (never on elapsed time), at steps drawn from a seeded PRNG,
 * so a failing sequence can be replayed (the seed is in every failure message). `CRASH_STATS=1`
 * prints what each crash loop did (kills, runs, processes, resumes that waited for a Redis lease).
 */
import { NodeServices } from "@effect/platform-node"
import { afterAll, assert, describe, it, layer } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Option, Queue, Schedule } from "effect"
import { type ChildProcessByStdio, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { Readable, Writable } from "node:stream"
import {
  Actor,
  type BusEvent,
  type CheckpointError,
  CheckpointStore,
  type ExecutionFinished,
  type ExecutionState,
  type JournalRecord,
  type LogEvent,
  Run,
  runEvent,
  stepKey
} from "../src/index.ts"
import * as RedisStore from "../src/redis/RedisStore.ts"
import { RedisServer, redisLayer } from "./utils/redisServer.ts"

const root = path.resolve(import.meta.dirname, "..")
// The children (about 100 of them) share a compile cache: each starts in ~0.4 s instead of ~0.6 s.
const compileCache = fs.mkdtempSync(path.join(os.tmpdir(), "agent-interrupt-crash-cache-"))
afterAll(() => fs.rmSync(compileCache, { recursive: true, force: true }))
const fixture = path.join(import.meta.dirname, "fixtures", "crash-run.ts")

/** Kills per store in the crash loop. */
const KILLS = 30
/** The 15 steps of the fixture's workflow, by `address#occurrence`. */
const STEPS = [
  ...[1, 2, 3, 4, 5, 6].map((n) => `step::tool_call#${n}`),
  ...["a", "b", "c"].map((tag) => `branch::${tag}::tool_call#1`),
  ...[7, 8, 9, 10, 11, 12].map((n) => `step::tool_call#${n}`)
]

// -----------------------------------------------------------------------------
// Helpers
// -----------------------------------------------------------------------------

/** mulberry32: a tiny seeded PRNG, so a failing kill sequence can be replayed. */
const prng = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A state id unique to this test run (the Redis server is shared by the tests of a block). */
const uid = (name: string) => `${name}-${globalThis.crypto.randomUUID().slice(0, 8)}`

const tempDir = (name: string) =>
  Effect.acquireRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), `agent-interrupt-${name}-`))),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )

/** Where the children keep their journals: the arguments and environment that say so. */
interface Target {
  readonly name: "file" | "redis"
  readonly args: ReadonlyArray<string>
  readonly env: Record<string, string>
  /** Where the counts files go. */
  readonly dir: string
}

interface Finished {
  /** The exit code, or 128 + the signal number. */
  readonly code: number
  /** Whether it died of SIGKILL. */
  readonly killed: boolean
  readonly lines: ReadonlyArray<string>
  /** stdout and stderr, for failure messages. */
  readonly output: string
}

const lineReader = (onLine: (line: string) => void) => {
  let pending = ""
  return (chunk: Buffer) => {
    pending += chunk.toString()
    let nl = pending.indexOf("\n")
    while (nl >= 0) {
      onLine(pending.slice(0, nl))
      pending = pending.slice(nl + 1)
      nl = pending.indexOf("\n")
    }
  }
}

const spawnFixture = (target: Target, mode: "run" | "resume", stateId: string, extra: ReadonlyArray<string>, stdin: "ignore" | "pipe") =>
  spawn(process.execPath, [
    fixture,
    mode,
    stateId,
    ...target.args,
    "--counts",
    path.join(target.dir, `${stateId}.counts`),
    ...extra
  ], { cwd: root, env: { ...process.env, NODE_COMPILE_CACHE: compileCache, ...target.env }, stdio: [stdin, "pipe", "pipe"] }) as ChildProcessByStdio<
    Writable | null,
    Readable,
    Readable
  >

/**
 * Runs the fixture to its end; with `killAtStep`, sends SIGKILL the moment it prints its n-th `STEP`
 * line (from the stdout handler, so the kill follows the line without any timer).
 */
const runFixture = (
  target: Target,
  mode: "run" | "resume",
  stateId: string,
  options: { readonly killAtStep?: number | undefined; readonly extra?: ReadonlyArray<string> } = {}
) =>
  Effect.callback<Finished>((resume) => {
    const child = spawnFixture(target, mode, stateId, options.extra ?? [], "ignore")
    const lines: Array<string> = []
    let output = ""
    let steps = 0
    child.stdout.on("data", (chunk: Buffer) => void (output += chunk.toString()))
    child.stdout.on(
      "data",
      lineReader((line) => {
        lines.push(line)
        if (line.startsWith("STEP ") && ++steps === options.killAtStep) child.kill("SIGKILL")
      })
    )
    child.stderr.on("data", (chunk: Buffer) => void (output += chunk.toString()))
    child.on("error", (error) => resume(Effect.die(error)))
    child.on("close", (code, signal) =>
      resume(Effect.succeed({
        code: code ?? 128 + (signal === "SIGKILL" ? 9 : 0),
        killed: signal === "SIGKILL",
        lines,
        output
      })))
    return Effect.sync(() => void child.kill("SIGKILL"))
  }).pipe(
    Effect.timeoutOrElse({
      duration: "20 seconds",
      orElse: () => Effect.die(new Error(`${mode} ${stateId}: the child did not end within 20 seconds`))
    })
  )

/** A fixture waiting at its gate (`--gate`): `ready` once it printed READY, `go` lets it start. */
const spawnGated = (target: Target, stateId: string, extra: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const ready = yield* Deferred.make<void>()
      const done = yield* Deferred.make<Finished>()
      const child = spawnFixture(target, "resume", stateId, ["--gate", ...extra], "pipe")
      const lines: Array<string> = []
      let output = ""
      child.stdout.on("data", (chunk: Buffer) => void (output += chunk.toString()))
      child.stdout.on(
        "data",
        lineReader((line) => {
          lines.push(line)
          if (line === "READY") Deferred.doneUnsafe(ready, Effect.void)
        })
      )
      child.stderr.on("data", (chunk: Buffer) => void (output += chunk.toString()))
      // a child that died before reading its gate: the exit says why, not an EPIPE
      child.stdin?.on("error", () => undefined)
      child.on("error", (error) => Deferred.doneUnsafe(done, Effect.die(error)))
      child.on("close", (code, signal) =>
        Deferred.doneUnsafe(
          done,
          Effect.succeed({ code: code ?? 128 + (signal === "SIGKILL" ? 9 : 0), killed: signal === "SIGKILL", lines, output })
        ))
      return { child, ready, done, go: Effect.sync(() => void child.stdin?.write("GO\n")) }
    }),
    ({ child }) =>
      Effect.sync(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      })
  )

const resultOf = (finished: Finished): unknown => {
  const line = finished.lines.find((l) => l.startsWith("RESULT "))
  assert.isDefined(line, `no RESULT line (exit ${finished.code}):\n${finished.output.slice(-3000)}`)
  return JSON.parse(line!.slice(7))
}

/** What the counts file says: steps started again after their `completed` was published, and more. */
const readCounts = (target: Target, stateId: string) => {
  const text = fs.readFileSync(path.join(target.dir, `${stateId}.counts`), "utf8")
  const published = new Set<string>()
  const startedAfterPublished: Array<string> = []
  const publishedTwice: Array<string> = []
  const foreign: Array<string> = []
  let starts = 0
  for (const line of text.split("\n")) {
    if (line === "") continue
    if (line.startsWith("published ")) {
      const key = line.slice("published ".length)
      if (published.has(key)) publishedTwice.push(key)
      published.add(key)
    } else if (line.startsWith(`start ${stateId}::`)) {
      const key = line.slice(`start ${stateId}::`.length)
      starts++
      if (published.has(key)) startedAfterPublished.push(key)
    } else {
      foreign.push(line)
    }
  }
  return { published, startedAfterPublished, publishedTwice, foreign, starts }
}

const stepsOf = (records: ReadonlyArray<JournalRecord>) =>
  records.flatMap((r) => (r._tag === "StepCompleted" ? [stepKey(r)] : []))

const attemptsOf = (records: ReadonlyArray<JournalRecord>) =>
  records.flatMap((r) => (r._tag === "RunStarted" ? [r.attempt] : []))

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1)

/** The journal as the parent reads it: it must read back (never `None`, never an error). */
const readJournal = (stateId: string) =>
  Effect.gen(function*() {
    const store = yield* CheckpointStore
    const records = yield* store.read(stateId)
    assert.isTrue(Option.isSome(records), `no journal for ${stateId}`)
    return Option.getOrThrow(records)
  })

/**
 * Checks the journal right after a child died: it reads back, holds every step whose `completed`
 * was published (and each step once), and one `RunStarted` per process started so far.
 */
const checkAfterKill = (target: Target, stateId: string, processes: number): Effect.Effect<number, CheckpointError, CheckpointStore> =>
  Effect.gen(function*() {
    const records = yield* readJournal(stateId)
    const steps = stepsOf(records)
    assert.deepStrictEqual(steps.length, new Set(steps).size, `a step journaled twice: ${steps.join(", ")}`)
    const counts = readCounts(target, stateId)
    const missing = [...counts.published].filter((key) => !steps.includes(key))
    assert.deepStrictEqual(missing, [], "published steps missing from the journal")
    assert.deepStrictEqual(attemptsOf(records), range(processes))
    assert.notStrictEqual(records.at(-1)?._tag, "RunFinished")
    const state = Option.getOrThrow(yield* Effect.flatMap(CheckpointStore, (s) => s.load(stateId)))
    // a file lease dies with its process; a Redis lease lives until its TTL
    if (target.name === "file") assert.strictEqual(state.status, "lost")
    else assert.oneOf(state.status, ["running", "lost"])
    assert.strictEqual(state.attempts, processes)
    return steps.length
  })

/** Checks a run that completed: the result, the counts file, the journal and its fold. */
const checkCompleted = (target: Target, stateId: string, processes: number, reference: unknown) =>
  Effect.gen(function*() {
    const counts = readCounts(target, stateId)
    assert.deepStrictEqual(counts.foreign, [])
    assert.deepStrictEqual(counts.startedAfterPublished, [], "steps ran again after their completed was published")
    assert.deepStrictEqual(counts.publishedTwice, [])
    assert.isAtLeast(counts.starts, STEPS.length)
    const records = yield* readJournal(stateId)
    assert.deepStrictEqual([...stepsOf(records)].sort(), [...STEPS].sort())
    assert.deepStrictEqual(attemptsOf(records), range(processes))
    const last = records.at(-1)
    assert.deepStrictEqual<unknown>(
      last?._tag === "RunFinished" ? [last._tag, last.status, last.result] : last,
      ["RunFinished", "completed", reference]
    )
    const state = Option.getOrThrow(yield* Effect.flatMap(CheckpointStore, (s) => s.load(stateId)))
    assert.deepStrictEqual([state.status, state.attempts, state.completed.length], ["completed", processes, STEPS.length])
  })

const reference = (target: Target) =>
  Effect.gen(function*() {
    const stateId = uid("reference")
    const finished = yield* runFixture(target, "run", stateId)
    assert.strictEqual(finished.code, 0, finished.output)
    const value = resultOf(finished)
    yield* checkCompleted(target, stateId, 1, value)
    return value
  })

/**
 * The crash loop: start a run, SIGKILL it at a random step, resume it in a new process — killed
 * again with probability 0.7, at a random one of the steps it has left — until it completes; then a
 * new run, until `kills` kills. Returns what it did.
 */
const crashLane = (target: Target, seed: number, kills: number, expected: unknown) =>
  Effect.gen(function*() {
    const random = prng(seed)
    const done = { kills: 0, lateKills: 0, runs: 0, processes: 0, ownedWaits: 0 }
    while (done.kills < kills) {
      const stateId = uid(`crash-${seed}-${++done.runs}`)
      let started = 0
      // the steps not journaled yet: the next process prints exactly that many STEP lines
      let remaining = STEPS.length
      while (true) {
        const kill = done.kills < kills && remaining > 0 && (started === 0 || random() < 0.7)
        const killAtStep = kill ? 1 + Math.floor(random() * remaining) : undefined
        const finished: Finished = yield* runFixture(target, started === 0 ? "run" : "resume", stateId, { killAtStep })
        started++
        done.processes++
        done.ownedWaits += finished.lines.filter((line) => line === "OWNED").length
        const where: string = `seed ${seed}, ${stateId}, process ${started} (kill at step ${killAtStep} of ${remaining})`
        if (finished.killed) {
          assert.isDefined(killAtStep, `${where}: killed, but not by the test:\n${finished.output}`)
          done.kills++
          const last = (yield* readJournal(stateId)).at(-1)
          if (last?._tag === "RunFinished") {
            // the signal landed after the last step, as the process was exiting: it had completed
            done.lateKills++
            yield* checkCompleted(target, stateId, started, expected)
            break
          }
          remaining = STEPS.length - (yield* checkAfterKill(target, stateId, started))
          continue
        }
        assert.strictEqual(finished.code, 0, `${where}:\n${finished.output.slice(-3000)}`)
        assert.deepStrictEqual(resultOf(finished), expected, where)
        yield* checkCompleted(target, stateId, started, expected)
        break
      }
    }
    return done
  })

/** A reference run, then `KILLS` kills in two lanes of runs side by side (seeds `seed` and `seed + 1`). */
const crashLoop = (target: Target, seed: number) =>
  Effect.gen(function*() {
    const expected = yield* reference(target)
    const lanes = yield* Effect.all([
      crashLane(target, seed, KILLS / 2, expected),
      crashLane(target, seed + 1, KILLS / 2, expected)
    ], { concurrency: 2 })
    return lanes.reduce((a, b) => ({
      kills: a.kills + b.kills,
      lateKills: a.lateKills + b.lateKills,
      runs: a.runs + b.runs,
      processes: a.processes + b.processes,
      ownedWaits: a.ownedWaits + b.ownedWaits
    }))
  })

/**
 * Two resumes of one lost run race (both wait at their gate, then start together): exactly one runs
 * it, the other is refused because the run is owned.
 */
const race = (
  target: Target,
  extra: ReadonlyArray<string>,
  untilLost: (stateId: string) => Effect.Effect<void, unknown, CheckpointStore>
) =>
  Effect.scoped(Effect.gen(function*() {
    const expected = yield* reference(target)
    const stateId = uid("race")
    const first = yield* runFixture(target, "run", stateId, { killAtStep: 4 })
    assert.isTrue(first.killed, first.output)
    yield* checkAfterKill(target, stateId, 1)
    yield* untilLost(stateId)
    // slow steps: the winner holds the lease long after the loser has tried
    const racers = [
      yield* spawnGated(target, stateId, ["--step-ms", "40", ...extra]),
      yield* spawnGated(target, stateId, ["--step-ms", "40", ...extra])
    ]
    for (const racer of racers) yield* Deferred.await(racer.ready)
    for (const racer of racers) yield* racer.go
    const ends = yield* Effect.forEach(racers, (racer) => Deferred.await(racer.done)).pipe(
      Effect.timeoutOrElse({ duration: "20 seconds", orElse: () => Effect.die(new Error("the racers did not end")) })
    )
    const winners = ends.filter((end) => end.code === 0)
    const losers = ends.filter((end) => end.code !== 0)
    assert.strictEqual(winners.length, 1, ends.map((e) => e.output).join("\n----\n"))
    assert.strictEqual(losers.length, 1)
    assert.deepStrictEqual(resultOf(winners[0]!), expected)
    const loser = losers[0]!
    assert.strictEqual(loser.code, 4, loser.output)
    const error = loser.lines.find((line) => line.startsWith("ERROR "))
    assert.match(error ?? loser.output, new RegExp(`^ERROR owned Execution ${stateId} is still running on .+$`))
    // the loser ran nothing: one more attempt, no step run after it was published
    yield* checkCompleted(target, stateId, 2, expected)
  }))

// -----------------------------------------------------------------------------
// File store
// -----------------------------------------------------------------------------

const fileStore = (dir: string) => CheckpointStore.layerFileSystem(dir).pipe(Layer.provide(NodeServices.layer))

/** Runs `body` with a fresh directory as the file store, in the parent and in the children. */
const onFiles = <A, E>(name: string, body: (target: Target) => Effect.Effect<A, E, CheckpointStore>) =>
  Effect.scoped(Effect.gen(function*() {
    const dir = yield* tempDir(name)
    const target: Target = { name: "file", args: ["--store", "file", "--dir", dir], env: {}, dir }
    return yield* Effect.provide(body(target), fileStore(dir))
  }))

describe("crashes, on the file store", () => {
  // live clock: the bounded waits (a child that does not end) are real time
  it.live(`${KILLS} SIGKILLs at random steps, each run resumed until it completes`, () =>
    Effect.gen(function*() {
      const stats = yield* onFiles("crash-file", (target) => crashLoop(target, 20261124))
      if (process.env["CRASH_STATS"] !== undefined) console.log("crash loop", stats)
      assert.strictEqual(stats.kills, KILLS)
      // every process was killed, or completed its run (a kill that landed as it exited counts once)
      assert.strictEqual(stats.processes, stats.kills + stats.runs - stats.lateKills)
    }), 120_000)

  it.live("two resumes of one lost run race: exactly one runs it, the other is refused (owned)", () =>
    onFiles("race-file", (target) => race(target, [], () => Effect.void)), 60_000)
})

// -----------------------------------------------------------------------------
// Redis
// -----------------------------------------------------------------------------

const onRedis = <A, E>(name: string, body: (target: Target) => Effect.Effect<A, E, CheckpointStore>) =>
  Effect.scoped(Effect.gen(function*() {
    const server = yield* RedisServer
    const dir = yield* tempDir(name)
    const target: Target = {
      name: "redis",
      args: ["--store", "redis"],
      env: { REDIS_URL: server.url, AGENT_INTERRUPT_REDIS_PREFIX: server.prefix },
      dir
    }
    return yield* Effect.provide(body(target), RedisStore.layerRedis())
  }))

const ownServer = redisLayer.pipe(Layer.provideMerge(RedisServer.layerOwned))

layer(ownServer, { excludeTestServices: true, timeout: "60 seconds" })("crashes, on Redis", (it) => {
  it.effect(`${KILLS} SIGKILLs at random steps, each run resumed until it completes (leases of 500 ms)`, () =>
    Effect.gen(function*() {
      const stats = yield* onRedis("crash-redis", (target) => crashLoop(target, 777))
      if (process.env["CRASH_STATS"] !== undefined) console.log("crash loop", stats)
      assert.strictEqual(stats.kills, KILLS)
      // every process was killed, or completed its run (a kill that landed as it exited counts once)
      assert.strictEqual(stats.processes, stats.kills + stats.runs - stats.lateKills)
    }), 120_000)

  it.effect("two resumes of one lost run race: exactly one runs it, the other is refused (owned)", () =>
    onRedis("race-redis", (target) =>
      race(
        target,
        // no retry while owned; a long lease, renewed often
        ["--owned-retries", "0", "--lease-ms", "5000", "--heartbeat-ms", "100"],
        // the killed owner's lease (500 ms) expires: the run is lost
        (stateId) =>
          Effect.flatMap(CheckpointStore, (store) =>
          store.load(stateId).pipe(
            Effect.flatMap((state) =>
              Option.isSome(state) && state.value.status === "lost"
                ? Effect.void
                : Effect.fail(new Error("the killed run's lease has not expired yet"))
            ),
            Effect.retry({ schedule: Schedule.spaced("25 millis"), times: 200 })
          ))
      )), 60_000)
})

// -----------------------------------------------------------------------------
// Redis killed under an in-process run (AOF persistence: a restart keeps the data)
// -----------------------------------------------------------------------------

const UNAVAILABLE = /^Checkpoint store unavailable \(.+\): \d+ record\(s\) held in memory \(up to 10000\), retrying in order; the run goes on$/
const BACK = "Checkpoint store is back: the held records are saved"

/** A run's bus, as the test sees it: every event, and the LogEvents as they come. */
const watch = Effect.gen(function*() {
  const events: Array<BusEvent> = []
  const logs = yield* Queue.unbounded<LogEvent>()
  const back = yield* Deferred.make<void>()
  const subscriber = (event: BusEvent) =>
    Effect.sync(() => {
      events.push(event)
      if (event._tag === "LogEvent") Queue.offerUnsafe(logs, event)
      if (event._tag === "LogEvent" && event.message === BACK) Deferred.doneUnsafe(back, Effect.void)
    })
  const finished = () => events.filter((e): e is ExecutionFinished => e._tag === "ExecutionFinished")
  const statuses = (status: string) =>
    events.flatMap((e) => (e._tag === "ExecutionEvent" && e.status === status ? [stepKey(e)] : []))
  return { events, logs, back, subscriber, finished, statuses }
})

const nextLog = (logs: Queue.Queue<LogEvent>) =>
  Queue.take(logs).pipe(
    Effect.timeoutOrElse({ duration: "15 seconds", orElse: () => Effect.die(new Error("no LogEvent within 15 seconds")) })
  )


const tool = Actor.tool("step", (n: number) => Effect.succeed(n * 10))

/** Steps 1..3, then a `block` step that waits forever while `blocking`, then step 4. */
const blockingProgram = () => {
  let blocking = true
  const blocked = Deferred.makeUnsafe<void>()
  const block = Actor.tool("block", (_: number) =>
    blocking ? Effect.andThen(Deferred.succeed(blocked, undefined), Effect.never) : Effect.succeed("passed"))
  const program = Effect.gen(function*() {
    const out: Array<number | string> = []
    for (const n of [1, 2, 3]) out.push(yield* runEvent(tool, n))
    out.push(yield* runEvent(block, 0))
    out.push(yield* runEvent(tool, 4))
    return out
  })
  return { program, blocked, unblock: () => void (blocking = false) }
}

/** Reads a journal once the client is connected again (commands fail at once while it reconnects). */
const readWhenBack = (stateId: string) =>
  Effect.flatMap(CheckpointStore, (store) =>
    store.read(stateId).pipe(Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 200 }))).pipe(
    Effect.map(Option.getOrThrow)
  )

const summary = (records: ReadonlyArray<JournalRecord>) =>
  records.map((r) =>
    r._tag === "StepCompleted" ? `${r._tag} ${stepKey(r)} ${JSON.stringify(r.result)}` : r._tag === "RunFinished" ? `${r._tag} ${r.status}` : r._tag
  )

const persistentServer = redisLayer.pipe(Layer.provideMerge(RedisServer.layerPersistent))

const redisStore = RedisStore.layerRedis({ leaseTtl: "1 second", heartbeatInterval: "200 millis" })

layer(persistentServer, { excludeTestServices: true, timeout: "90 seconds" })("Redis killed under a run", (it) => {
  /** Whatever happens, the server runs again when the test ends. */
  const restartAfter = <A, E, R>(body: Effect.Effect<A, E, R>) =>
    Effect.flatMap(RedisServer, (server) => Effect.ensuring(body, Effect.orDie(server.start)))

  it.effect("killed and restarted between two steps: the run goes on, the held records are flushed, nothing is lost", () =>
    restartAfter(Effect.gen(function*() {
      const server = yield* RedisServer
      const stateId = "outage-between-steps"
      const bus = yield* watch
      const program = Effect.gen(function*() {
        const out: Array<number> = []
        for (const n of [1, 2]) out.push(yield* runEvent(tool, n))
        yield* server.kill
        for (const n of [3, 4]) out.push(yield* runEvent(tool, n))
        yield* Effect.orDie(server.start)
        // the held records reach the store while the run goes on (the journal's retry, not the end)
        yield* Deferred.await(bus.back)
        for (const n of [5, 6]) out.push(yield* runEvent(tool, n))
        return out
      })
      const outcome = yield* Run.run(program, { stateId, subscribers: [bus.subscriber] })
      assert.deepStrictEqual(outcome._tag === "Completed" && outcome.value, [10, 20, 30, 40, 50, 60])

      const warning = yield* nextLog(bus.logs)
      assert.strictEqual(warning.level, "warning")
      assert.match(warning.message, UNAVAILABLE)
      const back = yield* nextLog(bus.logs)
      assert.deepStrictEqual([back.level, back.message], ["info", BACK])
      assert.deepStrictEqual(bus.statuses("completed"), [1, 2, 3, 4, 5, 6].map((n) => `step::tool_call#${n}`))
      assert.deepStrictEqual(bus.finished().map((f) => [f.status, f.checkpoint, f.checkpointDetail]), [
        ["completed", "saved", undefined]
      ])

      const records = yield* readWhenBack(stateId)
      assert.deepStrictEqual(summary(records), [
        "RunStarted",
        ...[1, 2, 3, 4, 5, 6].map((n) => `StepCompleted step::tool_call#${n} ${n * 10}`),
        "RunFinished completed"
      ])
      const state = Option.getOrThrow(yield* Effect.flatMap(CheckpointStore, (s) => s.load(stateId)))
      assert.deepStrictEqual([state.status, state.attempts], ["completed", 1])
    }).pipe(Effect.provide(redisStore))))

  it.effect("killed at the moment of the stop, back within flushTimeout: checkpoint saved, the run resumes with its steps", () =>
    restartAfter(Effect.gen(function*() {
      const server = yield* RedisServer
      const stateId = "outage-at-stop"
      const bus = yield* watch
      const { blocked, program, unblock } = blockingProgram()
      const execution = yield* Deferred.make<ExecutionState["Service"]>()
      const running = yield* Effect.forkChild(
        Run.run(program, {
          stateId,
          flushTimeout: "20 seconds",
          subscribers: [bus.subscriber],
          onStart: ({ state }) => Deferred.succeed(execution, state)
        }),
        { startImmediately: true }
      )
      yield* Deferred.await(blocked)
      yield* server.kill
      const state = yield* Deferred.await(execution)
      assert.isTrue(yield* state.requestInterrupt({ reason: "user_cancelled", message: "stopped while Redis is down" }))
      // the end of the run is held: the store is unavailable
      const warning = yield* nextLog(bus.logs)
      assert.match(warning.message, UNAVAILABLE)
      assert.isUndefined(running.pollUnsafe())
      yield* Effect.orDie(server.start)
      const outcome = yield* Fiber.join(running)
      // said before the run ended (it used to be lost when the flush released the end first)
      assert.strictEqual((yield* nextLog(bus.logs)).message, "Checkpoint store is back: the held records are saved")
      assert.strictEqual(outcome._tag, "Interrupted")
      assert.deepStrictEqual(
        outcome._tag === "Interrupted" && [outcome.signal.reason, Option.getOrNull(outcome.checkpointId)],
        ["user_cancelled", stateId]
      )
      assert.deepStrictEqual(bus.finished().map((f) => [f.status, f.checkpoint, f.checkpointId, f.checkpointDetail]), [
        ["interrupted", "saved", stateId, undefined]
      ])
      const records = yield* readWhenBack(stateId)
      assert.deepStrictEqual(summary(records), [
        "RunStarted",
        ...[1, 2, 3].map((n) => `StepCompleted step::tool_call#${n} ${n * 10}`),
        "RunInterrupted",
        "RunFinished interrupted"
      ])

      // resumable, with its steps: 1..3 recovered (not run), the rest run
      unblock()
      const resumed = yield* watch
      const second = yield* Run.resume(stateId, program, { subscribers: [resumed.subscriber] })
      assert.deepStrictEqual(second._tag === "Completed" && second.value, [10, 20, 30, "passed", 40])
      assert.deepStrictEqual(resumed.statuses("recovered"), [1, 2, 3].map((n) => `step::tool_call#${n}`))
      assert.deepStrictEqual(resumed.statuses("completed"), ["block::tool_call#1", "step::tool_call#4"])
      const done = Option.getOrThrow(yield* Effect.flatMap(CheckpointStore, (s) => s.load(stateId)))
      assert.deepStrictEqual([done.status, done.attempts, done.completed.length], ["completed", 2, 5])
    }).pipe(Effect.provide(redisStore))))

  it.effect("down past flushTimeout: checkpoint failed (with the reason); the records before the outage survive", () =>
    restartAfter(Effect.gen(function*() {
      const server = yield* RedisServer
      const stateId = "outage-past-flush"
      const bus = yield* watch
      const { blocked, program } = blockingProgram()
      const execution = yield* Deferred.make<ExecutionState["Service"]>()
      const running = yield* Effect.forkChild(
        Run.run(program, {
          stateId,
          flushTimeout: "300 millis",
          subscribers: [bus.subscriber],
          onStart: ({ state }) => Deferred.succeed(execution, state)
        }),
        { startImmediately: true }
      )
      yield* Deferred.await(blocked)
      yield* server.kill
      const state = yield* Deferred.await(execution)
      yield* state.requestInterrupt({ reason: "user_cancelled", message: "stopped while Redis is down" })
      const outcome = yield* Fiber.join(running)
      assert.deepStrictEqual(
        outcome._tag === "Interrupted" && [outcome.signal.reason, Option.getOrNull(outcome.checkpointId)],
        ["user_cancelled", null]
      )
      const warning = yield* nextLog(bus.logs)
      assert.match(warning.message, UNAVAILABLE)
      const finished = bus.finished()
      assert.deepStrictEqual(finished.map((f) => [f.status, f.checkpoint, f.checkpointId]), [
        ["interrupted", "failed", undefined]
      ])
      assert.match(
        finished[0]!.checkpointDetail ?? "",
        new RegExp(`^Checkpoint storage failed for ${stateId} \\(redis:${server.prefix}.*\\): .+`)
      )

      yield* Effect.orDie(server.start)
      const records = yield* readWhenBack(stateId)
      assert.deepStrictEqual(summary(records), [
        "RunStarted",
        ...[1, 2, 3].map((n) => `StepCompleted step::tool_call#${n} ${n * 10}`)
      ])
    }).pipe(Effect.provide(redisStore))))
})
