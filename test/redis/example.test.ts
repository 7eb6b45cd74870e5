import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../examples/distributed.ts"
import * as RedisStore from "../../src/redis/RedisStore.ts"
import { testLayer } from "../utils/redisServer.ts"

// The README's distributed example, against the test's own redis-server.
layer(testLayer, { excludeTestServices: true, timeout: "30 seconds" })("examples/distributed.ts", (it) => {
  it.effect("a worker stopped through Redis, then resumed from its Redis checkpoint", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* program, { stage: "Reached", first: "Interrupted", second: "Completed" })
    }).pipe(Effect.provide(RedisStore.layerRedis())))
})
