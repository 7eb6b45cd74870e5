/**
 * Durability benchmarks: what it costs to journal every step before anyone sees it.
 *
 * - per-step append, `sync`: the journal over the file store against the raw floor (`fs` write +
 *   `fdatasync` of the same bytes), and over Redis against a raw `XADD` of the same bytes;
 * - per-step cost at the start of an execution and after 100,000 steps (flat: no cost grows with
 *   the history);
 * - resume (read + rebuild) of 10,000 completed steps, beside the 0.1 way (rewriting the whole
 *   snapshot, which it did after every event with `saveEvery`);
 * - the demo workflow's run time with `sync` against `exit`;
 * - the command line's time from SIGINT to exit.
 */
import { NodeServices } from "@effect/platform-node"
import { Context, Effect, Exit, Layer, Option, References, Scope } from "effect"
import { Redis } from "effect/persistence"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Research } from "../src/demo/index.ts"
import * as EventBus from "../src/EventBus.ts"
import { Actor, CheckpointStore, fold, type JournalRecord, Run, runEvent, Workflow } from "../src/index.ts"
import * as Journal from "../src/Journal.ts"
import * as Keys from "../src/redis/Keys.ts"
import * as RedisStore from "../src/redis/RedisStore.ts"
import { testLayer } from "../test/utils/redisServer.ts"
import { makeRecords, step } from "../test/utils/snapshots.ts"
import { interleaved, median, type Row } from "./harness.ts"

const suite = "checkpoint"
const root = path.resolve(import.meta.dirname, "..")
const quiet = Layer.succeed(References.MinimumLogLevel, "Error")

const fileStore = (dir: string) => CheckpointStore.layerFileSystem(dir).pipe(Layer.provide(NodeServices.layer))

/** A `sync` journal over `store`, holding the execution's lease, built in `scope`. */
const syncJournal = (store: CheckpointStore["Service"], stateId: string, scope: Scope.Scope) =>
  Effect.gen(function*() {
    yield* Scope.provide(store.acquire(stateId, { owner: "bench" }), scope)
    const bus = yield* Scope.provide(EventBus.make(), scope)
    return yield* Scope.provide(
      Journal.make({ stateId, durability: "sync", sink: (records) => store.append(stateId, records) }),
      scope
    ).pipe(Effect.provideService(EventBus.EventBus, bus))
  })

const perStepAppend = async (rows: Array<Row>) => {
  const N = 300
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "agent-interrupt-bench-append-"))
  const record = step("append", 1)
  const bytes = Buffer.from(`${Journal.encodeRecord(record)}\n`)
  const scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(Layer.buildWithScope(fileStore(dir), scope))
  const store = Context.get(context, CheckpointStore)
  const journal = await Effect.runPromise(syncJournal(store, "append", scope))
  const floorFile = path.join(dir, "floor.log")
  const fd = fs.openSync(floorFile, "a")
  const floor = Effect.sync(() => {
    for (let i = 0; i < N; i++) {
      fs.writeSync(fd, bytes)
      fs.fdatasyncSync(fd)
    }
  })
  const ours = Effect.gen(function*() {
    for (let i = 0; i < N; i++) yield* journal.append(record)
  })
  const [raw, mine] = (await interleaved(N, [floor, ours], 7)) as [number, number]
  fs.closeSync(fd)
  await Effect.runPromise(Scope.close(scope, Exit.void))
  rows.push({ suite, name: "raw fs write + fdatasync of one record (floor)", value: raw / 1000, unit: "µs" })
  rows.push({
    suite,
    name: "journal append (sync), file store, per step",
    value: mine / 1000,
    unit: "µs",
    baseline: "floor",
    ratio: mine / raw,
    target: "≤ 2×",
    ok: mine / raw <= 2
  })
}

