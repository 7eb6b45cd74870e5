import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { RedisServer } from "../utils/redisServer.ts"

describe("the Redis test server", () => {
  it.effect("without redis-server, the Redis tests fail with a message saying how to install it", () =>
    Effect.gen(function*() {
      const before = process.env["REDIS_SERVER_BIN"]
      process.env["REDIS_SERVER_BIN"] = "/nonexistent/redis-server"
      const error = yield* Effect.flip(Effect.scoped(Layer.build(RedisServer.layerOwned))).pipe(
        Effect.ensuring(Effect.sync(() => {
          if (before === undefined) delete process.env["REDIS_SERVER_BIN"]
          else process.env["REDIS_SERVER_BIN"] = before
        }))
      )
      assert.strictEqual(error._tag, "RedisServerUnavailable")
      assert.strictEqual(
        error.message,
        "Cannot start redis-server for the Redis tests: redis-server is not installed (not found in /usr/bin or PATH). " +
          "Install it with `sudo apt-get install redis-server` (or run `bash .ci/run`, which installs it), " +
          "or set REDIS_URL to a running Redis server."
      )
    }))
})
