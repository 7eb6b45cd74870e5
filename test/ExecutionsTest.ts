/**
 * The contract every control plane passes: `Executions.layerLocal` and `RedisExecutions.layer`.
 *
 * A harness makes control planes over one shared store: each call is one process (a restart, or
 * another machine), the next sees what the previous journaled. Runs are driven by gates the test
 * opens (no clock): a priority override drains until the gate opens, so a run stays `cancelling`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Option, Scope, Stream } from "effect"
import {
  CheckpointStore,
  Executions,
  type ExecutionInfo,
  type JournalRecord,
  type LocalOptions,
  StopPolicy
} from "../src/index.ts"
import { freshGate, openGate, testWorkflows } from "./utils/workflows.ts"

export interface Harness {
  /** A control plane (and its store) over the suite's shared store: one process. */
  readonly make: (options: LocalOptions) => Layer.Layer<Executions | CheckpointStore, unknown>
  /** A unique prefix for state ids, so shared backends do not collide. */
  readonly prefix: string
}

const defaults: LocalOptions = {
  workflows: testWorkflows,
  stopPolicy: { system_shutdown: StopPolicy.abort(), priority_override: StopPolicy.drain("1 hour") }
}

const tagsOf = (items: ReadonlyArray<{ readonly event: { readonly _tag: string } }>) => items.map((i) => i.event._tag)