const perStepRedis = async (rows: Array<Row>) => {
  const N = 300
  await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const context = yield* Layer.build(RedisStore.layerRedis().pipe(Layer.provideMerge(testLayer), Layer.provide(quiet)))
    const store = Context.get(context, CheckpointStore)
    const redis = Context.get(context, Redis.Redis)
    const k = yield* Keys.resolve().pipe(Effect.provideContext(context))
    const scope = yield* Effect.scope
    const journal = yield* syncJournal(store, "append", scope)
    const record = step("append", 1)
    const text = Journal.encodeRecord(record)
    const floor = Effect.gen(function*() {
      for (let i = 0; i < N; i++) yield* Effect.orDie(redis.send("XADD", `${k.prefix}floor`, "*", "r", text))
    })
    const ours = Effect.gen(function*() {
      for (let i = 0; i < N; i++) yield* journal.append(record)
    })
    const [raw, mine] = (yield* Effect.promise(() => interleaved(N, [floor, ours], 7))) as [number, number]
    rows.push({ suite, name: "raw Redis XADD of one record (floor)", value: raw / 1000, unit: "µs" })
    rows.push({
      suite,
      name: "journal append (sync), Redis store, per step",
      value: mine / 1000,
      unit: "µs",
      baseline: "floor",
      ratio: mine / raw,
      target: "≤ 2×",
      ok: mine / raw <= 2
    })
  })))
}

// One execution of 100,000 trivial steps (file store, sync): the time per step around step 1,000
// (after the first 1,000 warmed up) and around step 100,000.
const flatness = async (rows: Array<Row>) => {
  const STEPS = 100_000
  const WINDOW = 1_000
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "agent-interrupt-bench-flat-"))
  const marks: Array<number> = []
  const trivial = Actor.tool("step", (n: number) => Effect.succeed(n))
  const program = Effect.gen(function*() {
    for (let i = 0; i < STEPS; i++) {
      if (i === WINDOW || i === 2 * WINDOW || i === STEPS - WINDOW || i === STEPS - 1) marks.push(performance.now())
      yield* runEvent(trivial, i)
    }
  })
  await Effect.runPromise(
    Run.run(program, { stateId: "flat", historyLimit: 100 }).pipe(Effect.provide(fileStore(dir)), Effect.provide(quiet))
  )
  const first = (marks[1]! - marks[0]!) / WINDOW * 1000
  const last = (marks[3]! - marks[2]!) / (WINDOW - 1) * 1000
  rows.push({ suite, name: "run step (sync, file store): steps 1,001–2,000, per step", value: first, unit: "µs" })
  rows.push({
    suite,
    name: "run step (sync, file store): steps 99,001–100,000, per step",
    value: last,
    unit: "µs",
    baseline: "steps 1,001–2,000",
    ratio: last / first,
    target: "≤ 1.5× (flat)",
    ok: last / first <= 1.5
  })
}

// Reading back a journal of 10,000 completed steps and folding it, as a resume does.
const resume10k = async (rows: Array<Row>) => {
  const STEPS = 10_000
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "agent-interrupt-bench-resume-"))
  const records: Array<JournalRecord> = makeRecords("resume", { steps: 0, status: "running" })
  for (let i = 0; i < STEPS; i++) records.push(step("resume", i))
  const lines = records.map((r) => `${Journal.encodeRecord(r)}\n`).join("")
  fs.writeFileSync(path.join(dir, "resume.journal"), lines)
  const compacted = fs.mkdtempSync(path.join(os.tmpdir(), "agent-interrupt-bench-compacted-"))
  const snapshotLine = Journal.encodeRecord({ _tag: "Snapshot", snapshot: fold("resume", records) })
  fs.writeFileSync(path.join(compacted, "resume.journal"), `${snapshotLine}\n`)
  const load = (d: string) =>
    Effect.gen(function*() {
      const store = yield* CheckpointStore
      const times: Array<number> = []
      for (let i = 0; i < 7; i++) {
        const t = performance.now()
        const snap = yield* store.load("resume")
        times.push(performance.now() - t)
        if (Option.isNone(snap) || snap.value.completed.length !== STEPS) return yield* Effect.die("bad load")
      }
      return median(times)
    }).pipe(Effect.provide(fileStore(d)))
  const journal = await Effect.runPromise(load(dir))
  const snapshot = await Effect.runPromise(load(compacted))
  // 0.1 rewrote the whole snapshot (temporary file + rename) after every completed event
  const rewrites: Array<number> = []
  for (let i = 0; i < 7; i++) {
    const t = performance.now()
    const text = Journal.encodeRecord({ _tag: "Snapshot", snapshot: fold("resume", records) })
    const tmp = path.join(compacted, ".rewrite.tmp")
    const fd = fs.openSync(tmp, "w")
    fs.writeSync(fd, text)
    fs.fdatasyncSync(fd)
    fs.closeSync(fd)
    fs.renameSync(tmp, path.join(compacted, "rewrite.json"))
    rewrites.push(performance.now() - t)
  }
  rows.push({
    suite,
    name: `journal of 10,000 steps (${(Buffer.byteLength(lines) / 1024 / 1024).toFixed(1)} MiB NDJSON): read + fold`,
    value: journal,
    unit: "ms",
    target: "< 200 ms",
    ok: journal < 200
  })
  rows.push({ suite, name: "the same, compacted into one snapshot line: read + fold", value: snapshot, unit: "ms" })
  rows.push({
    suite,
    name: "0.1: rewrite the whole 10,000-step snapshot (paid per event with saveEvery)",
    value: median(rewrites),
    unit: "ms"
  })
}

