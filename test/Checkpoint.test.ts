import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { CheckpointStore } from "../src/index.ts"
import { suite } from "./CheckpointStoreTest.ts"

const memoryDocuments = new Map<string, string>()
const { makeMemory } = await import("../src/Checkpoint.ts")
suite("memory", Layer.sync(CheckpointStore, () => makeMemory(memoryDocuments)), {
  prefix: "mem-",
  plant: (stateId, text) => Effect.sync(() => void memoryDocuments.set(stateId, text))
})

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "agent-interrupt-store-"))
suite("file system", CheckpointStore.layerFileSystem(dir).pipe(Layer.provide(NodeServices.layer)), {
  prefix: "fs-",
  plant: (stateId, text) => Effect.sync(() => fs.writeFileSync(path.join(dir, `${stateId}.json`), text))
})

describe("CheckpointStore.layerMemory", () => {
  it.effect("each build is an empty store", () =>
    Effect.gen(function*() {
      const a = yield* Effect.flatMap(CheckpointStore, (s) => s.list).pipe(Effect.provide(CheckpointStore.layerMemory))
      assert.deepStrictEqual(a, [])
    }))
})

describe("CheckpointStore.layerFileSystem", () => {
  it.effect("one JSON document per state id, named after it; the directory is created", () =>
    Effect.gen(function*() {
      const nested = path.join(dir, "nested", "deeper")
      const { makeSnapshot } = yield* Effect.promise(() => import("./utils/snapshots.ts"))
      yield* Effect.flatMap(CheckpointStore, (s) => s.save(makeSnapshot("doc"))).pipe(
        Effect.provide(CheckpointStore.layerFileSystem(nested).pipe(Layer.provide(NodeServices.layer)))
      )
      const text = fs.readFileSync(path.join(nested, "doc.json"), "utf8")
      assert.strictEqual(JSON.parse(text).stateId, "doc")
      assert.deepStrictEqual(fs.readdirSync(nested), ["doc.json"]) // no temporary file left
    }))

  it.effect("a directory that cannot be created is an io error", () =>
    Effect.gen(function*() {
      const file = path.join(dir, "a-file")
      fs.writeFileSync(file, "x")
      const exit = yield* Effect.exit(Effect.scoped(Layer.build(
        CheckpointStore.layerFileSystem(path.join(file, "sub")).pipe(Layer.provide(NodeServices.layer))
      )))
      assert.strictEqual(exit._tag, "Failure")
      assert.include(String(exit), "Checkpoint storage failed")
    }))

  it("a save killed midway (SIGKILL) leaves the previous snapshot readable", async () => {
    const killDir = fs.mkdtempSync(path.join(os.tmpdir(), "agent-interrupt-kill-"))
    // the child saves ever larger snapshots in a loop and says so; we kill it while it writes
    const child = spawn(process.execPath, [path.join(import.meta.dirname, "fixtures", "save-loop.ts"), killDir], {
      stdio: ["ignore", "pipe", "inherit"]
    })
    await new Promise<void>((resolve, reject) => {
      let out = ""
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString()
        if (out.includes("saved 3\n")) {
          child.kill("SIGKILL")
          resolve()
        }
      })
      child.on("exit", (code) => reject(new Error(`child exited early (${code})`)))
    })
    await new Promise((resolve) => child.once("exit", resolve))
    const snapshot = await Effect.runPromise(
      Effect.flatMap(CheckpointStore, (s) => s.load("looping")).pipe(
        Effect.provide(CheckpointStore.layerFileSystem(killDir).pipe(Layer.provide(NodeServices.layer)))
      )
    )
    const loaded = Option.getOrThrow(snapshot)
    assert.strictEqual(loaded.stateId, "looping")
    assert.isAtLeast(loaded.completed.length, 3 * 2000)
    // what the list shows ignores temporary files of the killed save
    const list = await Effect.runPromise(
      Effect.flatMap(CheckpointStore, (s) => s.list).pipe(
        Effect.provide(CheckpointStore.layerFileSystem(killDir).pipe(Layer.provide(NodeServices.layer)))
      )
    )
    assert.deepStrictEqual(list.map((r) => [r.stateId, r.status]), [["looping", "interrupted"]])
  })
})
