import { Context, Effect, Layer, Scope, Exit } from "effect"
import { ExecutionState } from "./src/index.ts"
const build = Effect.gen(function*() {
  const scope = yield* Scope.make()
  const ctx = yield* Layer.buildWithScope(ExecutionState.layerWithBus({ stateId: "b" }), scope)
  return [Context.get(ctx, ExecutionState), scope] as const
})
let total = 0
for (let r = 0; r < 30; r++) {
  const states = await Effect.runPromise(Effect.forEach(Array.from({ length: 1000 }), () => build))
  const t = process.hrtime.bigint()
  await Effect.runPromise(Effect.forEach(states, ([s]) => s.requestInterrupt({ reason: "timeout" }), { discard: true }))
  total += Number(process.hrtime.bigint() - t)
  await Effect.runPromise(Effect.forEach(states, ([, sc]) => Scope.close(sc, Exit.void), { discard: true }))
}
console.log("per interrupt", (total / 30000).toFixed(0))
