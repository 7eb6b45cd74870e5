/**
 * A `LanguageModel` for OpenAI's chat completions API and every server that speaks it (OpenAI,
 * Azure-style gateways, vLLM, Ollama, llama.cpp, LM Studio, OpenRouter...): streamed text, tool calls
 * and usage, over Effect's `HttpClient` and its SSE decoder.
 *
 * This module holds the options, `make` and the layers (`layer`, `layerConfig`). The request is a
 * streamed `POST {baseUrl}/chat/completions`; each SSE chunk is decoded with a Schema; usage a server
 * sends with every chunk is passed on as streamed usage (budgets see it at once), the final usage ends
 * the answer. Interrupting the stream aborts the HTTP request: the socket closes and the server stops
 * generating. An HTTP error is an `AiError` whose message gives the status and the start of the body.
 *
 * @since 0.3.0
 */
import { Config, Effect, Layer, Option, Redacted, Schema, Stream } from "effect"
import { AiError, LanguageModel, type Prompt, type Response, Tool } from "effect/ai"
import { Sse } from "effect/encoding"
import { HttpClient, type HttpClientError, HttpClientRequest, type HttpClientResponse } from "effect/http"
import { streamedUsage } from "../Llm.ts"

// -----------------------------------------------------------------------------
// Options
// -----------------------------------------------------------------------------

/**
 * The default base URL: OpenAI's API.
 *
 * @category options
 * @since 0.3.0
 */
export const DEFAULT_BASE_URL = "https://api.openai.com/v1"

/**
 * Options of {@link make} and {@link layer}.
 *
 * **Details**
 *
 * - `model`: the model to ask (required), e.g. `gpt-4o-mini`.
 * - `apiKey`: sent as `Authorization: Bearer <key>` (default: no header, for local servers).
 * - `baseUrl`: where the API is (default `https://api.openai.com/v1`); requests go to
 *   `{baseUrl}/chat/completions`.
 * - `config`: more fields of the request body, as they are (`temperature`, `max_tokens`, ...).
 *
 * @category options
 * @since 0.3.0
 */
export interface Options {
  readonly model: string
  readonly apiKey?: Redacted.Redacted | undefined
  readonly baseUrl?: string | undefined
  readonly config?: Readonly<Record<string, Schema.Json>> | undefined
}

// -----------------------------------------------------------------------------
// Wire format
// -----------------------------------------------------------------------------

const Usage = Schema.Struct({
  prompt_tokens: Schema.Number,
  completion_tokens: Schema.Number
})

const ToolCallDelta = Schema.Struct({
  index: Schema.optional(Schema.Number),
  id: Schema.optional(Schema.NullOr(Schema.String)),
  function: Schema.optional(Schema.Struct({
    name: Schema.optional(Schema.NullOr(Schema.String)),
    arguments: Schema.optional(Schema.NullOr(Schema.String))
  }))
})

/**
 * One streamed chunk of a chat completion (`data: {...}`): only the fields this provider reads.
 *
 * @category wire format
 * @since 0.3.0
 */
export const ChatChunk = Schema.Struct({
  id: Schema.optional(Schema.String),
  model: Schema.optional(Schema.String),
  choices: Schema.optional(Schema.Array(Schema.Struct({
    index: Schema.optional(Schema.Number),
    delta: Schema.optional(Schema.NullOr(Schema.Struct({
      content: Schema.optional(Schema.NullOr(Schema.String)),
      reasoning_content: Schema.optional(Schema.NullOr(Schema.String)),
      tool_calls: Schema.optional(Schema.NullOr(Schema.Array(ToolCallDelta)))
    }))),
    finish_reason: Schema.optional(Schema.NullOr(Schema.String))
  }))),
  usage: Schema.optional(Schema.NullOr(Usage)),
  error: Schema.optional(Schema.Struct({ message: Schema.optional(Schema.String) }))
})

/**
 * @category wire format
 * @since 0.3.0
 */
export type ChatChunk = typeof ChatChunk.Type

const decodeChunk = Schema.decodeUnknownEffect(Schema.fromJsonString(ChatChunk))

const aiError = (method: string, reason: AiError.AiErrorReason) => AiError.make({ module: "OpenAiCompat", method, reason })

