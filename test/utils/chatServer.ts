/**
 * A fake OpenAI chat-completions server on a free loopback port, for tests and benchmarks: each
 * request is answered by a script of steps (chunks sent as `data: {chunk}\n\n`, `data: [DONE]`, an
 * HTTP error, a hold that keeps the connection open until the client goes away, a cut). It records
 * every request and when each response was closed by the client before it ended.
 */
import { Effect, type Scope } from "effect"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

export type Step =
  | { readonly chunk: object }
  | { readonly status: number; readonly body: string }
  | "done" // data: [DONE] and the end of the response
  | "hold" // nothing more until the client closes the connection
  | "cut" // the end of the response without [DONE]

export interface Received {
  readonly body: {
    readonly model: string
    readonly messages: ReadonlyArray<{ readonly role: string; readonly content?: unknown; readonly tool_call_id?: string }>
    readonly [key: string]: unknown
  }
  readonly authorization: string | undefined
}

export interface ChatServer {
  /** `http://127.0.0.1:<port>/v1` */
  readonly url: string
  /** Every request, in order. */
  readonly requests: Array<Received>
  /** Resolves with `performance.now()` when the client closed request `n` (0-based) before its end. */
  readonly closed: (n: number) => Promise<number>
  /** Resolves once request `n` has been sent `count` chunks. */
  readonly sent: (n: number, count: number) => Promise<void>
}

// --- chunks ------------------------------------------------------------------------------

const CREATED = 1_700_000_000

const chunk = (choices: ReadonlyArray<object>, extra: object = {}) => ({
  chunk: { id: "chatcmpl-1", object: "chat.completion.chunk", created: CREATED, model: "fixture", choices, ...extra }
})

/** A text delta; with `usage`, the usage so far (as servers with continuous usage stats send it). */
export const text = (content: string, usage?: { readonly prompt: number; readonly completion: number }): Step =>
  chunk(
    [{ index: 0, delta: { content }, finish_reason: null }],
    usage === undefined ? {} : {
      usage: { prompt_tokens: usage.prompt, completion_tokens: usage.completion, total_tokens: usage.prompt + usage.completion }
    }
  )

/** The finish reason, in its own chunk. */
export const finish = (reason: string): Step => chunk([{ index: 0, delta: {}, finish_reason: reason }])

/** The final usage chunk (`choices: []`), as `stream_options.include_usage` asks for. */
export const usage = (prompt: number, completion: number): Step =>
  chunk([], { usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion } })

/** A tool call, its arguments in one piece. */
export const toolCall = (index: number, id: string, name: string, args: string): Step =>
  chunk([{
    index: 0,
    delta: { tool_calls: [{ index, id, type: "function", function: { name, arguments: args } }] },
    finish_reason: null
  }])

/** A whole answer: the words of `content`, stop, usage, [DONE]. */
export const answer = (content: string, prompt = 10): ReadonlyArray<Step> => {
  const words = content.match(/\S+\s*/g) ?? []
  return [...words.map((w) => text(w)), finish("stop"), usage(prompt, words.length), "done"]
}

// --- the server --------------------------------------------------------------------------

const readBody = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    let body = ""
    req.setEncoding("utf8")
    req.on("data", (piece: string) => (body += piece))
    req.on("end", () => resolve(body))
    req.on("error", reject)
  })

const deferred = <A>() => {
  let resolve!: (a: A) => void
  const promise = new Promise<A>((r) => (resolve = r))
  return { promise, resolve }
}

/** Starts the server for the scope; `script(request, n)` says how to answer request `n` (0-based). */
export const chatServer = (
  script: (request: Received, n: number) => ReadonlyArray<Step>
): Effect.Effect<ChatServer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const requests: Array<Received> = []
    const closes = new Map<number, ReturnType<typeof deferred<number>>>()
    const closeOf = (n: number) => {
      let d = closes.get(n)
      if (d === undefined) closes.set(n, d = deferred<number>())
      return d
    }
    const counts = new Map<number, number>()
    const waiters: Array<{ n: number; count: number; resolve: () => void }> = []
    const bump = (n: number) => {
      const count = (counts.get(n) ?? 0) + 1
      counts.set(n, count)
      for (const w of waiters) if (w.n === n && w.count <= count) w.resolve()
    }

    const handle = async (req: IncomingMessage, res: ServerResponse) => {
      const n = requests.length
      const received: Received = {
        body: JSON.parse(await readBody(req)),
        authorization: req.headers.authorization
      }
      requests.push(received)
      // the client went away before the response ended: what an interrupt should cause
      res.on("close", () => {
        if (!res.writableFinished) closeOf(n).resolve(performance.now())
      })
      for (const step of script(received, n)) {
        if (res.destroyed) return
        if (step === "hold") return
        if (step === "cut") return void res.end()
        if (step === "done") return void res.end("data: [DONE]\n\n")
        if ("status" in step) {
          res.writeHead(step.status, { "content-type": "application/json" })
          return void res.end(step.body)
        }
        if (!res.headersSent) res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" })
        res.write(`data: ${JSON.stringify(step.chunk)}\n\n`)
        bump(n)
        // one chunk per turn of the event loop, as a model streams them
        await new Promise((resolve) => setImmediate(resolve))
      }
    }

    const server = createServer((req, res) => {
      handle(req, res).catch((error) => {
        res.destroy(error as Error)
      })
    })
    yield* Effect.acquireRelease(
      Effect.callback<void>((resume) => {
        server.listen(0, "127.0.0.1", () => resume(Effect.void))
      }),
      () =>
        Effect.callback<void>((resume) => {
          server.closeAllConnections()
          server.close(() => resume(Effect.void))
        })
    )
    const port = (server.address() as AddressInfo).port
    return {
      url: `http://127.0.0.1:${port}/v1`,
      requests,
      closed: (n) => closeOf(n).promise,
      sent: (n, count) =>
        (counts.get(n) ?? 0) >= count
          ? Promise.resolve()
          : new Promise<void>((resolve) => waiters.push({ n, count, resolve }))
    }
  })
