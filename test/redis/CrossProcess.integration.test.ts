/**
 * The control plane on Redis across OS processes: workers are child processes
 * (test/fixtures/redis-worker.ts, the research demo over `RedisExecutions.layerWithStore`); the
 * controller is a control plane of its own in this process, as another machine would be.
 */
import { assert, layer } from "@effect/vitest"
import { Deferred, Effect, Fiber, Stream } from "effect"
import { testLayer } from "../utils/redisServer.ts"
import { type Child, type EventLine, waitLine } from "./children.ts"
import { controlPlane, eventsIn, eventually, expectThat, isStep, keys, send, uid, worker } from "./helpers.ts"

/** The owner a worker fixture announces with its READY line. */
const ready = (child: Child, stateId: string) =>
  waitLine(child, (l) => l.startsWith(`READY ${stateId} `) ? l.slice(`READY ${stateId} `.length) : undefined, "READY")

/** The worker fixture's OUTCOME line, parsed. */
const outcomeOf = (child: Child) =>
  waitLine(
    child,
    (line) => line.startsWith("OUTCOME ") ? JSON.parse(line.slice(8)) as Record<string, unknown> : undefined,
    "the outcome"
  )

/** Waits until the worker printed the `completed` event of the plan (its first step). */
const planCompleted = (child: Child) =>
  waitLine(child, (l) => l.includes("\"status\":\"completed\"") && l.includes("planner::plan::") ? true : undefined, "the plan")

/** `address #occurrence` of the step events with that status. */
const steps = (events: ReadonlyArray<EventLine>, status: string) =>
  events.filter((e) => isStep(e, status)).map((e) => `${String(e.event["address"])} #${String(e.event["occurrence"])}`).sort()

const workerEvents = (child: Child) => eventsIn(child.stdout().split("\n"))

