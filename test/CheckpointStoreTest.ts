/**
 * The contract every CheckpointStore backend passes: memory, file system, Redis.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, type Layer, Option } from "effect"
import { CheckpointStore } from "../src/index.ts"
import { makeSnapshot } from "./utils/snapshots.ts"

export interface Backend {
  /** Stores a raw document for a state id, bypassing the store (to plant corrupt or foreign data). */
  readonly plant: (stateId: string, text: string) => Effect.Effect<void, unknown, CheckpointStore>
  /** A unique prefix per test run, so shared backends (Redis, a directory) do not collide. */
  readonly prefix: string
}

const errorOf = <A, R>(effect: Effect.Effect<A, unknown, R>) =>
  Effect.map(Effect.flip(effect), (e) => e as { readonly _tag: string; readonly reason: string; readonly message: string })

export const suite = (name: string, layer: Layer.Layer<CheckpointStore, unknown>, backend: Backend) =>
  describe(`CheckpointStore contract: ${name}`, () => {
    const id = (s: string) => `${backend.prefix}${s}`
    const withStore = Effect.provide(layer)

    it.effect("save then load round-trips exactly", () =>
      Effect.gen(function*() {
        const store = yield* CheckpointStore
        const snap = makeSnapshot(id("round"))
        yield* store.save(snap)
        const back = Option.getOrThrow(yield* store.load(id("round")))
        assert.deepStrictEqual(back, snap)
      }).pipe(withStore))

    it.effect("load of an unknown id is None; delete of an unknown id is fine", () =>
      Effect.gen(function*() {
        const store = yield* CheckpointStore
        assert.isTrue(Option.isNone(yield* store.load(id("nobody"))))
        yield* store.delete(id("nobody"))
      }).pipe(withStore))

    it.effect("a second save replaces the first", () =>
      Effect.gen(function*() {
        const store = yield* CheckpointStore
        yield* store.save(makeSnapshot(id("twice"), { status: "interrupted" }))
        yield* store.save(makeSnapshot(id("twice"), { status: "completed", events: 5 }))
        const back = Option.getOrThrow(yield* store.load(id("twice")))
        assert.strictEqual(back.status, "completed")
        assert.strictEqual(back.completed.length, 5)
      }).pipe(withStore))

    it.effect("list shows status and time, newest first; delete removes", () =>
      Effect.gen(function*() {
        const store = yield* CheckpointStore
        yield* store.save(makeSnapshot(id("list-a"), { status: "interrupted", updatedAt: "2026-11-24T10:00:01.000Z" }))
        yield* store.save(makeSnapshot(id("list-b"), { status: "completed", updatedAt: "2026-11-24T11:00:00.000Z" }))
        const rows = (yield* store.list).filter((r) => r.stateId.startsWith(id("list-")))
        assert.deepStrictEqual(rows.map((r) => [r.stateId, r.status, r.updatedAt, r.workflow]), [
          [id("list-b"), "completed", "2026-11-24T11:00:00.000Z", "research"],
          [id("list-a"), "interrupted", "2026-11-24T10:00:01.000Z", "research"]
        ])
        yield* store.delete(id("list-a"))
        assert.deepStrictEqual(
          (yield* store.list).filter((r) => r.stateId.startsWith(id("list-"))).map((r) => r.stateId),
          [id("list-b")]
        )
        assert.isTrue(Option.isNone(yield* store.load(id("list-a"))))
      }).pipe(withStore))

    it.effect("unsafe state ids are rejected before anything is touched", () =>
      Effect.gen(function*() {
        const store = yield* CheckpointStore
        for (const bad of ["../x", "", "a/b", ".hidden", "x".repeat(129), "spaces are bad"]) {
          const load = yield* errorOf(store.load(bad))
          assert.strictEqual(load._tag, "CheckpointError")
          assert.strictEqual(load.reason, "invalid_state_id")
          assert.include(load.message, `Invalid state id ${JSON.stringify(bad)}`)
          assert.strictEqual((yield* errorOf(store.delete(bad))).reason, "invalid_state_id")
        }
        // a snapshot cannot even be built with a bad id
        assert.throws(() => makeSnapshot("../x"))
      }).pipe(withStore))

    it.effect("a corrupt document is a typed error naming where it is, and list marks it", () =>
      Effect.gen(function*() {
        const store = yield* CheckpointStore
        yield* backend.plant(id("torn"), "{\"version\":1,\"stateId\":\"" + id("torn") + "\",\"crea")
        const error = yield* errorOf(store.load(id("torn")))
        assert.strictEqual(error.reason, "corrupt")
        assert.include(error.message, `Checkpoint of ${id("torn")} is corrupt (`)
        yield* backend.plant(id("foreign"), "{\"hello\":\"world\"}")
        assert.strictEqual((yield* errorOf(store.load(id("foreign")))).reason, "corrupt")
        const rows = (yield* store.list).filter((r) => r.stateId === id("torn") || r.stateId === id("foreign"))
        assert.deepStrictEqual(rows.map((r) => r.status), ["corrupt", "corrupt"])
      }).pipe(withStore))

    it.effect("a snapshot of another execution under this id is corrupt", () =>
      Effect.gen(function*() {
        const store = yield* CheckpointStore
        const other = makeSnapshot(id("other"))
        yield* store.save(other)
        const text = JSON.stringify(JSON.parse(JSON.stringify({ ...other })))
        yield* backend.plant(id("mine"), text)
        assert.include((yield* errorOf(store.load(id("mine")))).message, `it holds execution ${id("other")}`)
      }).pipe(withStore))

    it.effect("a snapshot from a newer version is a typed error", () =>
      Effect.gen(function*() {
        const store = yield* CheckpointStore
        yield* backend.plant(id("future"), JSON.stringify({ version: 99, stateId: id("future") }))
        const error = yield* errorOf(store.load(id("future")))
        assert.strictEqual(error.reason, "unsupported_version")
        assert.include(error.message, "has version 99; this version of agent-interrupt reads up to 1")
      }).pipe(withStore))

    it.effect("concurrent saves leave one whole snapshot", () =>
      Effect.gen(function*() {
        const store = yield* CheckpointStore
        const exits = yield* Effect.forEach(
          Array.from({ length: 20 }, (_, i) => i),
          (i) => Effect.exit(store.save(makeSnapshot(id("race"), { events: 50 + i }))),
          { concurrency: "unbounded" }
        )
        assert.isTrue(exits.every(Exit.isSuccess))
        const back = Option.getOrThrow(yield* store.load(id("race")))
        assert.isAtLeast(back.completed.length, 50)
        assert.isAtMost(back.completed.length, 69)
      }).pipe(withStore))
  })
