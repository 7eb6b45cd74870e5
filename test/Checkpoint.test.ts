import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option, Schema } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { CheckpointStore, JournalRecordJson } from "../src/index.ts"
import { suite } from "./CheckpointStoreTest.ts"
import { makeRecords } from "./utils/snapshots.ts"

const encode = Schema.encodeSync(JournalRecordJson)

const journals = new Map<string, Array<string>>()
const legacy = new Map<string, string>()
const { makeMemory } = await import("../src/Checkpoint.ts")
suite("memory", Layer.sync(CheckpointStore, () => makeMemory(journals, legacy)), {
  prefix: "mem-",
  plantJournal: (stateId, lines) => Effect.sync(() => void journals.set(stateId, [...lines])),
  plantLegacy: (stateId, text) => Effect.sync(() => void legacy.set(stateId, text))
})

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "agent-interrupt-store-"))
const fileStore = (directory: string) => CheckpointStore.layerFileSystem(directory).pipe(Layer.provide(NodeServices.layer))
suite("file system", fileStore(dir), {
  prefix: "fs-",
  plantJournal: (stateId, lines) =>
    Effect.sync(() => fs.writeFileSync(path.join(dir, `${stateId}.journal`), lines.map((l) => `${l}\n`).join(""))),
  plantLegacy: (stateId, text) => Effect.sync(() => fs.writeFileSync(path.join(dir, `${stateId}.json`), text))
})

const withFiles = (directory: string) => Effect.provide(fileStore(directory))

describe("CheckpointStore.layerMemory", () => {
  it.effect("each build is an empty store", () =>
    Effect.gen(function*() {
      const a = yield* Effect.flatMap(CheckpointStore, (s) => s.list).pipe(Effect.provide(CheckpointStore.layerMemory))
      assert.deepStrictEqual(a, [])
    }))
})

describe("CheckpointStore.layerFileSystem", () => {
  it.effect("one NDJSON journal per state id, one record per line; the directory is created", () =>
    Effect.gen(function*() {
      const nested = path.join(dir, "nested", "deeper")
      yield* Effect.flatMap(CheckpointStore, (s) => s.append("doc", makeRecords("doc"))).pipe(withFiles(nested))
      const lines = fs.readFileSync(path.join(nested, "doc.journal"), "utf8").split("\n")
      assert.strictEqual(lines.pop(), "") // every record ends with a newline
      assert.deepStrictEqual(lines, makeRecords("doc").map((r) => encode(r)))
      assert.deepStrictEqual(fs.readdirSync(nested), ["doc.journal"])
    }))

  it.effect("a torn last line is ignored, and cut before the next append", () =>
    Effect.gen(function*() {
      const d = fs.mkdtempSync(path.join(os.tmpdir(), "agent-interrupt-torn-"))
      const file = path.join(d, "torn.journal")
      const records = makeRecords("torn", { status: "running" })
      fs.writeFileSync(file, records.map((r) => `${encode(r)}\n`).join("") + "{\"_tag\":\"StepCompleted\",\"torn-fragment")
      const store = yield* Effect.provide(CheckpointStore, fileStore(d))
      assert.deepStrictEqual(Option.getOrThrow(yield* store.read("torn")), records)
      yield* store.append("torn", [{ _tag: "StorageSet", key: "after", value: 1 }])
      const text = fs.readFileSync(file, "utf8")
      assert.notInclude(text, "torn-fragment")
      assert.isTrue(text.endsWith("{\"_tag\":\"StorageSet\",\"key\":\"after\",\"value\":1}\n"))
      assert.deepStrictEqual(Option.getOrThrow(yield* store.load("torn")).storage, { notes: ["a", "b"], budget: 12, after: 1 })
    }))

  it.effect("a directory that cannot be created is an io error, at once (even under /proc)", () =>
    Effect.gen(function*() {
      const file = path.join(dir, "a-file")
      fs.writeFileSync(file, "x")
      for (const where of [path.join(file, "sub"), "/proc/nope/deeper"]) {
        const exit = yield* Effect.exit(Effect.scoped(Layer.build(fileStore(where))))
        assert.strictEqual(exit._tag, "Failure")
        assert.include(String(exit), "Checkpoint storage failed")
      }
    }))

  it.effect("names that are no valid state id are listed as unreadable, not skipped", () =>
    Effect.gen(function*() {
      const d = fs.mkdtempSync(path.join(os.tmpdir(), "agent-interrupt-names-"))
      fs.writeFileSync(path.join(d, `${"x".repeat(129)}.json`), "{}")
      const rows = yield* Effect.flatMap(CheckpointStore, (s) => s.list).pipe(withFiles(d))
      assert.deepStrictEqual(rows.map((r) => [r.stateId, r.status]), [[`${"x".repeat(129)}.json`, "corrupt"]])
      assert.include(rows[0]!.error ?? "", "not a valid state id")
    }))

  it("a lease of a process killed with SIGKILL is dead at once; compaction killed midway leaves the journal whole", async () => {
    const killDir = fs.mkdtempSync(path.join(os.tmpdir(), "agent-interrupt-kill-"))
    // the child journals ever more steps, compacting now and then, and says so; we kill it mid-way
    const child = spawn(process.execPath, [path.join(import.meta.dirname, "fixtures", "save-loop.ts"), killDir], {
      stdio: ["ignore", "pipe", "inherit"]
    })
    await new Promise<void>((resolve, reject) => {
      let out = ""
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString()
        if (out.includes("compacting 3\n")) {
          child.kill("SIGKILL")
          resolve()
        }
      })
      child.on("exit", (code) => reject(new Error(`child exited early (${code})`)))
    })
    await new Promise((resolve) => child.once("exit", resolve))
    const store = fileStore(killDir)
    const snapshot = await Effect.runPromise(
      Effect.flatMap(CheckpointStore, (s) => s.load("looping")).pipe(Effect.provide(store))
    )
    const loaded = Option.getOrThrow(snapshot)
    assert.strictEqual(loaded.status, "lost") // its owner died: nobody holds the lease
    assert.isAtLeast(loaded.completed.length, 3 * 500)
    // a resume can take the lease at once; leftover temporary files of the killed compaction go
    await Effect.runPromise(
      Effect.scoped(Effect.flatMap(CheckpointStore, (s) => s.acquire("looping", { owner: "next" }))).pipe(
        Effect.provide(store)
      )
    )
    assert.deepStrictEqual(fs.readdirSync(killDir).filter((n) => n.endsWith(".tmp")), [])
    const list = await Effect.runPromise(Effect.flatMap(CheckpointStore, (s) => s.list).pipe(Effect.provide(store)))
    assert.deepStrictEqual(list.map((r) => [r.stateId, r.status]), [["looping", "lost"]])
  })
})
