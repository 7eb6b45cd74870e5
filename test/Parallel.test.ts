import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Ref } from "effect"
import { TestClock } from "effect/testing"
import {
  Actor,
  EventBus,
  ExecutionInterrupted,
  parallel,
  requestInterrupt,
  runEvent
} from "../src/index.ts"
import { withState } from "./utils/layers.ts"
import { executionEvents, groupEvents, interruptEventCount, timeline } from "./utils/bus.ts"


const sleepy = Actor.tool("search", (ms: number) => Effect.as(Effect.sleep(ms), ms * 10), { retry: { maxAttempts: 1 } })

describe("parallel", () => {
  it.effect("one ExecutionResult per branch, in input order, with group events and counts", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(
        parallel([300, 100, 200].map((ms) => runEvent(sleepy, ms)), { name: "search" }),
        { startImmediately: true }
      )
      yield* TestClock.adjust("300 millis")
      const results = yield* Fiber.join(fiber)
      assert.deepStrictEqual(results, [
        { result: 3000, executionTime: 300, ok: true },
        { result: 1000, executionTime: 100, ok: true },
        { result: 2000, executionTime: 200, ok: true }
      ])
      const groups = yield* groupEvents
      assert.deepStrictEqual(groups.map((g) => [g.status, g.total, g.completed, g.failed]), [
        ["pending", 3, 0, 0],
        ["running", 3, 0, 0],
        ["completed", 3, 3, 0]
      ])
      assert.strictEqual(groups[0]!.groupId, "search#1")
      const members = (yield* executionEvents).map((e) => e.groupId)
      assert.deepStrictEqual(new Set(members), new Set(["search#1"]))
    }).pipe(withState()))

  it.effect("concurrency limits how many branches run at once", () =>
    Effect.gen(function*() {
      const running = yield* Ref.make(0)
      const peak = yield* Ref.make(0)
      const branch = Effect.gen(function*() {
        const now = yield* Ref.updateAndGet(running, (n) => n + 1)
        yield* Ref.update(peak, (p) => Math.max(p, now))
        yield* Effect.sleep("1 second")
        yield* Ref.update(running, (n) => n - 1)
      })
      const fiber = yield* Effect.forkChild(parallel(Array.from({ length: 12 }, () => branch)), { startImmediately: true })
      yield* TestClock.adjust("3 seconds")
      assert.strictEqual((yield* Fiber.join(fiber)).length, 12)
      assert.strictEqual(yield* Ref.get(peak), 5) // the default
    }).pipe(withState()))

  it.effect("fail_slow lets every branch finish and reports each failure", () =>
    Effect.gen(function*() {
      const results = yield* parallel([Effect.succeed(1), Effect.fail(new Error("boom")), Effect.succeed(3)])
      assert.deepStrictEqual(results.map((r) => [r.ok, r.result, r.errorMessage]), [
        [true, 1, undefined],
        [false, undefined, "boom"],
        [true, 3, undefined]
      ])
      assert.deepStrictEqual((yield* groupEvents).at(-1)!.status, "failed")
    }).pipe(withState()))

  it.effect("fail_fast cancels the rest at the first failure", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(
        parallel([
          runEvent(sleepy, 1000),
          Effect.andThen(Effect.sleep("100 millis"), Effect.fail(new Error("boom"))),
          runEvent(sleepy, 5000)
        ], { errorStrategy: "fail_fast" }),
        { startImmediately: true }
      )
      yield* TestClock.adjust("100 millis")
      const results = yield* Fiber.join(fiber)
      assert.deepStrictEqual(results.map((r) => r.errorMessage), [
        "Cancelled after a sibling failed",
        "boom",
        "Cancelled after a sibling failed"
      ])
      assert.deepStrictEqual(yield* timeline, [
        "started search::tool_call",
        "started search::tool_call",
        "interrupted search::tool_call",
        "interrupted search::tool_call"
      ])
      assert.deepStrictEqual((yield* executionEvents).filter((e) => e.status === "interrupted").map((e) => e.detail), [
        "Cancelled",
        "Cancelled"
      ])
      const last = (yield* groupEvents).at(-1)!
      assert.strictEqual(last.status, "cancelled")
      assert.strictEqual(last.detail, "Cancelled after a sibling failed")
    }).pipe(withState()))

  it.effect("timeout cancels the group: Group timed out after {duration}", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(
        parallel([runEvent(sleepy, 1000), runEvent(sleepy, 10_000)], { timeout: "5 seconds", name: "slow" }),
        { startImmediately: true }
      )
      yield* TestClock.adjust("5 seconds")
      const results = yield* Fiber.join(fiber)
      assert.deepStrictEqual(results[0], { result: 10_000, executionTime: 1000, ok: true })
      assert.deepStrictEqual(results[1], { executionTime: 5000, ok: false, errorMessage: "Group timed out after 5s" })
      const last = (yield* groupEvents).at(-1)!
      assert.deepStrictEqual([last.status, last.detail, last.completed], ["cancelled", "Group timed out after 5s", 1])
    }).pipe(withState()))

  // seed: pre-interrupted parallel group
  it.effect("an interrupted execution starts no branch", () =>
    Effect.gen(function*() {
      yield* requestInterrupt({ reason: "user_cancelled" })
      let started = 0
      const error = yield* Effect.flip(parallel([Effect.sync(() => started++), Effect.sync(() => started++)]))
      assert.instanceOf(error, ExecutionInterrupted)
      assert.strictEqual(started, 0)
      assert.deepStrictEqual(yield* groupEvents, [])
    }).pipe(withState()))

  // seed: parallel cancellation / interrupt reaching parallel branches
  it.effect("an interrupt reaches every running branch at once; completed ones stay completed", () =>
    Effect.gen(function*() {
      const finalized = yield* Ref.make(0)
      const blocked = yield* Deferred.make<void>()
      const hang = Actor.tool("hang", () =>
        Effect.andThen(Deferred.succeed(blocked, undefined), Effect.never).pipe(
          Effect.ensuring(Ref.update(finalized, (n) => n + 1))
        ))
      const quick = Actor.tool("quick", () => Effect.succeed("done"))
      const fiber = yield* Effect.forkChild(
        parallel([runEvent(quick, 1), runEvent(hang, 2), runEvent(hang, 3), Effect.never], { name: "branches" }),
        { startImmediately: true }
      )
      yield* Deferred.await(blocked)
      yield* Effect.yieldNow
      yield* requestInterrupt({ reason: "user_cancelled" })
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert.instanceOf(error, ExecutionInterrupted)
      assert.strictEqual(yield* Ref.get(finalized), 2)
      const events = yield* executionEvents
      assert.deepStrictEqual(events.filter((e) => e.status === "completed").map((e) => e.address), ["quick::tool_call"])
      assert.deepStrictEqual(
        events.filter((e) => e.status === "interrupted").map((e) => `${e.address}#${e.occurrence} ${e.detail}`).sort(),
        ["hang::tool_call#1 Interrupted: user_cancelled", "hang::tool_call#2 Interrupted: user_cancelled"]
      )
      const last = (yield* groupEvents).at(-1)!
      assert.deepStrictEqual([last.status, last.completed, last.detail], ["cancelled", 1, "Interrupted: user_cancelled"])
    }).pipe(withState()))

  it.effect("exactly one InterruptEvent and one interrupted per event with 3 branches", () =>
    Effect.gen(function*() {
      const started = yield* Ref.make(0)
      const allStarted = yield* Deferred.make<void>()
      const search = Actor.tool("search", (_: number) =>
        Effect.andThen(
          Effect.flatMap(Ref.updateAndGet(started, (n) => n + 1), (n) => n === 3 ? Deferred.succeed(allStarted, undefined) : Effect.void),
          Effect.never
        ))
      const planner = Actor.agent("planner", () => parallel([1, 2, 3].map((n) => runEvent(search, n))))
      const fiber = yield* Effect.forkChild(runEvent(planner, undefined), { startImmediately: true })
      yield* Deferred.await(allStarted)
      // several requests, several checks: still one announcement
      yield* Effect.all([requestInterrupt({ reason: "timeout" }), requestInterrupt(), requestInterrupt()], { concurrency: 3 })
      yield* Effect.flip(Fiber.join(fiber))
      assert.strictEqual(yield* interruptEventCount, 1)
      const events = yield* executionEvents
      const interrupted = events.filter((e) => e.status === "interrupted")
      assert.strictEqual(interrupted.length, 4)
      assert.deepStrictEqual(
        interrupted.map((e) => `${e.address}#${e.occurrence}`).sort(),
        ["planner::agent_call#1", "planner::search::tool_call#1", "planner::search::tool_call#2", "planner::search::tool_call#3"]
      )
      // and the planner ends last
      assert.strictEqual(interrupted.at(-1)!.address, "planner::agent_call")
      // the group inside the interrupted planner ends cancelled, once
      const groups = yield* groupEvents
      assert.deepStrictEqual(groups.map((g) => g.status), ["pending", "running", "cancelled"])
      assert.strictEqual(groups.at(-1)!.detail, "Interrupted: timeout")
    }).pipe(withState()))

  it.effect("addresses in 3 parallel branches: each sees only its own path", () =>
    Effect.gen(function*() {
      const fetchPage = Actor.tool("fetch", (url: string) => Effect.succeed(url.length))
      const search = Actor.tool("search", (q: string, ctx) =>
        Effect.map(runEvent(fetchPage, `https://example.com/${q}`), () => ctx.address))
      const planner = Actor.agent("planner", () =>
        parallel(["a", "b", "c"].map((q) => runEvent(search, q, { tag: q })), { concurrency: "unbounded" }))
      const results = yield* runEvent(planner, undefined)
      assert.deepStrictEqual(results.map((r) => r.result), [
        "planner::search::a::tool_call",
        "planner::search::b::tool_call",
        "planner::search::c::tool_call"
      ])
      const fetches = (yield* executionEvents).filter((e) => e.actor === "fetch" && e.status === "completed")
      assert.deepStrictEqual(fetches.map((e) => e.address).sort(), [
        "planner::search::a::fetch::tool_call",
        "planner::search::b::fetch::tool_call",
        "planner::search::c::fetch::tool_call"
      ])
      // nested events do not carry the group id; the group's direct members do
      assert.isTrue(fetches.every((e) => e.groupId === undefined))
    }).pipe(withState()))

  it.effect("nested groups work and get their own ids", () =>
    Effect.gen(function*() {
      const leaf = Actor.tool("leaf", (n: number) => Effect.succeed(n))
      const inner = (base: number) => parallel([runEvent(leaf, base), runEvent(leaf, base + 1)], { name: "inner" })
      const outer = yield* parallel([inner(10), inner(20)], { name: "outer" })
      assert.deepStrictEqual(outer.map((r) => r.result!.map((x) => x.result)), [[10, 11], [20, 21]])
      const ids = [...new Set((yield* groupEvents).map((g) => g.groupId))]
      assert.deepStrictEqual(ids.sort(), ["inner#1", "inner#2", "outer#1"])
    }).pipe(withState()))

  it.effect("drain: running branches finish, pending ones never start", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(
        parallel([runEvent(sleepy, 1000), runEvent(sleepy, 1000), runEvent(sleepy, 1000)], { concurrency: 2 }),
        { startImmediately: true }
      )
      yield* Effect.yieldNow
      yield* requestInterrupt({ reason: "system_shutdown" })
      yield* TestClock.adjust("1 second")
      yield* Effect.flip(Fiber.join(fiber))
      assert.deepStrictEqual(yield* timeline, [
        "started search::tool_call",
        "started search::tool_call",
        "completed search::tool_call",
        "completed search::tool_call"
      ])
      // the group's counts say what was kept: two branches done, though the stop failed them
      const cancelled = (yield* groupEvents).at(-1)!
      assert.deepStrictEqual([cancelled.status, cancelled.completed, cancelled.total], ["cancelled", 2, 3])
    }).pipe(withState()))

  it.effect("a drain that ends at its deadline: the branches that finished are counted, the one aborted is not", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(
        parallel([runEvent(sleepy, 500), runEvent(sleepy, 800), runEvent(sleepy, 60_000)], { concurrency: 3 }),
        { startImmediately: true }
      )
      yield* Effect.yieldNow
      yield* requestInterrupt({ reason: "system_shutdown" }) // drains for 10 s
      yield* TestClock.adjust("10 seconds")
      yield* Effect.flip(Fiber.join(fiber))
      const cancelled = (yield* groupEvents).at(-1)!
      assert.deepStrictEqual([cancelled.status, cancelled.completed, cancelled.total], ["cancelled", 2, 3])
    }).pipe(withState()))
})