// The demo workflow, fast, journaled sync against exit (file store), alternating.
const demoDurability = async (rows: Array<Row>) => {
  const workflow = Workflow.register(Research.research)
  const runOnce = async (durability: "sync" | "exit") => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "agent-interrupt-bench-demo-"))
    const prepared = await Effect.runPromise(workflow.prepare({ topic: "bench", pace: 0.02 }))
    const t = performance.now()
    await Effect.runPromise(
      Run.run(prepared.program, { stateId: "demo", durability }).pipe(Effect.provide(fileStore(dir)), Effect.provide(quiet))
    )
    return performance.now() - t
  }
  const sync: Array<number> = []
  const exit: Array<number> = []
  await runOnce("sync")
  for (let i = 0; i < 5; i++) {
    sync.push(await runOnce("sync"))
    exit.push(await runOnce("exit"))
  }
  rows.push({ suite, name: "demo workflow (pace 0.02), durability exit (baseline)", value: median(exit), unit: "ms" })
  rows.push({
    suite,
    name: "demo workflow (pace 0.02), durability sync",
    value: median(sync),
    unit: "ms",
    baseline: "exit",
    ratio: median(sync) / median(exit)
  })
}

/** Spawns a child, waits for `ready` on stdout, sends SIGINT, and returns ms until it exited. */
const sigintToExit = (args: ReadonlyArray<string>, ready: string) =>
  new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ["ignore", "pipe", "ignore"] })
    let sentAt = 0
    let out = ""
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      if (sentAt === 0 && out.includes(ready)) {
        sentAt = performance.now()
        child.kill("SIGINT")
      }
    })
    child.on("error", reject)
    child.on("exit", () => (sentAt === 0 ? reject(new Error(`never saw ${ready}`)) : resolve(performance.now() - sentAt)))
  })

const sigint = async (rows: Array<Row>) => {
  const floor: Array<number> = []
  const cli: Array<number> = []
  const RUNS = 20
  const floorScript = "process.on('SIGINT', () => process.exit(0)); console.log('ready'); setInterval(() => {}, 1000)"
  for (let i = 0; i < RUNS; i++) {
    floor.push(await sigintToExit(["-e", floorScript], "ready"))
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "agent-interrupt-bench-cli-"))
    cli.push(await sigintToExit(["src/cli/bin.ts", "demo", "--state-dir", stateDir], "▶ planner::search::web"))
  }
  rows.push({ suite, name: `SIGINT → exit, bare node process (baseline, p50 of ${RUNS})`, value: median(floor), unit: "ms" })
  rows.push({
    suite,
    name: `SIGINT → exit, CLI demo with checkpoint (p50 of ${RUNS})`,
    value: median(cli),
    unit: "ms",
    baseline: "bare node",
    ratio: median(cli) / median(floor)
  })
}

export const run = async (): Promise<ReadonlyArray<Row>> => {
  const rows: Array<Row> = []
  await perStepAppend(rows)
  await perStepRedis(rows)
  await resume10k(rows)
  await demoDurability(rows)
  if (process.env["SKIP_FLAT"] !== "1") await flatness(rows)
  if (process.env["SKIP_SIGINT"] !== "1") await sigint(rows)
  return rows
}
