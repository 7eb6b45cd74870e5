// The provider suite against Effect's own OpenAI-compatible client, @effect/ai-openai-compat
// (4.0.0-beta.98, built for the effect 4.0 betas: vitest.config.ts maps its `effect/unstable/*` and
// `effect/Encoding` imports onto effect 4.1).
import { OpenAiClient, OpenAiLanguageModel } from "@effect/ai-openai-compat"
import { afterAll } from "@effect/vitest"
import { type Layer, Layer as L, Redacted } from "effect"
import type { LanguageModel } from "effect/ai"
import { FetchHttpClient } from "effect/http"
import { closeLatencies, suite } from "./LlmProviderTest.ts"

const layer = (url: string): Layer.Layer<LanguageModel.LanguageModel> =>
  // the package's types name effect 4.0's module paths, which 4.1 has not: its layers type loosely
  (OpenAiLanguageModel.layer({ model: "fixture" }) as Layer.Layer<LanguageModel.LanguageModel, never, unknown>).pipe(
    L.provide(OpenAiClient.layer({ apiKey: Redacted.make("sk-test"), apiUrl: url }) as Layer.Layer<never, never, unknown>),
    L.provide(FetchHttpClient.layer)
  ) as Layer.Layer<LanguageModel.LanguageModel>

// Effect's client reads the usage only at the end of the answer (no streamed usage)
suite("@effect/ai-openai-compat", { layer, streamsUsage: false })

afterAll(() => {
  if (closeLatencies.length > 0) {
    console.info(`interrupt → server saw the socket close: ${closeLatencies.map((ms) => `${ms.toFixed(1)} ms`).join(", ")}`)
  }
})
