import { assert, layer } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import { program } from "../../examples/distributed.ts"
import { RedisServer } from "../utils/redisServer.ts"

// The README's distributed example, against the test's own redis-server (REDIS_URL pointed at it).
layer(RedisServer.layer, { excludeTestServices: true, timeout: "30 seconds" })("examples/distributed.ts", (it) => {
  it.effect("a worker stopped through Redis by a controller, then resumed on a third machine", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer
      const config = ConfigProvider.layer(
        ConfigProvider.fromUnknown({ REDIS_URL: server.url, AGENT_INTERRUPT_REDIS_PREFIX: server.prefix })
      )
      const result = yield* program.pipe(Effect.provide(Layer.fresh(config)))
      assert.deepStrictEqual(result, {
        receipt: "InterruptAccepted",
        stages: ["requested", "delivered", "stopped", "checkpointed"],
        first: "interrupted",
        second: "completed",
        recovered: 1 // the plan, done before the stop, is not run again
      })
    }))
})
