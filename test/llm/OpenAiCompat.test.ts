import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Redacted } from "effect"
import { AiError, LanguageModel } from "effect/ai"
import { FetchHttpClient } from "effect/http"
import { TestClock } from "effect/testing"
import { ExecutionState, Llm, OpenAiCompat, runEvent } from "../../src/index.ts"
import { answer, chatServer, text } from "../utils/chatServer.ts"
import { closeLatencies, suite } from "./LlmProviderTest.ts"

const layer = (url: string) =>
  OpenAiCompat.layer({ model: "fixture", baseUrl: url, apiKey: Redacted.make("sk-test") }).pipe(
    Layer.provide(FetchHttpClient.layer)
  )

suite("OpenAiCompat (ours)", { layer, streamsUsage: true })

afterAll(() => {
  if (closeLatencies.length > 0) {
    console.info(`interrupt → server saw the socket close: ${closeLatencies.map((ms) => `${ms.toFixed(1)} ms`).join(", ")}`)
  }
})

const withState = Effect.provide(ExecutionState.layerWithBus({ stateId: "test" }))
const summarise = Llm.actor("summarise", (topic: string) => `Summarise ${topic}`)

describe("OpenAiCompat", () => {
  it.effect("sends the key as a bearer token, the config fields and the tools' JSON schema", () =>
    Effect.gen(function*() {
      const fixture = yield* chatServer(() => answer("ok"))
      const model = OpenAiCompat.layer({
        model: "fixture",
        baseUrl: `${fixture.url}/`,
        apiKey: Redacted.make("sk-secret"),
        config: { temperature: 0.2, max_tokens: 64 }
      }).pipe(Layer.provide(FetchHttpClient.layer))
      yield* LanguageModel.generateText({ prompt: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hi" }] })
        .pipe(Effect.provide(model))
      const request = fixture.requests[0]!
      assert.strictEqual(request.authorization, "Bearer sk-secret")
      assert.deepStrictEqual(
        { ...request.body },
        {
          temperature: 0.2,
          max_tokens: 64,
          model: "fixture",
          messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hi" }],
          stream: true,
          stream_options: { include_usage: true }
        }
      )
    }))

  it.effect("HTTP 401 is an authentication error naming the status and the body, and is not retried", () =>
    Effect.gen(function*() {
      const fixture = yield* chatServer(() => [{ status: 401, body: "{\"error\":{\"message\":\"Incorrect API key provided\"}}" }])
      const error = yield* Effect.flip(runEvent(summarise, "x").pipe(Effect.provide(layer(fixture.url))))
      assert.isTrue(AiError.isAiError(error))
      assert.strictEqual(
        error.message,
        "OpenAiCompat.streamText: InvalidKey: Verify your API key is correct. HTTP 401: {\"error\":{\"message\":\"Incorrect API key provided\"}}"
      )
      assert.strictEqual(fixture.requests.length, 1)
    }).pipe(withState))

  it.effect("HTTP 500 is a provider error, retried per the llm policy (3 attempts) before it fails", () =>
    Effect.gen(function*() {
      const fixture = yield* chatServer(() => [{ status: 500, body: "upstream overloaded" }])
      const fiber = yield* Effect.forkChild(runEvent(summarise, "x").pipe(Effect.provide(layer(fixture.url))), {
        startImmediately: true
      })
      // backoff 1 s then 2 s; the requests are real, the waits are the TestClock's
      while (fiber.pollUnsafe() === undefined) {
        yield* Effect.yieldNow
        yield* TestClock.adjust("500 millis")
      }
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert.strictEqual(error.message, "OpenAiCompat.streamText: Internal provider error: HTTP 500: upstream overloaded")
      assert.strictEqual(fixture.requests.length, 3)
    }).pipe(withState))

  it.effect("an answer cut before data: [DONE] fails instead of completing with a truncated text", () =>
    Effect.gen(function*() {
      const fixture = yield* chatServer(() => [text("Hello"), "cut"])
      const error = yield* Effect.flip(
        runEvent(summarise, "x", { retry: { maxAttempts: 1 } }).pipe(Effect.provide(layer(fixture.url)))
      )
      assert.strictEqual(
        error.message,
        `OpenAiCompat.streamText: TransportError: the response ended before data: [DONE] (POST ${fixture.url}/chat/completions)\n\n` +
          "Check your network connection and verify that the requested URL is accessible."
      )
    }).pipe(withState))

  it.effect("a server that is not there is a network error", () =>
    Effect.gen(function*() {
      const fixture = yield* Effect.scoped(chatServer(() => []))
      const error = yield* Effect.flip(
        runEvent(summarise, "x", { retry: { maxAttempts: 1 } }).pipe(Effect.provide(layer(fixture.url)))
      )
      assert.isTrue(AiError.isAiError(error) && error.reason._tag === "NetworkError")
    }).pipe(withState))
})
