import { Effect } from "effect"
import { Actor, CheckpointStore, Run, runEvent } from "agent-interrupt"

// A step that does real work: it counts how often it actually ran.
let runs = 0
const step = Actor.tool("step", (n: number) =>
  Effect.gen(function*() {
    yield* Effect.sleep("30 millis")
    runs++
    return n * 10
  }))

const workflow = Effect.forEach([1, 2, 3, 4], (n) => runEvent(step, n))

export const program = Effect.gen(function*() {
  // First run: a timeout stops it after the second step; its checkpoint goes to the store.
  const first = yield* Run.run(workflow, { stateId: "steps", timeout: "75 millis" })
  // Resume: steps 1 and 2 come back from the checkpoint (published as "recovered"); 3 and 4 run.
  const second = yield* Run.resume("steps", workflow)
  return { first: first._tag, second: second._tag === "Completed" ? second.value : second._tag, runs }
}).pipe(Effect.provide(CheckpointStore.layerMemory)) // or layerFileSystem(dir), layerRedis

// npm run example resume
if (import.meta.main) Effect.runPromise(program).then(console.log)
// => { first: "Interrupted", second: [10, 20, 30, 40], runs: 4 }
