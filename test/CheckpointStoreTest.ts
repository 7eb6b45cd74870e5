/**
 * The contract every CheckpointStore backend passes: memory, file system, Redis.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, type Layer, Option, Schema, Scope } from "effect"
import { CheckpointStore, type JournalRecord, JournalRecordJson } from "../src/index.ts"
import { legacyDocument, makeRecords, step } from "./utils/snapshots.ts"

export interface Backend {
  /** Stores raw journal lines for a state id, bypassing the store (to plant corrupt or foreign data). */
  readonly plantJournal: (stateId: string, lines: ReadonlyArray<string>) => Effect.Effect<void, unknown, CheckpointStore>
  /** Stores a version-1 snapshot document for a state id. */
  readonly plantLegacy: (stateId: string, text: string) => Effect.Effect<void, unknown, CheckpointStore>
  /** A unique prefix per test run, so shared backends (Redis, a directory) do not collide. */
  readonly prefix: string
}

const errorOf = <A, R>(effect: Effect.Effect<A, unknown, R>) =>
  Effect.map(Effect.flip(effect), (e) => e as { readonly _tag: string; readonly reason: string; readonly message: string })

const encodeRecordForTest = Schema.encodeSync(JournalRecordJson)

const tags = (records: ReadonlyArray<JournalRecord>) => records.map((r) => r._tag)

