import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect, Layer, Redacted, Schema } from "effect"
import { Actor, CheckpointStore, Executions, runEvent, Workflow } from "agent-interrupt"
import { Server } from "agent-interrupt/http"

// Your own workflow, startable by name over HTTP: its input is decoded with its Schema.
const greet = Workflow.make({
  name: "greet",
  description: "says hello, slowly",
  input: Schema.Struct({ name: Schema.String }),
  example: { name: "world" },
  run: ({ name }) =>
    runEvent(Actor.llm("greeter", (who: string) => Effect.as(Effect.sleep("2 seconds"), `Hello, ${who}!`)), name)
})

// The server: every /api route needs the bearer token; the caller's name becomes `triggeredBy`.
export const server = (port: number, stateDir = ".agent-interrupt") =>
  Server.layer({
    port,
    auth: { credentials: [{ token: Redacted.make("a-long-random-secret-token"), caller: "ops" }] }
  }).pipe(
    Layer.provideMerge(Executions.layerLocal({ workflows: [Workflow.register(greet)] })),
    Layer.provide(CheckpointStore.layerFileSystem(stateDir)),
    Layer.provide(NodeServices.layer)
  )

// npm run example server
if (import.meta.main) Layer.launch(server(8080)).pipe(NodeRuntime.runMain)
// curl -H "authorization: Bearer a-long-random-secret-token" http://127.0.0.1:8080/api/executions