const BODY_LIMIT = 200

const brief = (body: string): string => {
  const flat = body.replace(/\s+/g, " ").trim()
  return flat.length <= BODY_LIMIT ? flat : `${flat.slice(0, BODY_LIMIT - 1)}…`
}

/**
 * The error of an HTTP status other than 2xx: the `AiError` reason of the status (401 → an
 * authentication error, 429 → rate limited, 5xx → the provider's error...), described as
 * `HTTP {status}: {the start of the body}`.
 *
 * @category errors
 * @since 0.3.0
 */
export const statusError = (method: string, status: number, body: string): AiError.AiError =>
  aiError(
    method,
    AiError.reasonFromHttpStatus({
      status,
      description: `HTTP ${status}${body.trim() === "" ? "" : `: ${brief(body)}`}`,
      http: { body: brief(body) }
    })
  )

const requestError = (method: string, error: HttpClientError.HttpClientError): AiError.AiError => {
  const reason = error.reason
  if (reason._tag === "TransportError" || reason._tag === "EncodeError" || reason._tag === "InvalidUrlError") {
    return aiError(method, AiError.NetworkError.fromHttpClientError(error as HttpClientError.HttpClientError & {
      readonly reason: HttpClientError.RequestError
    }))
  }
  return aiError(method, new AiError.InternalProviderError({ description: error.message }))
}

const finishReason = (reason: string | undefined, hasToolCalls: boolean): Response.FinishReason => {
  switch (reason) {
    case "stop":
      return hasToolCalls ? "tool-calls" : "stop"
    case "length":
      return "length"
    case "content_filter":
      return "content-filter"
    case "tool_calls":
    case "function_call":
      return "tool-calls"
    case undefined:
      return hasToolCalls ? "tool-calls" : "unknown"
    default:
      return "other"
  }
}

// -----------------------------------------------------------------------------
// Requests
// -----------------------------------------------------------------------------

const textOf = (parts: ReadonlyArray<{ readonly type: string }>): string =>
  parts.flatMap((part) => part.type === "text" ? [(part as Prompt.TextPart).text] : []).join("")

const toMessages = (prompt: Prompt.Prompt): Array<Schema.Json> =>
  prompt.content.flatMap((message): Array<Schema.Json> => {
    switch (message.role) {
      case "system":
        return [{ role: "system", content: message.content }]
      case "user":
        return [{ role: "user", content: textOf(message.content) }]
      case "assistant": {
        const text = textOf(message.content)
        const calls = message.content.flatMap((part) =>
          part.type === "tool-call" && !part.providerExecuted
            ? [{ id: part.id, type: "function", function: { name: part.name, arguments: JSON.stringify(part.params ?? {}) } }]
            : []
        )
        return [{ role: "assistant", content: text === "" ? null : text, ...(calls.length > 0 ? { tool_calls: calls } : {}) }]
      }
      case "tool":
        return message.content.flatMap((part) =>
          part.type === "tool-result"
            ? [{ role: "tool", tool_call_id: part.id, content: JSON.stringify(part.result ?? null) }]
            : []
        )
    }
  })

const toTools = (tools: ReadonlyArray<Tool.Any>): Array<Schema.Json> =>
  tools.filter((tool) => !Tool.isProviderDefined(tool)).map((tool) => {
    const description = Tool.getDescription(tool)
    return {
      type: "function",
      function: {
        name: tool.name,
        ...(description === undefined ? {} : { description }),
        parameters: Tool.getJsonSchema(tool) as Schema.Json
      }
    }
  })

const toToolChoice = (choice: LanguageModel.ToolChoice<string>): Schema.Json => {
  if (typeof choice === "string") return choice
  if ("tool" in choice) return { type: "function", function: { name: choice.tool } }
  return choice.mode ?? "auto"
}

// -----------------------------------------------------------------------------
// Constructors
// -----------------------------------------------------------------------------

/**
 * Builds the model. Needs an `HttpClient` (`FetchHttpClient.layer`, or `NodeHttpClient` from
 * `@effect/platform-node`).
 *
 * @category constructors
 * @since 0.3.0
 */
