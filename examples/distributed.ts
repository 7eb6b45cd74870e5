import { Context, Effect, Layer, Stream } from "effect"
import { Executions, Workflow } from "agent-interrupt"
import { Research } from "agent-interrupt/demo"
import { RedisConnection, RedisExecutions } from "agent-interrupt/redis"

// Every process — a worker, a controller, a server — is the same control plane over one Redis
// (REDIS_URL, default redis://127.0.0.1:6379): journals, leases and events live there.
export const machine = RedisExecutions.layerWithStore({ workflows: [Workflow.register(Research.research)] }).pipe(
  Layer.provide(RedisConnection.layerConfig())
)
const onMachine = <A, E>(effect: Effect.Effect<A, E, Executions>) => Effect.provide(effect, machine)

export const program = Effect.gen(function*() {
  // Machine A, a worker: starts the workflow and keeps running it.
  const a = Context.get(yield* Layer.build(machine), Executions)
  yield* a.start("research", { topic: "agents", pace: 0.5 }, { stateId: "research-1", force: true })
  // Machine B, a controller: follows it until its plan is done, stops it through Redis, and waits
  // until its journal is saved.
  const receipt = yield* onMachine(Effect.flatMap(Executions, (b) =>
    b.events("research-1").pipe(
      Stream.takeUntil(({ event }) => event._tag === "ExecutionEvent" && event.status === "completed"),
      Stream.runDrain,
      Effect.andThen(b.interrupt("research-1", { message: "enough", await: "checkpointed" }))
    )))
  const first = yield* a.awaitEnd("research-1")
  // Machine C: resumes it from its journal in Redis; finished steps are not run again.
  const second = yield* onMachine(Effect.flatMap(Executions, (c) =>
    Effect.andThen(c.resume("research-1"), c.awaitEnd("research-1"))))
  return {
    receipt: receipt._tag,
    stages: receipt.stages.map((s) => s.stage),
    first: first.status,
    second: second.status,
    recovered: second.progress.recovered
  }
}).pipe(Effect.scoped)

// npm run example distributed
if (import.meta.main) Effect.runPromise(program).then(console.log)
// => { receipt: "InterruptAccepted", stages: ["requested", "delivered", "stopped", "checkpointed"],
//      first: "interrupted", second: "completed", recovered: 1 }
