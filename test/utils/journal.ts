import { NodeServices } from "@effect/platform-node"
import { Effect, Layer, Option } from "effect"
import { CheckpointStore, type StateSnapshot } from "../../src/index.ts"

/** The state of an execution as the file store in `dir` folds its journal (fails when there is none). */
export const loadFromDir = (dir: string, stateId: string): Promise<StateSnapshot> =>
  Effect.runPromise(
    Effect.flatMap(CheckpointStore, (store) => store.load(stateId)).pipe(
      Effect.map(Option.getOrThrow),
      Effect.provide(CheckpointStore.layerFileSystem(dir).pipe(Layer.provide(NodeServices.layer)))
    )
  )