describe("parallel: members stopped with their group", () => {
  // Each member publishes `started`, then blocks; `allStarted` completes when `n` have started.
  const blockedMembers = (n: number) =>
    Effect.gen(function*() {
      const started = yield* Ref.make(0)
      const allStarted = yield* Deferred.make<void>()
      const finalized = yield* Ref.make(0)
      const member = Actor.tool("member", (_: number) =>
        Effect.andThen(
          Effect.flatMap(Ref.updateAndGet(started, (k) => k + 1), (k) => k === n ? Deferred.succeed(allStarted, undefined) : Effect.void),
          Effect.never
        ).pipe(Effect.ensuring(Ref.update(finalized, (k) => k + 1))))
      return { allStarted, finalized, member }
    })

  it.effect("an interrupt: one interrupted event per member, after the InterruptEvent and before the group's cancelled", () =>
    Effect.gen(function*() {
      const { allStarted, finalized, member } = yield* blockedMembers(5)
      const fiber = yield* Effect.forkChild(
        parallel([1, 2, 3, 4, 5].map((i) => runEvent(member, i)), { concurrency: "unbounded", name: "five" }),
        { startImmediately: true }
      )
      yield* Deferred.await(allStarted)
      yield* requestInterrupt({ reason: "user_cancelled", message: "Stop clicked" })
      assert.instanceOf(yield* Effect.flip(Fiber.join(fiber)), ExecutionInterrupted)
      assert.strictEqual(yield* Ref.get(finalized), 5)
      const history = yield* EventBus.use((bus) => bus.history)
      const tags = history.map((e) => e._tag === "ExecutionEvent" ? `${e.status}#${e.occurrence}` : e._tag === "GroupEvent" ? `group ${e.status}` : e._tag)
      const interrupted = history.flatMap((e) => e._tag === "ExecutionEvent" && e.status === "interrupted" ? [e] : [])
      assert.deepStrictEqual(interrupted.map((e) => e.occurrence).sort(), [1, 2, 3, 4, 5])
      for (const e of interrupted) {
        assert.strictEqual(e.detail, "Interrupted: user_cancelled")
        assert.strictEqual(e.message, "Stop clicked")
        assert.strictEqual(e.groupId, "five#1")
        assert.strictEqual(e.stopLatency, 0) // TestClock
      }
      const interruptAt = tags.indexOf("InterruptEvent")
      const cancelledAt = tags.indexOf("group cancelled")
      for (const e of interrupted) {
        const at = tags.indexOf(`interrupted#${e.occurrence}`)
        assert.isTrue(interruptAt < at && at < cancelledAt, tags.join(", "))
      }
      assert.strictEqual(tags.filter((t) => t === "group cancelled").length, 1)
    }).pipe(withState()))

  it.effect("members in fibers a branch forked are stopped once too", () =>
    Effect.gen(function*() {
      const { allStarted, member } = yield* blockedMembers(4)
      const branch = (base: number) =>
        Effect.all([runEvent(member, base), runEvent(member, base + 1)], { concurrency: 2 })
      const fiber = yield* Effect.forkChild(parallel([branch(1), branch(3)], { concurrency: "unbounded" }), {
        startImmediately: true
      })
      yield* Deferred.await(allStarted)
      yield* requestInterrupt({ reason: "timeout" })
      yield* Effect.flip(Fiber.join(fiber))
      const events = yield* executionEvents
      assert.deepStrictEqual(
        events.filter((e) => e.status === "interrupted").map((e) => `${e.occurrence} ${e.detail}`).sort(),
        ["1 Interrupted: timeout", "2 Interrupted: timeout", "3 Interrupted: timeout", "4 Interrupted: timeout"]
      )
      assert.strictEqual(events.length, 8)
    }).pipe(withState()))

  it.effect("a member its branch cancels (a lost race) ends Cancelled at once, and its group goes on", () =>
    Effect.gen(function*() {
      const { allStarted, member } = yield* blockedMembers(1)
      const fiber = yield* Effect.forkChild(
        parallel([Effect.raceFirst(runEvent(member, 1), Effect.andThen(Deferred.await(allStarted), Effect.succeed(0)))]),
        { startImmediately: true }
      )
      const results = yield* Fiber.join(fiber)
      assert.deepStrictEqual(results.map((r) => r.result), [0])
      assert.deepStrictEqual(yield* timeline, ["started member::tool_call", "interrupted member::tool_call"])
      assert.strictEqual((yield* executionEvents)[1]!.detail, "Cancelled")
      assert.deepStrictEqual((yield* groupEvents).map((g) => g.status), ["pending", "running", "completed"])
    }).pipe(withState()))

  it.effect("a member's abort signal aborts when its group is stopped, before the handler's finalizers run", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const started = yield* Deferred.make<void>()
      const fetchLike = Actor.tool("fetch", (_: number, ctx) =>
        Effect.gen(function*() {
          ctx.signal.addEventListener("abort", () => seen.push(`aborted ${String(ctx.signal.reason?.reason)}`))
          yield* Deferred.succeed(started, undefined)
          return yield* Effect.never
        }).pipe(Effect.ensuring(Effect.sync(() => seen.push("finalizer")))))
      const fiber = yield* Effect.forkChild(parallel([runEvent(fetchLike, 1)]), { startImmediately: true })
      yield* Deferred.await(started)
      yield* requestInterrupt({ reason: "resource_limit" })
      yield* Effect.flip(Fiber.join(fiber))
      assert.deepStrictEqual(seen, ["aborted resource_limit", "finalizer"])
    }).pipe(withState()))
})
