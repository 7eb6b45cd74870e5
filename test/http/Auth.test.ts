import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Option, Redacted } from "effect"
import * as Auth from "../../src/http/Auth.ts"

const credentials: ReadonlyArray<Auth.Credential> = [
  { token: Redacted.make("alice-token-0123456789abcdef"), caller: "alice" },
  { token: Redacted.make("bob-token-0123456789abcdefgh"), caller: "bob" }
]

describe("Auth", () => {
  it("authenticate: the caller of a known token, nothing otherwise", () => {
    assert.deepStrictEqual(Auth.authenticate(Redacted.make("alice-token-0123456789abcdef"), credentials), Option.some("alice"))
    assert.deepStrictEqual(Auth.authenticate(Redacted.make("bob-token-0123456789abcdefgh"), credentials), Option.some("bob"))
    for (const wrong of ["", "alice-token-0123456789abcde", "alice-token-0123456789abcdef ", "ALICE-TOKEN-0123456789ABCDEF"]) {
      assert.deepStrictEqual(Auth.authenticate(Redacted.make(wrong), credentials), Option.none(), JSON.stringify(wrong))
    }
  })

  it("generateToken: 32 random bytes, base64url", () => {
    const a = Redacted.value(Auth.generateToken())
    const b = Redacted.value(Auth.generateToken())
    assert.match(a, /^[A-Za-z0-9_-]{43}$/)
    assert.notStrictEqual(a, b)
    assert.strictEqual(String(Auth.generateToken()), "<redacted>")
  })

  it.effect("layer refuses short tokens and an empty list, with a fix in the message", () =>
    Effect.gen(function*() {
      const short = yield* Effect.exit(Layer.build(Auth.layer({ credentials: [{ token: Redacted.make("short"), caller: "x" }] })))
      assert.isTrue(Exit.isFailure(short) && Cause.hasDies(short.cause))
      if (Exit.isFailure(short)) {
        assert.include(String(Cause.squash(short.cause)), `The token of caller "x" is shorter than 16 characters`)
      }
      const none = yield* Effect.exit(Layer.build(Auth.layer({ credentials: [] })))
      assert.isTrue(Exit.isFailure(none) && Cause.hasDies(none.cause))
    }))
})
