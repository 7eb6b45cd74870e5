import { assert, layer } from "@effect/vitest"
import { Deferred, Effect, Fiber, Option, Ref } from "effect"
import { type InterruptReason, InterruptSignal } from "../../src/index.ts"
import * as Registry from "../../src/redis/Registry.ts"
import * as RedisWorker from "../../src/redis/RedisWorker.ts"
import {
  awaitStage,
  interruptRemote,
  pendingInterrupt,
  receiptStatus,
  RemoteInterruptError
} from "../../src/redis/RemoteInterrupt.ts"
import { testLayer } from "../utils/redisServer.ts"
import { blocked, counting, eventually, expect, send, startWorker, uid } from "./helpers.ts"

layer(testLayer, { excludeTestServices: true, timeout: "30 seconds" })("RemoteInterrupt", (it) => {
  it.effect("invalid state ids and signals are rejected before anything is written", () =>
    Effect.gen(function*() {
      const bad = yield* Effect.flip(interruptRemote("../etc/passwd"))
      assert.instanceOf(bad, RemoteInterruptError)
      assert.strictEqual(bad.reason._tag, "InvalidStateId")
      assert.strictEqual(
        bad.message,
        "Invalid state id \"../etc/passwd\": use 1 to 128 letters, digits, '.', '_' or '-', not starting with '.'"
      )

      const stateId = uid("invalid")
      const reason = yield* Effect.flip(interruptRemote(stateId, { reason: "bored" as InterruptReason }))
      assert.strictEqual(reason.reason._tag, "InvalidSignal")
      assert.strictEqual(
        reason.message,
        "Invalid interrupt signal: Expected \"user_cancelled\" | \"timeout\" | \"resource_limit\" | " +
          "\"error_threshold\" | \"priority_override\" | \"system_shutdown\" | \"custom\", got \"bored\"\n  at [\"reason\"]"
      )
      // an instance built without checks is checked too
      const unchecked = new InterruptSignal({ reason: "timeout", triggeredAt: "yesterday" }, { disableChecks: true })
      const when = yield* Effect.flip(interruptRemote(stateId, unchecked))
      assert.strictEqual(when.reason._tag, "InvalidSignal")
      assert.include(when.message, "Invalid interrupt signal: Expected a UTC ISO-8601 timestamp")

      const written = yield* send<ReadonlyArray<string>>("KEYS", `*${stateId}*`)
      assert.deepStrictEqual(written, [])
    }))

  it.effect("first request wins: while one waits, another returns its receipt and changes nothing", () =>
    Effect.gen(function*() {
      const stateId = uid("first")
      const first = yield* interruptRemote(stateId, { reason: "timeout", message: "first" })
      const second = yield* interruptRemote(stateId, { reason: "user_cancelled", message: "second" })
      assert.strictEqual(first.duplicate, false)
      assert.strictEqual(second.duplicate, true)
      assert.strictEqual(second.requestId, first.requestId)
      assert.strictEqual(second.signal.message, "first")
      assert.strictEqual(second.requestedAt, first.requestedAt)
      const pending = Option.getOrThrow(yield* pendingInterrupt(stateId))
      assert.deepStrictEqual([pending.requestId, pending.signal.reason], [first.requestId, "timeout"])
    }))

  it.effect("awaitStage: a run that completed without the request has no worker to deliver it", () =>
    Effect.gen(function*() {
      const stateId = uid("done")
      const { workflow } = counting()
      const outcome = yield* RedisWorker.runWorker(workflow, { n: 2 }, { stateId })
      assert.strictEqual(outcome._tag, "Completed")
      const receipt = yield* interruptRemote(stateId)
      assert.strictEqual(receipt.runStatus, "completed")
      const started = Date.now()
      const result = yield* awaitStage(receipt, "delivered", "10 seconds")
      assert.isBelow(Date.now() - started, 5_000) // told at once, not at the timeout
      assert.strictEqual(result._tag, "NoWorker")
      assert.deepStrictEqual(result._tag === "NoWorker" && [result.runStatus, result.lastStage], [
        "completed",
        "requested"
      ])
      // the request stays as a tombstone (a completed run is never resumed, so it expires unused)
      assert.isTrue(Option.isSome(yield* pendingInterrupt(stateId)))
    }))

  it.effect("awaitStage: a living owner that has not reached the stage in time is TimedOut", () =>
    Effect.gen(function*() {
      const stateId = uid("silent")
      // a worker that claims the run but never listens
      yield* Registry.claim(stateId, { owner: "silent", heartbeatTtl: "30 seconds" })
      const receipt = yield* interruptRemote(stateId, { reason: "custom" })
      assert.deepStrictEqual([receipt.owner, receipt.runStatus], ["silent", "running"])
      const result = yield* awaitStage(receipt, "delivered", "150 millis")
      assert.strictEqual(result._tag, "TimedOut")
      assert.strictEqual(result._tag === "TimedOut" && result.lastStage, "requested")
      // "requested" is reached at once
      const requested = yield* awaitStage(receipt, "requested", "1 millis")
      assert.deepStrictEqual(requested._tag === "Reached" && requested.at, receipt.requestedAt)
    }))

  it.effect("awaitStage wakes at each stage; a waiter started before the stop sees it through", () =>
    Effect.gen(function*() {
      const stateId = uid("wait")
      const { program, started } = yield* blocked
      const worker = yield* startWorker(stateId, program)
      yield* Deferred.await(started)
      const receipt = yield* interruptRemote(stateId, { reason: "user_cancelled" })
      const waiters = yield* Effect.forEach(
        ["delivered", "stopped", "checkpointed"] as const,
        (stage) => Effect.forkChild(awaitStage(receipt, stage, "10 seconds"), { startImmediately: true })
      )
      const results = yield* Effect.forEach(waiters, Fiber.join)
      assert.deepStrictEqual(results.map((r) => r._tag), ["Reached", "Reached", "Reached"])
      const times = results.map((r) => r._tag === "Reached" ? r.at : "")
      assert.deepStrictEqual([...times].sort(), times)
      yield* Fiber.join(worker.fiber)
    }))

  it.effect("TTL: an expired request is not honoured, and its receipt is gone", () =>
    Effect.gen(function*() {
      const stateId = uid("ttl")
      const receipt = yield* interruptRemote(stateId, { reason: "timeout" }, { ttl: "150 millis" })
      assert.isTrue(Option.isSome(yield* pendingInterrupt(stateId)))
      // wait, through the API, until Redis expired both
      yield* eventually(Effect.flatMap(pendingInterrupt(stateId), (p) => expect(p, Option.isNone, "request expired")))
      yield* eventually(Effect.flatMap(receiptStatus(stateId), (r) => expect(r, Option.isNone, "receipt expired")))
      const result = yield* awaitStage(receipt, "delivered", "1 second")
      assert.strictEqual(result._tag, "ReceiptGone")
      const { calls, workflow } = counting()
      const outcome = yield* RedisWorker.runWorker(workflow, { n: 5 }, { stateId })
      assert.strictEqual(outcome._tag, "Completed")
      assert.strictEqual(outcome._tag === "Completed" && outcome.value, 10)
      assert.strictEqual(yield* Ref.get(calls), 1)
    }))
})
