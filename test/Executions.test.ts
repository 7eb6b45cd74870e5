import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import { makeMemory } from "../src/Checkpoint.ts"
import { CheckpointStore, Executions, ExecutionsFold, watchExecution } from "../src/index.ts"
import { suite } from "./ExecutionsTest.ts"
import { makeRecords } from "./utils/snapshots.ts"
import { testWorkflows } from "./utils/workflows.ts"

// One store for every "process" of the suite: what a directory is to restarts.
const shared = makeMemory()
suite("local", {
  prefix: "local-",
  make: (options) => Executions.layerLocal(options).pipe(Layer.provideMerge(Layer.succeed(CheckpointStore, shared)))
})

describe("the fold", () => {
  it.effect("a run read back from its journal folds into the same info as its events said", () =>
    Effect.gen(function*() {
      const records = makeRecords("folded", { steps: 4 })
      const view = ExecutionsFold.emptyView("folded")
      ExecutionsFold.eventsOfJournal("folded", records).forEach((event, i) => ExecutionsFold.foldEvent(view, { sequence: i + 1, event }))
      const info = ExecutionsFold.toInfo(view)
      assert.deepStrictEqual(
        [info.status, info.workflow, info.runs, info.progress.done, info.interrupt?.reason, info.checkpoint, info.checkpointId],
        ["interrupted", "research", 1, 4, "user_cancelled", "saved", "folded"]
      )
      assert.deepStrictEqual(info.interruptStages.map((s) => s.stage), ["requested", "delivered", "stopped", "checkpointed"])
      assert.strictEqual(info.lastSequence, 8)
    }))

  it.effect("watch: one info per event, the last the run's end", () =>
    Effect.gen(function*() {
      const executions = yield* Executions
      const id = yield* executions.start("quick", { n: 5 })
      yield* executions.awaitEnd(id)
      const infos = yield* Stream.runCollect(watchExecution(executions, id))
      assert.deepStrictEqual(infos.map((i) => i.status), ["completed", "running", "running", "running", "completed"])
      assert.strictEqual(infos.at(-1)!.result, 10)
    }).pipe(Effect.provide(Executions.layerLocal({ workflows: testWorkflows }).pipe(Layer.provide(CheckpointStore.layerMemory)))))
})