export const suite = (name: string, harness: Harness) =>
  describe(`Executions contract: ${name}`, () => {
    const id = (s: string) => `${harness.prefix}${s}`

    /** A process: its control plane, for as long as the returned scope is open. */
    const process = (options: LocalOptions = {}) =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(harness.make({ ...defaults, ...options }), scope)
        return { executions: Context.get(context, Executions), store: Context.get(context, CheckpointStore), scope }
      })

    /** Waits until the run's `wait` step has started (it then waits for its gate). */
    const waiting = (executions: Executions["Service"], executionId: string) =>
      executions.events(executionId).pipe(
        Stream.takeUntil((item) =>
          item.event._tag === "ExecutionEvent" && item.event.actor === "wait" && item.event.status === "started"
        ),
        Stream.runDrain
      )

    it.live("start: running, then completed with its result; listed; its events framed by started and finished", () =>
      Effect.gen(function*() {
        const { executions, scope } = yield* process()
        const gate = freshGate("start")
        const executionId = yield* executions.start("gated", { gate }, { stateId: id("start"), startedBy: "alice" })
        assert.strictEqual(executionId, id("start"))
        yield* waiting(executions, executionId)
        const running = yield* executions.get(executionId)
        assert.deepStrictEqual([running.status, running.runs, running.startedBy, running.workflow], [
          "running",
          1,
          "alice",
          "gated"
        ])
        assert.deepStrictEqual(running.input, { gate })
        yield* openGate(gate)
        const done = yield* executions.awaitEnd(executionId)
        assert.strictEqual(done.status, "completed")
        assert.strictEqual(done.result, `finished ${gate}`)
        assert.strictEqual(done.checkpoint, "saved")
        assert.deepStrictEqual([done.progress.completed, done.progress.done], [3, 3])
        assert.isTrue((yield* executions.list()).some((i) => i.executionId === executionId && i.status === "completed"))
        const completedOnly = yield* executions.list({ status: ["completed"] })
        assert.isTrue(completedOnly.every((i) => i.status === "completed"))
        const events = yield* Stream.runCollect(executions.events(executionId))
        assert.strictEqual(events[0]!.event._tag, "ExecutionStarted")
        assert.strictEqual(events.at(-1)!.event._tag, "ExecutionFinished")
        assert.deepStrictEqual(events.map((e) => e.sequence), events.map((_, i) => i + 1))
        yield* Scope.close(scope, Exit.void)
      }))

    it.live("bad starts: unknown workflow, invalid input, invalid id, an existing id; force starts over", () =>
      Effect.gen(function*() {
        const { executions, scope } = yield* process()
        assert.strictEqual((yield* Effect.flip(executions.start("nope", {})))._tag, "UnknownWorkflow")
        assert.strictEqual((yield* Effect.flip(executions.start("quick", { n: "two" })))._tag, "InvalidWorkflowInput")
        const invalid = yield* Effect.flip(executions.start("quick", { n: 1 }, { stateId: "../victim" }))
        assert.strictEqual(invalid._tag, "InvalidExecutionId")
        const first = yield* executions.start("quick", { n: 1 }, { stateId: id("exists") })
        yield* executions.awaitEnd(first)
        const refused = yield* Effect.flip(executions.start("quick", { n: 2 }, { stateId: id("exists") }))
        assert.strictEqual(refused._tag, "ExecutionExists")
        assert.strictEqual(
          refused.message,
          `Execution ${id("exists")} already exists (completed): resume it, or start over with --force`
        )
        yield* executions.start("quick", { n: 2 }, { stateId: id("exists"), force: true })
        const again = yield* executions.awaitEnd(id("exists"))
        assert.deepStrictEqual([again.status, again.result, again.runs], ["completed", 4, 1])
        yield* Scope.close(scope, Exit.void)
      }))

    it.live("interrupt: accepted (requested → delivered); already while it drains; not running once it ended — nothing left behind", () =>
      Effect.gen(function*() {
        const { executions, scope } = yield* process()
        const gate = freshGate("interrupt")
        const executionId = yield* executions.start("gated", { gate }, { stateId: id("interrupt") })
        yield* waiting(executions, executionId)
        const receipt = yield* executions.interrupt(executionId, {
          reason: "priority_override",
          message: "make room",
          triggeredBy: "alice"
        })
        assert.strictEqual(receipt._tag, "InterruptAccepted")
        assert.deepStrictEqual(receipt.stages.map((s) => s.stage).slice(0, 2), ["requested", "delivered"])
        assert.isTrue(receipt.stages[0]!.at <= receipt.stages[1]!.at)
        assert.strictEqual((yield* executions.get(executionId)).status, "cancelling")
        const again = yield* executions.interrupt(executionId, { reason: "user_cancelled", triggeredBy: "bob" })
        assert.strictEqual(again._tag, "AlreadyInterrupted")
        assert.strictEqual(again.signal.triggeredBy, "alice")
        yield* openGate(gate)
        const ended = yield* executions.awaitEnd(executionId)
        assert.strictEqual(ended.status, "interrupted")
        assert.deepStrictEqual(ended.interruptStages.map((s) => s.stage), ["requested", "delivered", "stopped", "checkpointed"])
        const times = ended.interruptStages.map((s) => s.at)
        assert.deepStrictEqual(times, [...times].sort())
        const late = yield* Effect.flip(executions.interrupt(executionId))
        assert.strictEqual(late._tag, "ExecutionNotRunning")
        assert.strictEqual(late.message, `Execution ${executionId} is not running: it is interrupted`)
        // nothing left behind: a resume runs to the end, not stopped by the refused request
        yield* executions.resume(executionId)
        const resumed = yield* executions.awaitEnd(executionId)
        assert.strictEqual(resumed.status, "completed")
        yield* Scope.close(scope, Exit.void)
      }))

    it.live("resume: completed steps come back recovered; events are numbered on across attempts", () =>
      Effect.gen(function*() {
        const { executions, scope } = yield* process()
        const gate = freshGate("resume")
        const executionId = yield* executions.start("gated", { gate }, { stateId: id("resume") })
        yield* waiting(executions, executionId)
        yield* executions.interrupt(executionId, { await: "checkpointed" })
        const first = yield* executions.awaitEnd(executionId)
        assert.strictEqual(first.status, "interrupted")
        const running = yield* Effect.flip(executions.interrupt(executionId))
        assert.strictEqual(running._tag, "ExecutionNotRunning")
        yield* executions.resume(executionId, { resumedBy: "bob" })
        const refused = yield* Effect.flip(executions.resume(executionId))
        assert.strictEqual(refused._tag, "NotResumable")
        yield* openGate(gate)
        const second = yield* executions.awaitEnd(executionId)
        assert.deepStrictEqual([second.status, second.runs, second.progress.recovered], ["completed", 2, 1])
        const all = yield* Stream.runCollect(executions.events(executionId))
        assert.deepStrictEqual(all.map((e) => e.sequence), all.map((_, i) => i + 1))
        assert.deepStrictEqual(tagsOf(all).filter((t) => t === "ExecutionStarted" || t === "ExecutionFinished"), [
          "ExecutionStarted",
          "ExecutionFinished",
          "ExecutionStarted",
          "ExecutionFinished"
        ])
        const after = yield* Stream.runCollect(executions.events(executionId, { after: first.lastSequence }))
        assert.strictEqual(after[0]!.event._tag, "ExecutionStarted")
        assert.strictEqual(after[0]!.sequence, first.lastSequence + 1)
        const completed = yield* Effect.flip(executions.resume(executionId))
        assert.strictEqual(completed._tag, "NotResumable")
        assert.include(completed.message, "it already completed at")
        yield* Scope.close(scope, Exit.void)
      }))

    it.live("a fresh process over the same store (a restart) lists, shows, follows and resumes what is stored", () =>
      Effect.gen(function*() {
        const gate = freshGate("restart")
        const before = yield* process()
        const executionId = yield* before.executions.start("gated", { gate }, { stateId: id("restart") })
        yield* waiting(before.executions, executionId)
        yield* before.executions.interrupt(executionId, { await: "checkpointed" })
        const stopped = yield* before.executions.awaitEnd(executionId)
        yield* Scope.close(before.scope, Exit.void)

        const after = yield* process()
        const listed = (yield* after.executions.list()).find((i) => i.executionId === executionId)
        assert.strictEqual(listed?.status, "interrupted")
        const info = yield* after.executions.get(executionId)
        assert.deepStrictEqual(
          [info.status, info.workflow, info.runs, info.progress.done, info.interrupt?.reason],
          [stopped.status, stopped.workflow, stopped.runs, stopped.progress.done, stopped.interrupt?.reason]
        )
        assert.deepStrictEqual(info.input, { gate })
        const history = yield* Stream.runCollect(after.executions.events(executionId))
        assert.strictEqual(history[0]!.event._tag, "ExecutionStarted")
        assert.strictEqual(history.at(-1)!.event._tag, "ExecutionFinished")
        yield* after.executions.resume(executionId)
        yield* openGate(gate)
        const done = yield* after.executions.awaitEnd(executionId)
        assert.deepStrictEqual([done.status, done.runs, done.progress.recovered], ["completed", 2, 1])
        yield* Scope.close(after.scope, Exit.void)
      }))

    it.live("what another process does to a run is seen here: resumed and completed there", () =>
      Effect.gen(function*() {
        const gate = freshGate("elsewhere")
        const a = yield* process()
        const b = yield* process()
        const executionId = yield* a.executions.start("gated", { gate }, { stateId: id("elsewhere") })
        yield* waiting(a.executions, executionId)
        yield* a.executions.interrupt(executionId, { await: "checkpointed" })
        assert.strictEqual((yield* a.executions.awaitEnd(executionId)).status, "interrupted")
        yield* b.executions.resume(executionId)
        yield* openGate(gate)
        assert.strictEqual((yield* b.executions.awaitEnd(executionId)).status, "completed")
        const seen = yield* a.executions.get(executionId)
        assert.deepStrictEqual([seen.status, seen.runs], ["completed", 2])
        yield* Scope.close(a.scope, Exit.void)
        yield* Scope.close(b.scope, Exit.void)
      }))

    it.live("a run whose owner is gone is lost: shown so, not interruptible, resumed anywhere", () =>
      Effect.gen(function*() {
        const { executions, scope, store } = yield* process()
        const gate = freshGate("lost")
        const executionId = id("lost")
        // what a process killed in the middle of the run leaves: a journal without its end, no lease
        const records: Array<JournalRecord> = [
          { _tag: "RunStarted", stateId: executionId, attempt: 1, timestamp: "2026-11-24T10:00:00.000Z", workflow: "gated", input: { gate } },
          {
            _tag: "StepCompleted",
            address: "prepare::tool_call",
            occurrence: 1,
            actor: "prepare",
            kind: "tool",
            attempt: 1,
            idempotencyKey: `${executionId}::prepare::tool_call#1`,
            timestamp: "2026-11-24T10:00:00.100Z",
            result: `prepared ${gate}`
          }
        ]
        yield* store.append(executionId, records)
        assert.strictEqual((yield* executions.get(executionId)).status, "lost")
        const refused = yield* Effect.flip(executions.interrupt(executionId))
        assert.strictEqual(refused._tag, "ExecutionNotRunning")
        assert.strictEqual(refused.message, `Execution ${executionId} is not running: it is lost`)
        yield* executions.resume(executionId)
        yield* openGate(gate)
        const done = yield* executions.awaitEnd(executionId)
        assert.deepStrictEqual([done.status, done.progress.recovered, done.progress.completed], ["completed", 1, 2])
        yield* Scope.close(scope, Exit.void)
      }))

    it.live("shutdown interrupts what runs here with system_shutdown and refuses new starts", () =>
      Effect.gen(function*() {
        const { executions, scope } = yield* process()
        const gate = freshGate("shutdown")
        const executionId = yield* executions.start("gated", { gate }, { stateId: id("shutdown") })
        yield* waiting(executions, executionId)
        const stopped = yield* executions.shutdown
        assert.deepStrictEqual(stopped.map((i) => i.executionId), [executionId])
        const info = yield* executions.get(executionId)
        assert.deepStrictEqual([info.status, info.interrupt?.reason, info.interrupt?.triggeredBy], [
          "interrupted",
          "system_shutdown",
          "server"
        ])
        assert.strictEqual((yield* Effect.flip(executions.start("quick", { n: 1 })))._tag, "ShuttingDown")
        assert.strictEqual((yield* Effect.flip(executions.resume(executionId)))._tag, "ShuttingDown")
        yield* Scope.close(scope, Exit.void)
      }))

    it.live("unknown ids are not found everywhere; unreadable journals are reported, not listed", () =>
      Effect.gen(function*() {
        const { executions, scope } = yield* process()
        const nobody = id("nobody")
        assert.strictEqual((yield* Effect.flip(executions.get(nobody)))._tag, "ExecutionNotFound")
        assert.strictEqual((yield* Effect.flip(executions.interrupt(nobody)))._tag, "ExecutionNotFound")
        assert.strictEqual((yield* Effect.flip(executions.resume(nobody)))._tag, "ExecutionNotFound")
        assert.strictEqual((yield* Effect.flip(Stream.runDrain(executions.events(nobody))))._tag, "ExecutionNotFound")
        assert.isTrue(Option.isNone(Option.fromUndefinedOr((yield* executions.list()).find((i: ExecutionInfo) => i.executionId === nobody))))
        yield* Scope.close(scope, Exit.void)
      }))
  })
