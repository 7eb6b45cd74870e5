import { Effect, Fiber, Layer } from "effect"
import { Workflow } from "agent-interrupt"
import { Research } from "agent-interrupt/demo"
import { RedisConnection, RedisStore, RedisWorker, RemoteInterrupt } from "agent-interrupt/redis"

const research = Workflow.register(Research.research)

// Machine A, a worker: runs the workflow; any process can stop it through Redis.
const worker = RedisWorker.runWorker(research, { topic: "agents", pace: 0.2 }, { stateId: "research-1" })

// Machine B, a controller: stops it and learns how far the stop got.
const stop = Effect.gen(function*() {
  const receipt = yield* RemoteInterrupt.interruptRemote("research-1", { reason: "user_cancelled", message: "enough" })
  return yield* RemoteInterrupt.awaitStage(receipt, "checkpointed", "10 seconds")
})

// Machine C: resumes it from its checkpoint in Redis; finished steps are not run again.
const resume = RedisWorker.resumeWorker([research], "research-1")

export const program = Effect.gen(function*() {
  const running = yield* Effect.forkChild(worker)
  const stage = yield* stop // sent before the worker even started? It waits for it (a tombstone).
  const first = yield* Fiber.join(running)
  const second = yield* resume
  return { stage: stage._tag, first: first._tag, second: second._tag }
})

// REDIS_URL (default redis://127.0.0.1:6379); checkpoints in Redis too.
export const layer = RedisStore.layerRedis().pipe(Layer.provideMerge(RedisConnection.layerConfig()))

// Effect.runPromise(program.pipe(Effect.provide(layer))).then(console.log)
// => { stage: "Reached", first: "Interrupted", second: "Completed" }