export const suite = (name: string, layer: Layer.Layer<CheckpointStore, unknown>, backend: Backend) =>
  describe(`CheckpointStore contract: ${name}`, () => {
    const id = (s: string) => `${backend.prefix}${s}`
    const withStore = Effect.provide(layer)

    it.effect("append then read gives the records back in order; load folds them", () =>
      Effect.gen(function*() {
        const store = yield* CheckpointStore
        const records = makeRecords(id("round"), { steps: 4 })
        yield* store.append(id("round"), records.slice(0, 3))
        yield* store.append(id("round"), records.slice(3))
        const back = Option.getOrThrow(yield* store.read(id("round")))
        assert.deepStrictEqual(back, records)
        const snap = Option.getOrThrow(yield* store.load(id("round")))
        assert.strictEqual(snap.status, "interrupted")
        assert.strictEqual(snap.metadata.workflow, "research")
        assert.deepStrictEqual(snap.metadata.input, { topic: "effect" })
        assert.strictEqual(snap.metadata.interrupt?.message, "Stop")
        assert.deepStrictEqual(snap.completed.map((s) => `${s.address}#${s.occurrence}`), [
          "planner::step0::tool_call#1",
          "planner::step1::tool_call#1",
          "planner::step2::tool_call#1",
          "planner::step3::tool_call#1"
        ])
        assert.deepStrictEqual(snap.storage, { notes: ["a", "b"], budget: 12 })
        assert.deepStrictEqual(snap.partialOutputs, { "planner::summarise::llm_call#1": "The first tokens" })
        assert.strictEqual(snap.attempts, 1)
      }).pipe(withStore))

    it.effect("a journal read again: lines appended since are read, a line that changed is decoded anew", () =>
      Effect.gen(function*() {
        const store = yield* CheckpointStore
        const records = makeRecords(id("again"), { steps: 3, status: "running" })
        const lines = records.map((r) => encodeRecordForTest(r))
        yield* backend.plantJournal(id("again"), lines)
        assert.deepStrictEqual(Option.getOrThrow(yield* store.read(id("again"))), records)
        const more: JournalRecord = { _tag: "StorageSet", key: "again", value: [1, 2] }
        yield* store.append(id("again"), [more])
        assert.deepStrictEqual(Option.getOrThrow(yield* store.read(id("again"))), [...records, more])
        // as many lines as before, the second one changed
        yield* backend.plantJournal(id("again"), [lines[0]!, "{\"_tag\":\"StorageSet\"}", ...lines.slice(2), encodeRecordForTest(more)])
        const error = yield* errorOf(store.read(id("again")))
        assert.strictEqual(error.reason, "corrupt")
        assert.include(error.message, "line 2:")
      }).pipe(withStore))

    it.effect("read and load of an unknown id are None; delete of an unknown id is fine", () =>
      Effect.gen(function*() {
        const store = yield* CheckpointStore
        assert.isTrue(Option.isNone(yield* store.read(id("nobody"))))
        assert.isTrue(Option.isNone(yield* store.load(id("nobody"))))
        yield* store.delete(id("nobody"))
      }).pipe(withStore))

    it.effect("list shows status, time and workflow, newest first; delete removes", () =>
      Effect.gen(function*() {
        const store = yield* CheckpointStore
        yield* store.append(id("list-a"), makeRecords(id("list-a"), { updatedAt: "2026-11-24T10:00:01.000Z" }))
        yield* store.append(
          id("list-b"),
          makeRecords(id("list-b"), { status: "completed", updatedAt: "2026-11-24T11:00:00.000Z" })
        )
        const rows = (yield* store.list).filter((r) => r.stateId.startsWith(id("list-")))
        assert.deepStrictEqual(rows.map((r) => [r.stateId, r.status, r.updatedAt, r.workflow, r.steps]), [
          [id("list-b"), "completed", "2026-11-24T11:00:00.000Z", "research", 3],
          [id("list-a"), "interrupted", "2026-11-24T10:00:01.000Z", "research", 3]
        ])
        assert.deepStrictEqual(rows.map((r) => r.resumable), [false, true])
        yield* store.delete(id("list-a"))
        assert.deepStrictEqual(
          (yield* store.list).filter((r) => r.stateId.startsWith(id("list-"))).map((r) => r.stateId),
          [id("list-b")]
        )
        assert.isTrue(Option.isNone(yield* store.read(id("list-a"))))
      }).pipe(withStore))

    it.effect("unsafe state ids are rejected before anything is touched", () =>
      Effect.gen(function*() {
        const store = yield* CheckpointStore
        for (const bad of ["../x", "", "a/b", ".hidden", "x".repeat(129), "spaces are bad"]) {
          const read = yield* errorOf(store.read(bad))
          assert.strictEqual(read._tag, "CheckpointError")
          assert.strictEqual(read.reason, "invalid_state_id")
          assert.include(read.message, `Invalid state id ${JSON.stringify(bad)}`)
          assert.strictEqual((yield* errorOf(store.append(bad, makeRecords("x")))).reason, "invalid_state_id")
          assert.strictEqual((yield* errorOf(store.delete(bad))).reason, "invalid_state_id")
          assert.strictEqual((yield* errorOf(Effect.scoped(store.acquire(bad, { owner: "me" })))).reason, "invalid_state_id")
        }
      }).pipe(withStore))

    it.effect("a corrupt line is a typed error naming the line; list marks the journal corrupt", () =>
      Effect.gen(function*() {
        const store = yield* CheckpointStore
        const good = makeRecords(id("torn")).map((r) => encodeRecordForTest(r))
        yield* backend.plantJournal(id("torn"), [good[0]!, "{\"_tag\":\"StepComp", good[1]!])
        const error = yield* errorOf(store.read(id("torn")))
        assert.strictEqual(error.reason, "corrupt")
        assert.include(error.message, `Checkpoint of ${id("torn")} is corrupt (`)
        assert.include(error.message, "line 2: not JSON")
        yield* backend.plantJournal(id("foreign"), ["{\"hello\":\"world\"}"])
        const foreign = yield* errorOf(store.read(id("foreign")))
        assert.strictEqual(foreign.reason, "corrupt")
        assert.notInclude(foreign.message, "\n")
        const rows = (yield* store.list).filter((r) => r.stateId === id("torn") || r.stateId === id("foreign"))
        assert.deepStrictEqual(rows.map((r) => r.status).sort(), ["corrupt", "corrupt"])
      }).pipe(withStore))

    it.effect("a journal of another execution under this id is corrupt", () =>
      Effect.gen(function*() {
        const store = yield* CheckpointStore
        yield* backend.plantJournal(id("mine"), makeRecords(id("other")).map((r) => encodeRecordForTest(r)))
        assert.include((yield* errorOf(store.read(id("mine")))).message, `it holds execution ${id("other")}`)
      }).pipe(withStore))

    it.effect("a snapshot of a newer version is unsupported_version; version 0 is corrupt", () =>
      Effect.gen(function*() {
        const store = yield* CheckpointStore
        yield* backend.plantLegacy(id("future"), JSON.stringify({ version: 99, stateId: id("future") }))
        const error = yield* errorOf(store.read(id("future")))
        assert.strictEqual(error.reason, "unsupported_version")
        assert.include(error.message, "has version 99; this version of agent-interrupt reads up to 2")
        yield* backend.plantLegacy(id("zero"), legacyDocument(id("zero")).replace("\"version\":1", "\"version\":0"))
        const zero = yield* errorOf(store.read(id("zero")))
        assert.strictEqual(zero.reason, "corrupt")
        assert.include(zero.message, "version 0 is not a version")
      }).pipe(withStore))

    it.effect("values nested deeper than 256 levels are corrupt, not a crash", () =>
      Effect.gen(function*() {
        const store = yield* CheckpointStore
        const deep = "[".repeat(5000) + "]".repeat(5000)
        const started = encodeRecordForTest(makeRecords(id("deep"))[0]!)
        yield* backend.plantJournal(id("deep"), [started, `{"_tag":"StorageSet","key":"k","value":${deep}}`])
        const error = yield* errorOf(store.read(id("deep")))
        assert.strictEqual(error.reason, "corrupt")
        assert.include(error.message, "line 2: it nests deeper than 256 levels")
      }).pipe(withStore))

    it.effect("a version-1 snapshot document loads as a compacted journal; appending keeps its steps", () =>
      Effect.gen(function*() {
        const store = yield* CheckpointStore
        yield* backend.plantLegacy(id("v1"), legacyDocument(id("v1"), 5))
        const snap = Option.getOrThrow(yield* store.load(id("v1")))
        assert.strictEqual(snap.status, "interrupted")
        assert.strictEqual(snap.completed.length, 5)
        assert.deepStrictEqual(snap.completed[0]!.result, { step: 0, text: "result 0" })
        assert.deepStrictEqual(snap.storage, { notes: ["a", "b"], budget: 12 })
        yield* store.append(id("v1"), [{ ...step(id("v1"), 5) }])
        const after = Option.getOrThrow(yield* store.read(id("v1")))
        assert.deepStrictEqual(tags(after), ["Snapshot", "StepCompleted"])
        assert.strictEqual(Option.getOrThrow(yield* store.load(id("v1"))).completed.length, 6)
      }).pipe(withStore))

    it.effect("compaction replaces the journal by one snapshot of the same state; later appends follow it", () =>
      Effect.gen(function*() {
        const store = yield* CheckpointStore
        const records = makeRecords(id("compact"), { steps: 50 })
        yield* store.append(id("compact"), records)
        const before = Option.getOrThrow(yield* store.load(id("compact")))
        yield* store.compact(id("compact"))
        assert.deepStrictEqual(tags(Option.getOrThrow(yield* store.read(id("compact")))), ["Snapshot"])
        assert.deepStrictEqual(Option.getOrThrow(yield* store.load(id("compact"))), before)
        yield* store.append(id("compact"), [{ _tag: "StorageDeleted", key: "notes" }])
        const after = Option.getOrThrow(yield* store.load(id("compact")))
        assert.deepStrictEqual(after.storage, { budget: 12 })
        assert.strictEqual(after.completed.length, 50)
      }).pipe(withStore))

    it.effect("a lease is exclusive while held, free once released, and taken over with force", () =>
      Effect.gen(function*() {
        const store = yield* CheckpointStore
        const held = yield* Scope.make()
        yield* Scope.provide(store.acquire(id("lease"), { owner: "worker-a" }), held)
        const info = Option.getOrThrow(yield* store.lease(id("lease")))
        assert.deepStrictEqual([info.owner, info.alive], ["worker-a", true])
        const refused = yield* errorOf(Effect.scoped(store.acquire(id("lease"), { owner: "worker-b" })))
        assert.strictEqual(refused.reason, "owned")
        assert.include(refused.message, `Execution ${id("lease")} is still running on worker-a`)
        yield* Scope.close(held, Exit.void)
        yield* Effect.scoped(Effect.gen(function*() {
          yield* store.acquire(id("lease"), { owner: "worker-b" })
          assert.strictEqual(Option.getOrThrow(yield* store.lease(id("lease"))).owner, "worker-b")
          yield* store.acquire(id("lease"), { owner: "worker-c", force: true })
          assert.strictEqual(Option.getOrThrow(yield* store.lease(id("lease"))).owner, "worker-c")
        }))
      }).pipe(withStore))

    it.effect("of two racing acquirers exactly one wins", () =>
      Effect.gen(function*() {
        const store = yield* CheckpointStore
        const exits = yield* Effect.scoped(
          Effect.forEach(
            ["a", "b", "c", "d"],
            (owner) => Effect.exit(store.acquire(id("race"), { owner })),
            { concurrency: "unbounded" }
          )
        )
        assert.strictEqual(exits.filter(Exit.isSuccess).length, 1)
      }).pipe(withStore))

    it.effect("a journal that says running with nobody holding its lease is lost", () =>
      Effect.gen(function*() {
        const store = yield* CheckpointStore
        yield* store.append(id("orphan"), makeRecords(id("orphan"), { status: "running" }))
        assert.strictEqual(Option.getOrThrow(yield* store.load(id("orphan"))).status, "lost")
        const row = (yield* store.list).find((r) => r.stateId === id("orphan"))
        assert.strictEqual(row?.status, "lost")
        yield* Effect.scoped(Effect.gen(function*() {
          yield* store.acquire(id("orphan"), { owner: "alive" })
          assert.strictEqual(Option.getOrThrow(yield* store.load(id("orphan"))).status, "running")
        }))
      }).pipe(withStore))

    it.effect("concurrent appends each land whole", () =>
      Effect.gen(function*() {
        const store = yield* CheckpointStore
        yield* store.append(id("concurrent"), makeRecords(id("concurrent"), { steps: 0, status: "running" }))
        yield* Effect.forEach(
          Array.from({ length: 20 }, (_, i) => i),
          (i) => store.append(id("concurrent"), [step(id("concurrent"), i)]),
          { concurrency: "unbounded" }
        )
        const snap = Option.getOrThrow(yield* store.load(id("concurrent")))
        assert.strictEqual(snap.completed.length, 20)
      }).pipe(withStore))
  })
