/**
 * Checkpoint benchmarks: saving and loading a snapshot of 1,000 events (file store vs memory store),
 * and the command line's time from SIGINT to process exit (checkpoint written on the way out).
 */
import { NodeServices } from "@effect/platform-node"
import { Effect, Layer, Option } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { CheckpointStore } from "../src/index.ts"
import { makeSnapshot } from "../test/utils/snapshots.ts"
import { median, type Row } from "./harness.ts"

const suite = "checkpoint"
const root = path.resolve(import.meta.dirname, "..")

const timeStore = async (layer: Layer.Layer<CheckpointStore, unknown>, rounds: number) => {
  const snapshot = makeSnapshot("bench-1000", { events: 1000 })
  return Effect.runPromise(Effect.gen(function*() {
    const store = yield* CheckpointStore
    const saves: Array<number> = []
    const loads: Array<number> = []
    yield* store.save(snapshot) // warm-up
    for (let i = 0; i < rounds; i++) {
      let t = performance.now()
      yield* store.save(snapshot)
      saves.push(performance.now() - t)
      t = performance.now()
      const back = yield* store.load("bench-1000")
      loads.push(performance.now() - t)
      if (Option.isNone(back) || back.value.completed.length !== 1000) return yield* Effect.die("bad load")
    }
    const bytes = JSON.stringify(snapshot).length
    return { save: median(saves), load: median(loads), bytes }
  }).pipe(Effect.provide(layer)))
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

export const run = async (): Promise<ReadonlyArray<Row>> => {
  const rows: Array<Row> = []
  const memory = await timeStore(CheckpointStore.layerMemory, 30)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "agent-interrupt-bench-"))
  const file = await timeStore(CheckpointStore.layerFileSystem(dir).pipe(Layer.provide(NodeServices.layer)), 30)
  rows.push({ suite, name: `snapshot of 1,000 events (${(memory.bytes / 1024).toFixed(0)} KiB JSON)`, value: memory.bytes, unit: "B" })
  rows.push({ suite, name: "save, memory store (baseline)", value: memory.save, unit: "ms" })
  rows.push({ suite, name: "save, file store (temp file + rename)", value: file.save, unit: "ms", baseline: "memory", ratio: file.save / memory.save })
  rows.push({ suite, name: "load, memory store (baseline)", value: memory.load, unit: "ms" })
  rows.push({ suite, name: "load, file store", value: file.load, unit: "ms", baseline: "memory", ratio: file.load / memory.load })

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
  return rows
}