layer(testLayer, { excludeTestServices: true, timeout: "30 seconds" })("the control plane across processes", (it) => {
  it.effect(
    "a worker process runs; another process sees it, follows it, interrupts it (push) with every stage; a third resumes it",
    () =>
      Effect.gen(function*() {
        const stateId = uid("xproc")
        const controller = yield* controlPlane()
        const first = yield* worker(["run", stateId, "--pace", "0.5"])
        const owner = yield* ready(first, stateId)

        // seen from here: running, on the worker's owner, listed
        const seen = yield* controller.executions.get(stateId)
        assert.deepStrictEqual([seen.status, seen.owner, seen.workflow, seen.startedBy, seen.runs], [
          "running",
          owner,
          "research",
          "fixture",
          1
        ])
        const listed = (yield* controller.executions.list()).find((i) => i.executionId === stateId)
        assert.deepStrictEqual([listed?.status, listed?.owner], ["running", owner])
        const followed = yield* Effect.forkChild(Stream.runCollect(controller.executions.events(stateId)), {
          startImmediately: true
        })
        yield* planCompleted(first)

        // interrupted from here: the request reaches the worker through Redis (pushed)
        const receipt = yield* controller.executions.interrupt(stateId, {
          reason: "user_cancelled",
          message: "Stopped from another process",
          triggeredBy: "controller",
          await: "checkpointed",
          awaitTimeout: "15 seconds"
        })
        assert.strictEqual(receipt._tag, "InterruptAccepted")
        assert.deepStrictEqual(receipt.stages.map((s) => [s.stage, s.detail]), [
          ["requested", undefined],
          ["delivered", "push"],
          ["stopped", undefined],
          ["checkpointed", stateId]
        ])
        const times = receipt.stages.map((s) => s.at)
        assert.deepStrictEqual(times, [...times].sort(), "the stages are in causal order")
        assert.deepStrictEqual([receipt.signal.triggeredBy, receipt.checkpointId], ["controller", stateId])

        assert.deepStrictEqual(yield* outcomeOf(first), {
          status: "interrupted",
          owner,
          runs: 1,
          checkpoint: "saved",
          recovered: 0,
          reason: "user_cancelled",
          message: "Stopped from another process"
        })
        assert.strictEqual(yield* Deferred.await(first.exit), 3)

        // what this process followed live is what the worker's bus had, with the same numbers
        const firstEvents = workerEvents(first)
        const live = yield* Fiber.join(followed)
        assert.deepStrictEqual(
          live.map((i) => `${i.sequence} ${i.event._tag}`),
          firstEvents.map((e) => `${e.sequence} ${e.event._tag}`)
        )
        const delivered = live.find((i) => i.event._tag === "InterruptEvent")
        assert.strictEqual(delivered?.event._tag === "InterruptEvent" ? delivered.event.via : undefined, "push")
        const stopped = yield* controller.executions.get(stateId)
        assert.deepStrictEqual([stopped.status, stopped.checkpoint, stopped.interrupt?.triggeredBy], [
          "interrupted",
          "saved",
          "controller"
        ])
        assert.deepStrictEqual(stopped.interruptStages.map((s) => s.stage), ["requested", "delivered", "stopped", "checkpointed"])
        // what its journal in Redis holds: at least the plan, and every step it said completed
        const journaled = yield* controller.executions.snapshot(stateId)
        const done = journaled.completed.map((s) => `${s.address} #${s.occurrence}`).sort()
        assert.include(done, "planner::plan::llm_call #1")
        assert.includeMembers(done, steps(firstEvents, "completed"))

        // another process resumes it from Redis: what was journaled comes back recovered, not run again
        const second = yield* worker(["resume", stateId])
        const heir = yield* ready(second, stateId)
        assert.notStrictEqual(heir, owner)
        const resumed = yield* outcomeOf(second)
        assert.deepStrictEqual([resumed["status"], resumed["owner"], resumed["runs"], resumed["recovered"]], [
          "completed",
          heir,
          2,
          done.length
        ])
        assert.strictEqual(yield* Deferred.await(second.exit), 0)
        const secondEvents = workerEvents(second)
        assert.deepStrictEqual(steps(secondEvents, "recovered"), done)
        assert.isFalse(secondEvents.some((e) => isStep(e, "started", "planner::plan::")))
        // its events are numbered on from the first process's
        assert.strictEqual(secondEvents[0]?.sequence, firstEvents.at(-1)!.sequence + 1)
        assert.strictEqual(secondEvents[0]?.event._tag, "ExecutionStarted")

        const final = yield* controller.executions.get(stateId)
        assert.deepStrictEqual([final.status, final.owner, final.runs, final.progress.recovered], [
          "completed",
          heir,
          2,
          done.length
        ])
      }),
    30_000
  )

  it.effect(
    "a worker killed with SIGKILL after its plan: lost once its lease expires, not interruptible, resumed by another",
    () =>
      Effect.gen(function*() {
        const stateId = uid("killed")
        const controller = yield* controlPlane()
        const k = yield* keys
        const doomed = yield* worker(["run", stateId, "--pace", "0.5"])
        const owner = yield* ready(doomed, stateId)
        // the plan's record is in the journal before its `completed` event is published (sync durability)
        yield* planCompleted(doomed)
        assert.strictEqual((yield* controller.executions.get(stateId)).status, "running")

        yield* doomed.kill("SIGKILL")
        assert.strictEqual(yield* Deferred.await(doomed.exit), 137)
        // its lease (400 ms) expires: lost, still showing who ran it
        const lost = yield* eventually(
          Effect.flatMap(controller.executions.get(stateId), (info) => expectThat(info, (i) => i.status === "lost", "lost"))
        )
        assert.strictEqual(lost.owner, owner)
        const listed = (yield* controller.executions.list()).find((i) => i.executionId === stateId)
        assert.strictEqual(listed?.status, "lost")

        // nobody to deliver to: refused at once, and nothing waits in Redis for a later owner
        const refused = yield* Effect.flip(controller.executions.interrupt(stateId, { triggeredBy: "controller" }))
        assert.strictEqual(refused._tag, "ExecutionNotRunning")
        assert.strictEqual(refused._tag === "ExecutionNotRunning" ? refused.status : undefined, "lost")
        assert.strictEqual(yield* send<number>("EXISTS", k.request(stateId)), 0)

        // another process takes it over from the journal: the plan is not run again
        const heir = yield* worker(["resume", stateId])
        const heirOwner = yield* ready(heir, stateId)
        const outcome = yield* outcomeOf(heir)
        assert.deepStrictEqual([outcome["status"], outcome["owner"], outcome["runs"]], ["completed", heirOwner, 2])
        assert.strictEqual(yield* Deferred.await(heir.exit), 0)
        const events = workerEvents(heir)
        assert.include(steps(events, "recovered").join(), "planner::plan::llm_call")
        assert.isFalse(events.some((e) => isStep(e, "started", "planner::plan::")))
        assert.strictEqual(outcome["recovered"], steps(events, "recovered").length)
        const final = yield* controller.executions.get(stateId)
        assert.deepStrictEqual([final.status, final.owner, final.runs], ["completed", heirOwner, 2])
      }),
    30_000
  )
})
