/**
 * redis-server killed and restarted in the middle of a run: the run goes on, the subscription comes
 * back, and an interrupt sent after the restart is honoured. Always uses its own redis-server.
 */
import { assert, layer } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Option, Queue } from "effect"
import { CheckpointStore, type LogEvent } from "../../src/index.ts"
import * as RedisStore from "../../src/redis/RedisStore.ts"
import * as Registry from "../../src/redis/Registry.ts"
import { awaitStage, interruptRemote } from "../../src/redis/RemoteInterrupt.ts"
import { RedisServer, redisLayer } from "../utils/redisServer.ts"
import { eventually, expect, keys, looping, send, startWorker, uid } from "./helpers.ts"

const ownServer = redisLayer.pipe(Layer.provideMerge(RedisServer.layerOwned))

const takeUntil = (logs: Queue.Queue<LogEvent>, prefix: string) =>
  Effect.gen(function*() {
    while (true) {
      const log = yield* Queue.take(logs)
      if (log.message.startsWith(prefix)) return log
    }
  }).pipe(Effect.timeoutOrElse({ duration: "10 seconds", orElse: () => Effect.fail(new Error(`no log ${prefix}`)) }))

layer(ownServer, { excludeTestServices: true, timeout: "60 seconds" })("Redis goes away mid-run", (it) => {
  it.effect("the run goes on; after the restart the subscription is back and an interrupt is honoured", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer
      const stateId = uid("outage")
      const { program, started } = yield* looping
      const worker = yield* startWorker(stateId, program, {
        owner: "survivor",
        pollInterval: "50 millis",
        heartbeatInterval: "100 millis"
      })
      yield* Deferred.await(started)

      yield* server.kill
      // the checker's failures are logged and the run continues (onCheckerError: "continue")
      const warning = yield* takeUntil(
        worker.logs,
        "Interrupt checker failed: Redis is unavailable (poll the interrupt key): "
      )
      assert.strictEqual(warning.level, "warning")
      assert.isUndefined(worker.fiber.pollUnsafe())
      // a controller cannot send while Redis is down: a typed error, nothing half-done
      const down = yield* Effect.flip(interruptRemote(stateId))
      assert.strictEqual(down.reason._tag, "RedisUnavailable")
      assert.include(down.message, "Redis is unavailable (send an interrupt): ")

      yield* server.start // same port, empty (no persistence)
      const k = yield* keys
      // the worker subscribes again on its own...
      yield* eventually(
        Effect.flatMap(
          send<ReadonlyArray<string | number>>("PUBSUB", "NUMSUB", k.interruptChannel(stateId)),
          (reply) => expect(reply[1], (n) => n === 1, "resubscribed")
        )
      )
      // ...and writes its registry record again with the next heartbeat
      const record = yield* eventually(Effect.flatMap(Registry.get(stateId), (r) =>
        expect(r, (o) => Option.isSome(o) && o.value.status === "running" && o.value.alive, "registered again")))
      assert.strictEqual(Option.getOrThrow(record).owner, "survivor")
      // the renewed subscription delivers: a malformed message on the channel is heard (and ignored)
      yield* send("PUBLISH", k.interruptChannel(stateId), "{}")
      yield* takeUntil(worker.logs, `Ignored a malformed interrupt request on channel ${k.interruptChannel(stateId)}`)
      assert.isUndefined(worker.fiber.pollUnsafe())

      const receipt = yield* interruptRemote(stateId, { reason: "system_shutdown", message: "after the outage" })
      assert.deepStrictEqual([receipt.owner, receipt.runStatus], ["survivor", "running"])
      const outcome = yield* Fiber.join(worker.fiber)
      assert.strictEqual(outcome._tag === "Interrupted" && outcome.signal.message, "after the outage")
      const reached = yield* awaitStage(receipt, "checkpointed", "10 seconds")
      assert.strictEqual(reached._tag, "Reached")
      const snapshot = yield* Effect.flatMap(CheckpointStore, (s) => s.load(stateId))
      assert.strictEqual(Option.getOrThrow(snapshot).status, "interrupted")
    }).pipe(Effect.provide(RedisStore.layerRedis())))
})
