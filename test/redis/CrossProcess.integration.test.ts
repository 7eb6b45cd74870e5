/**
 * Distributed control across OS processes: a worker child process runs the research workflow with
 * its checkpoints in Redis, this process is the controller.
 */
import { assert, layer } from "@effect/vitest"
import { Deferred, Effect, Option } from "effect"
import { CheckpointStore } from "../../src/index.ts"
import * as Registry from "../../src/redis/Registry.ts"
import * as RedisStore from "../../src/redis/RedisStore.ts"
import { awaitStage, interruptRemote } from "../../src/redis/RemoteInterrupt.ts"
import { RedisServer, testLayer } from "../utils/redisServer.ts"
import { type Child, eventOf, fixture, spawnNode, waitLine } from "./children.ts"
import { eventually, expect, uid } from "./helpers.ts"

const worker = (args: ReadonlyArray<string>) =>
  Effect.flatMap(RedisServer, (server) =>
    spawnNode(fixture("redis-worker.ts"), args, {
      REDIS_URL: server.url,
      AGENT_INTERRUPT_REDIS_PREFIX: server.prefix
    }))

const outcomeOf = (child: Child) =>
  waitLine(
    child,
    (line) => line.startsWith("OUTCOME ") ? JSON.parse(line.slice(8)) as Record<string, unknown> : undefined,
    "the outcome"
  )

/** The `status address` of each execution event the child printed until now. */
const completedPlan = (line: string) => {
  const event = eventOf(line)
  return event?._tag === "ExecutionEvent" && event["status"] === "completed" &&
      String(event["address"]).includes("plan")
    ? event
    : undefined
}

layer(testLayer, { excludeTestServices: true, timeout: "60 seconds" })("distributed control across processes", (it) => {
  it.effect(
    "a controller interrupts a worker process; the checkpoint is in Redis; another process resumes it",
    () =>
      Effect.gen(function*() {
        const stateId = uid("xproc")
        const first = yield* worker(["run", stateId, "--owner", "worker-A", "--pace", "0.3"])
        yield* waitLine(first, (l) => l.startsWith(`READY ${stateId} worker-A`) ? true : undefined, "READY")
        yield* waitLine(first, completedPlan, "the plan to complete")

        const receipt = yield* interruptRemote(stateId, {
          reason: "user_cancelled",
          message: "Stopped from another process",
          triggeredBy: "controller"
        })
        assert.deepStrictEqual([receipt.owner, receipt.runStatus, receipt.duplicate], ["worker-A", "running", false])
        const reached = yield* awaitStage(receipt, "checkpointed", "15 seconds")
        assert.strictEqual(reached._tag, "Reached")
        assert.deepStrictEqual(reached._tag === "Reached" && [reached.status.via, reached.status.deliveredTo], [
          "push",
          "worker-A"
        ])

        const outcome = yield* outcomeOf(first)
        assert.deepStrictEqual(outcome, {
          _tag: "Interrupted",
          stateId,
          reason: "user_cancelled",
          message: "Stopped from another process",
          checkpointId: stateId
        })
        assert.strictEqual(yield* Deferred.await(first.exit), 3)

        // the checkpoint is in Redis, with the plan among the completed events
        const store = yield* CheckpointStore
        const snapshot = Option.getOrThrow(yield* store.load(stateId))
        assert.strictEqual(snapshot.status, "interrupted")
        assert.strictEqual(snapshot.metadata.interrupt?.triggeredBy, "controller")
        assert.isTrue(snapshot.completed.some((e) => e.address.includes("plan")))
        const interrupted = Option.getOrThrow(yield* Registry.get(stateId))
        assert.deepStrictEqual([interrupted.status, interrupted.owner, interrupted.checkpoint], [
          "interrupted",
          "worker-A",
          "saved"
        ])

        // a second process resumes from the Redis checkpoint: the plan is replayed, not run again
        const second = yield* worker(["resume", stateId, "--owner", "worker-B"])
        const recovered = yield* waitLine(second, (line) => {
          const event = eventOf(line)
          return event?._tag === "ExecutionEvent" && event["status"] === "recovered" ? event : undefined
        }, "a recovered event")
        assert.include(String(recovered["address"]), "plan")
        const resumed = yield* outcomeOf(second)
        assert.strictEqual(resumed["_tag"], "Completed")
        assert.deepStrictEqual((resumed["value"] as { sources: ReadonlyArray<string> }).sources, [
          "web",
          "papers",
          "news"
        ])
        assert.strictEqual(yield* Deferred.await(second.exit), 0)
        const done = Option.getOrThrow(yield* Registry.get(stateId))
        assert.deepStrictEqual([done.status, done.owner, done.generation, done.alive], [
          "completed",
          "worker-B",
          2,
          false
        ])
      }).pipe(Effect.provide(RedisStore.layerRedis()))
  )

  it.effect("a worker killed with SIGKILL shows up as lost, and another worker resumes it", () =>
    Effect.gen(function*() {
      const stateId = uid("killed")
      const doomed = yield* worker([
        "run",
        stateId,
        "--owner",
        "worker-C",
        "--pace",
        "0.3",
        "--heartbeat",
        "100",
        "--save-every",
        "event"
      ])
      yield* waitLine(doomed, completedPlan, "the plan to complete")
      // wait until the checkpoint with the plan is saved (saved after each completed event)
      const store = yield* CheckpointStore
      yield* eventually(Effect.flatMap(store.load(stateId), (s) =>
        expect(s, (o) => Option.isSome(o) && o.value.completed.some((e) => e.address.includes("plan")), "a checkpoint")))
      const running = Option.getOrThrow(yield* Registry.get(stateId))
      assert.deepStrictEqual([running.status, running.alive], ["running", true])

      yield* doomed.kill("SIGKILL")
      assert.strictEqual(yield* Deferred.await(doomed.exit), 137)
      // the heartbeat (400 ms) expires: the registry reports the run as lost
      const lost = yield* eventually(Effect.flatMap(Registry.get(stateId), (r) =>
        expect(r, (o) => Option.isSome(o) && o.value.status === "lost", "lost")))
      const dead = Option.getOrThrow(lost)
      assert.deepStrictEqual([dead.owner, dead.alive], ["worker-C", false])
      const listed = (yield* Registry.list()).find((r) => r.stateId === stateId)
      assert.strictEqual(listed?.status, "lost")

      // another worker takes it over from the last checkpoint
      const heir = yield* worker(["resume", stateId, "--owner", "worker-D"])
      const outcome = yield* outcomeOf(heir)
      assert.strictEqual(outcome["_tag"], "Completed")
      const record = Option.getOrThrow(yield* Registry.get(stateId))
      assert.deepStrictEqual([record.status, record.owner, record.generation], ["completed", "worker-D", 2])
    }).pipe(Effect.provide(RedisStore.layerRedis())))
})