export const make = Effect.fnUntraced(function*(
  options: Options
): Effect.fn.Return<LanguageModel.LanguageModel, never, HttpClient.HttpClient> {
  const baseUrl = (options.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, "")
  const client = yield* HttpClient.HttpClient

  const request = (providerOptions: LanguageModel.ProviderOptions, stream: boolean) => {
    const tools = toTools(providerOptions.tools)
    const body = {
      ...options.config,
      model: options.model,
      messages: toMessages(providerOptions.prompt),
      ...(tools.length > 0 ? { tools, tool_choice: toToolChoice(providerOptions.toolChoice) } : {}),
      ...(stream ? { stream: true, stream_options: { include_usage: true } } : {})
    }
    const base = HttpClientRequest.post(`${baseUrl}/chat/completions`).pipe(
      HttpClientRequest.setHeader("accept", stream ? "text/event-stream" : "application/json"),
      HttpClientRequest.bodyJsonUnsafe(body)
    )
    return options.apiKey === undefined ? base : HttpClientRequest.bearerToken(base, Redacted.value(options.apiKey))
  }

  // The response when its status is 2xx; else the status error (with the start of its body).
  const send = (method: string, req: HttpClientRequest.HttpClientRequest) =>
    client.execute(req).pipe(
      Effect.mapError((error) => requestError(method, error)),
      Effect.flatMap((response): Effect.Effect<HttpClientResponse.HttpClientResponse, AiError.AiError> =>
        response.status >= 200 && response.status < 300
          ? Effect.succeed(response)
          : Effect.flatMap(
            Effect.orElseSucceed(response.text, () => ""),
            (body) => Effect.fail(statusError(method, response.status, body))
          )
      )
    )

  const streamText = (providerOptions: LanguageModel.ProviderOptions): Stream.Stream<Response.StreamPartEncoded, AiError.AiError> =>
    Stream.suspend(() => {
      // the state of this answer
      let textId: string | undefined
      let started = false
      let reason: string | undefined
      let usage: typeof Usage.Type | undefined
      let done = false
      const calls = new Map<number, { id: string; name: string; args: string }>()

      const onChunk = (chunk: ChatChunk): Effect.Effect<Array<Response.StreamPartEncoded>, AiError.AiError> => {
        if (chunk.error !== undefined) {
          return Effect.fail(aiError("streamText", new AiError.InternalProviderError({
            description: `the stream reported an error: ${chunk.error.message ?? "no message"}`
          })))
        }
        const parts: Array<Response.StreamPartEncoded> = []
        if (!started) {
          started = true
          parts.push({
            type: "response-metadata",
            ...(chunk.id === undefined ? {} : { id: chunk.id }),
            ...(chunk.model === undefined ? {} : { modelId: chunk.model })
          })
        }
        const choice = chunk.choices?.[0]
        // usage sent with a chunk that still has content is the usage so far (continuous usage)
        const running = choice !== undefined && chunk.usage !== undefined && chunk.usage !== null
          ? streamedUsage({ inputTokens: chunk.usage.prompt_tokens, outputTokens: chunk.usage.completion_tokens })
          : undefined
        if (chunk.usage !== undefined && chunk.usage !== null) usage = chunk.usage
        const content = choice?.delta?.content
        if (content !== undefined && content !== null && content !== "") {
          if (textId === undefined) {
            textId = chunk.id ?? "text"
            parts.push({ type: "text-start", id: textId })
          }
          parts.push({ type: "text-delta", id: textId, delta: content, ...(running === undefined ? {} : { metadata: running }) })
        }
        for (const [i, call] of (choice?.delta?.tool_calls ?? []).entries()) {
          const index = call.index ?? i
          const known = calls.get(index)
          if (known === undefined) {
            calls.set(index, {
              id: call.id ?? `call_${index}`,
              name: call.function?.name ?? "",
              args: call.function?.arguments ?? ""
            })
          } else {
            known.args += call.function?.arguments ?? ""
          }
        }
        if (choice?.finish_reason !== undefined && choice.finish_reason !== null) reason = choice.finish_reason
        return Effect.succeed(parts)
      }

      const onEnd = Effect.suspend((): Effect.Effect<Array<Response.StreamPartEncoded>, AiError.AiError> => {
        if (!done) {
          return Effect.fail(aiError("streamText", new AiError.NetworkError({
            reason: "TransportError",
            method: "POST",
            url: `${baseUrl}/chat/completions`,
            description: "the response ended before data: [DONE]"
          })))
        }
        const toolCalls: Array<Response.StreamPartEncoded> = []
        for (const call of calls.values()) {
          const params = Option.getOrUndefined(Schema.decodeUnknownOption(Schema.fromJsonString(Schema.Json))(call.args === "" ? "{}" : call.args))
          if (params === undefined) {
            return Effect.fail(aiError("streamText", new AiError.InvalidOutputError({
              description: `the arguments of the call of ${call.name} are not JSON: ${brief(call.args)}`
            })))
          }
          toolCalls.push({ type: "tool-call", id: call.id, name: call.name, params })
        }
        return Effect.succeed([
          ...(textId === undefined ? [] : [{ type: "text-end", id: textId } as const]),
          ...toolCalls,
          {
            type: "finish",
            reason: finishReason(reason, calls.size > 0),
            usage: {
              inputTokens: { total: usage?.prompt_tokens },
              outputTokens: { total: usage?.completion_tokens }
            }
          }
        ])
      })

      return Stream.unwrap(Effect.map(send("streamText", request(providerOptions, true)), (response) => response.stream)).pipe(
        Stream.mapError((error) => AiError.isAiError(error) ? error : requestError("streamText", error)),
        Stream.decodeText(),
        Stream.pipeThroughChannel(Sse.decode()),
        Stream.mapError((error): AiError.AiError =>
          AiError.isAiError(error)
            ? error
            : aiError("streamText", new AiError.InvalidResponseError({ description: `the event stream is malformed: ${String(error)}` }))
        ),
        Stream.takeWhile((event) => {
          if (event.data.trim() !== "[DONE]") return true
          done = true
          return false
        }),
        Stream.mapEffect((event) =>
          Effect.flatMap(
            Effect.mapError(decodeChunk(event.data), (error) =>
              aiError("streamText", new AiError.InvalidResponseError({
                description: `a chunk is not a chat completion chunk: ${error.message}`
              }))),
            onChunk
          )
        ),
        Stream.flattenIterable,
        Stream.concat(Stream.flatMap(Stream.fromEffect(onEnd), Stream.fromIterable))
      )
    })

  return yield* LanguageModel.make({
    streamText,
    // One answer, not streamed: the same request folded (text joined into one part).
    generateText: (providerOptions) =>
      Stream.runCollect(streamText(providerOptions)).pipe(
        Effect.map((parts) => {
          const text = parts.flatMap((p) => p.type === "text-delta" ? [p.delta] : []).join("")
          return [
            ...(text === "" ? [] : [{ type: "text" as const, text }]),
            ...parts.filter((p): p is Response.ToolCallPartEncoded | Response.FinishPartEncoded | Response.ResponseMetadataPartEncoded =>
              p.type === "tool-call" || p.type === "finish" || p.type === "response-metadata"
            )
          ]
        })
      )
  })
})

/**
 * The model as a layer. Needs an `HttpClient`.
 *
 * **Example** (A model on a local Ollama server)
 *
 * ```ts
 * import { Layer } from "effect"
 * import { FetchHttpClient } from "effect/http"
 * import { OpenAiCompat } from "agent-interrupt"
 *
 * const model = OpenAiCompat.layer({ model: "llama3.2", baseUrl: "http://127.0.0.1:11434/v1" }).pipe(
 *   Layer.provide(FetchHttpClient.layer)
 * )
 * ```
 *
 * @category layers
 * @since 0.3.0
 */
export const layer = (options: Options): Layer.Layer<LanguageModel.LanguageModel, never, HttpClient.HttpClient> =>
  Layer.effect(LanguageModel.LanguageModel, make(options))

/**
 * The model as a layer, its options read from `Config` (the names are yours):
 * `layerConfig({ model: Config.succeed("gpt-4o-mini"), apiKey: Config.Redacted("OPENAI_API_KEY") })`.
 *
 * @category layers
 * @since 0.3.0
 */
export const layerConfig = (
  options: Config.Wrap<Options>
): Layer.Layer<LanguageModel.LanguageModel, Config.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(LanguageModel.LanguageModel, Effect.flatMap(Config.unwrap(options), make))
