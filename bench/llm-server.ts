/**
 * The provider of `bench/llm.ts`, in its own process (as a provider is on its own machine): a fake
 * OpenAI chat-completions server that streams three tokens and then holds the answer open. It prints
 * `port <port>` once listening, and `closed <id> <epoch ms>` when the client of request `<id>` (the
 * last message's content) closes the connection before the answer ended.
 */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"

const now = () => performance.timeOrigin + performance.now()
const chunk = (content: string) =>
  `data: ${JSON.stringify({
    id: "chatcmpl-bench",
    object: "chat.completion.chunk",
    created: 1_700_000_000,
    model: "bench",
    choices: [{ index: 0, delta: { content }, finish_reason: null }]
  })}\n\n`

const server = createServer((req, res) => {
  let body = ""
  req.setEncoding("utf8")
  req.on("data", (piece: string) => (body += piece))
  req.on("end", () => {
    const messages = (JSON.parse(body) as { messages: Array<{ content: string }> }).messages
    const id = messages[messages.length - 1]!.content
    res.on("close", () => {
      if (!res.writableFinished) process.stdout.write(`closed ${id} ${now()}\n`)
    })
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" })
    res.write(chunk("tok0 ") + chunk("tok1 ") + chunk("tok2 "))
    // and nothing more: only a stop ends this answer
  })
})
server.listen(0, "127.0.0.1", () => process.stdout.write(`port ${(server.address() as AddressInfo).port}\n`))
process.stdin.on("end", () => process.exit(0))
process.stdin.resume()
