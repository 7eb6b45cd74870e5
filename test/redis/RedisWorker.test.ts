import { assert, layer } from "@effect/vitest"
import { Deferred, Effect, Fiber, Option, Queue, Ref, Schema } from "effect"
import { CheckpointStore, InterruptSignal } from "../../src/index.ts"
import * as Registry from "../../src/redis/Registry.ts"
import * as RedisStore from "../../src/redis/RedisStore.ts"
import * as RedisWorker from "../../src/redis/RedisWorker.ts"
import {
  awaitStage,
  InterruptRequest,
  InterruptRequestJson,
  interruptRemote,
  pendingInterrupt,
  receiptStatus
} from "../../src/redis/RemoteInterrupt.ts"
import { testLayer } from "../utils/redisServer.ts"
import { blocked, counting, eventually, expect, keys, looping, send, startWorker, uid } from "./helpers.ts"

const stages = ["requested", "delivered", "stopped", "checkpointed"] as const

layer(testLayer, { excludeTestServices: true, timeout: "30 seconds" })("RedisWorker", (it) => {
  it.effect("push: a request reaches the running worker at once and goes through every stage", () =>
    Effect.gen(function*() {
      const stateId = uid("push")
      const { program, started } = yield* blocked
      // polling once an hour: only the push can deliver this request
      const worker = yield* startWorker(stateId, program, { owner: "worker-1", pollInterval: "1 hour" })
      assert.strictEqual(worker.attachment.generation, 1)
      yield* Deferred.await(started)
      const receipt = yield* interruptRemote(stateId, {
        reason: "user_cancelled",
        message: "Stop from the test",
        triggeredBy: "test"
      })
      assert.strictEqual(receipt.duplicate, false)
      assert.strictEqual(receipt.owner, "worker-1")
      assert.strictEqual(receipt.runStatus, "running")

      const outcome = yield* Fiber.join(worker.fiber)
      assert.strictEqual(outcome._tag, "Interrupted")
      if (outcome._tag !== "Interrupted") return
      assert.strictEqual(outcome.signal.reason, "user_cancelled")
      assert.strictEqual(outcome.signal.message, "Stop from the test")
      assert.strictEqual(outcome.signal.triggeredBy, "test")
      assert.deepStrictEqual(outcome.checkpointId, Option.some(stateId))

      const reached = yield* awaitStage(receipt, "checkpointed", "5 seconds")
      assert.strictEqual(reached._tag, "Reached")
      const status = Option.getOrThrow(yield* receiptStatus(stateId))
      assert.strictEqual(status.requestId, receipt.requestId)
      assert.strictEqual(status.via, "push")
      assert.strictEqual(status.deliveredTo, "worker-1")
      assert.strictEqual(status.checkpoint, "saved")
      assert.strictEqual(status.checkpointId, stateId)
      assert.strictEqual(status.lastStage, "checkpointed")
      const times = stages.map((stage) => status.at(stage)!)
      assert.deepStrictEqual([...times].sort(), times) // in order
      // the request was consumed: a resume starts clean
      assert.isTrue(Option.isNone(yield* pendingInterrupt(stateId)))

      // the bus saw one InterruptEvent with the remote signal, and an `interrupted` event
      const events = yield* Ref.get(worker.events)
      assert.strictEqual(events.filter((e) => e._tag === "InterruptEvent").length, 1)
      assert.isTrue(events.some((e) => e._tag === "ExecutionEvent" && e.status === "interrupted"))

      // the registry and the checkpoint say the same
      const record = Option.getOrThrow(yield* Registry.get(stateId))
      assert.deepStrictEqual(
        [record.status, record.owner, record.checkpoint, record.reason, record.alive, record.generation],
        ["interrupted", "worker-1", "saved", "user_cancelled", false, 1]
      )
      const snapshot = Option.getOrThrow(yield* Effect.flatMap(CheckpointStore, (s) => s.load(stateId)))
      assert.strictEqual(snapshot.status, "interrupted")
      assert.strictEqual(snapshot.metadata.interrupt?.message, "Stop from the test")
    }).pipe(Effect.provide(RedisStore.layerRedis())))

  it.effect("poll: a request whose message the worker never got is found at its next checkpoint", () =>
    Effect.gen(function*() {
      const stateId = uid("poll")
      const { program, started } = yield* looping
      const worker = yield* startWorker(stateId, program, { owner: "worker-2", pollInterval: "30 millis" })
      yield* Deferred.await(started)
      // the request is in the key but was never published (as when it is sent while the
      // subscription is down): only the checker can find it
      const signal = new InterruptSignal({ reason: "priority_override", triggeredAt: "2026-11-24T10:00:00.000Z" })
      const raw = Schema.encodeSync(InterruptRequestJson)(new InterruptRequest({ requestId: "r-poll", signal }))
      const k = yield* keys
      yield* send("SET", k.interrupt(stateId), raw, "PX", "60000")

      const outcome = yield* Fiber.join(worker.fiber)
      assert.strictEqual(outcome._tag, "Interrupted")
      assert.strictEqual(outcome._tag === "Interrupted" && outcome.signal.reason, "priority_override")
      const status = Option.getOrThrow(yield* receiptStatus(stateId))
      assert.deepStrictEqual(
        [status.requestId, status.via, status.deliveredTo, status.checkpoint, status.lastStage],
        ["r-poll", "poll", "worker-2", "saved", "checkpointed"]
      )
      assert.isTrue(Option.isNone(yield* pendingInterrupt(stateId)))
    }))

  it.effect("tombstone: a request for a run that has not started is honoured when it starts", () =>
    Effect.gen(function*() {
      const stateId = uid("tomb")
      const receipt = yield* interruptRemote(stateId, { reason: "resource_limit", message: "Budget spent" })
      assert.strictEqual(receipt.runStatus, undefined)
      assert.strictEqual(receipt.owner, undefined)
      // nobody owns the run yet: the caller is told so
      const early = yield* awaitStage(receipt, "delivered", "100 millis")
      assert.strictEqual(early._tag, "NoWorker")
      assert.deepStrictEqual(early._tag === "NoWorker" && [early.lastStage, early.runStatus], ["requested", undefined])

      const { calls, workflow } = counting()
      const outcome = yield* RedisWorker.runWorker(workflow, { n: 21 }, { stateId, owner: "worker-3" })
      assert.strictEqual(outcome._tag, "Interrupted")
      assert.strictEqual(outcome._tag === "Interrupted" && outcome.signal.message, "Budget spent")
      assert.strictEqual(yield* Ref.get(calls), 0) // the handler never ran
      const reached = yield* awaitStage(receipt, "checkpointed", "5 seconds")
      assert.strictEqual(reached._tag, "Reached")
      assert.strictEqual(reached._tag === "Reached" && reached.status.via, "tombstone")
      const snapshot = Option.getOrThrow(yield* Effect.flatMap(CheckpointStore, (s) => s.load(stateId)))
      assert.deepStrictEqual([snapshot.status, snapshot.metadata.workflow, snapshot.metadata.input], [
        "interrupted",
        "counting",
        { n: 21 }
      ])

      // resumed later, the run is not stopped again by the consumed request: it completes
      const resumed = yield* RedisWorker.resumeWorker([workflow], stateId, { owner: "worker-4" })
      assert.strictEqual(resumed._tag, "Completed")
      assert.strictEqual(resumed._tag === "Completed" && resumed.value, 42)
      const record = Option.getOrThrow(yield* Registry.get(stateId))
      assert.deepStrictEqual([record.status, record.owner, record.generation], ["completed", "worker-4", 2])
    }).pipe(Effect.provide(RedisStore.layerRedis())))

  it.effect("malformed requests are logged and ignored; a valid one afterwards still stops the run", () =>
    Effect.gen(function*() {
      const stateId = uid("bad")
      const { program, started } = yield* looping
      const worker = yield* startWorker(stateId, program, { pollInterval: "20 millis" })
      yield* Deferred.await(started)
      const k = yield* keys
      const channel = k.interruptChannel(stateId)
      yield* send("PUBLISH", channel, "not json")
      yield* send("PUBLISH", channel, JSON.stringify({ requestId: "r1", signal: { reason: "bored" } }))
      yield* send("SET", k.interrupt(stateId), "garbage", "PX", "60000")
      const logs = yield* Effect.forEach([1, 2, 3], () => Queue.take(worker.logs))
      const reasons = "\"user_cancelled\" | \"timeout\" | \"resource_limit\" | \"error_threshold\" | " +
        "\"priority_override\" | \"system_shutdown\" | \"custom\""
      assert.deepStrictEqual(logs.map((l) => l.message).sort(), [
        `Ignored a malformed interrupt request on channel ${channel}: Expected ${reasons}`,
        `Ignored a malformed interrupt request on channel ${channel}: Expected a valid JSON string`,
        `Ignored a malformed interrupt request on key ${k.interrupt(stateId)}: Expected a valid JSON string`
      ])
      assert.isTrue(logs.every((l) => l.level === "warning" && l.stateId === stateId))
      // the run went on: still running, not interrupted
      assert.isUndefined(worker.fiber.pollUnsafe())

      const receipt = yield* interruptRemote(stateId, { reason: "custom", message: "Real stop" })
      assert.strictEqual(receipt.duplicate, false) // the garbage in the key did not block it
      const outcome = yield* Fiber.join(worker.fiber)
      assert.strictEqual(outcome._tag === "Interrupted" && outcome.signal.message, "Real stop")
    }).pipe(Effect.provide(RedisStore.layerRedis())))

  it.effect("a second worker cannot take a run whose worker is alive", () =>
    Effect.gen(function*() {
      const stateId = uid("owned")
      const { program, started } = yield* blocked
      const worker = yield* startWorker(stateId, program, { owner: "first" })
      yield* Deferred.await(started)
      const { workflow } = counting()
      const error = yield* Effect.flip(RedisWorker.runWorker(workflow, { n: 1 }, { stateId, owner: "second" }))
      assert.strictEqual(error._tag, "WorkerError")
      assert.strictEqual(error._tag === "WorkerError" && error.reason._tag, "AlreadyOwned")
      assert.strictEqual(error.message, `Execution ${stateId} is already running on worker first`)
      yield* interruptRemote(stateId)
      const outcome = yield* Fiber.join(worker.fiber)
      assert.strictEqual(outcome._tag, "Interrupted")
      assert.strictEqual(outcome._tag === "Interrupted" && outcome.signal.triggeredBy, "remote")
      // the failed attempt changed nothing in the registry
      const record = Option.getOrThrow(yield* Registry.get(stateId))
      assert.deepStrictEqual([record.owner, record.status, record.generation], ["first", "interrupted", 1])
    }).pipe(Effect.provide(RedisStore.layerRedis())))

  it.effect("the registry lists running and finished runs; a finished run leaves no heartbeat", () =>
    Effect.gen(function*() {
      const stateId = uid("listed")
      const { program, started } = yield* blocked
      const worker = yield* startWorker(stateId, program, { owner: "lister", heartbeatInterval: "50 millis" })
      yield* Deferred.await(started)
      const running = (yield* Registry.list()).find((r) => r.stateId === stateId)
      assert.deepStrictEqual(running && [running.status, running.owner, running.alive], ["running", "lister", true])
      yield* interruptRemote(stateId, { reason: "timeout" })
      yield* Fiber.join(worker.fiber)
      const record = yield* eventually(
        Effect.flatMap(Registry.get(stateId), (r) => expect(r, Option.isSome, "registered"))
      )
      assert.strictEqual(Option.getOrThrow(record).status, "interrupted")
      const k = yield* keys
      assert.strictEqual(yield* send<number>("EXISTS", k.heartbeat(stateId)), 0)
      const listed = (yield* Registry.list()).find((r) => r.stateId === stateId)
      assert.deepStrictEqual(listed && [listed.status, listed.reason, listed.checkpoint], [
        "interrupted",
        "timeout",
        "saved"
      ])
    }))
})
