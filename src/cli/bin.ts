#!/usr/bin/env node
/**
 * The `agent-interrupt` command line.
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { program } from "./demo.ts"

program.pipe(Effect.provide(NodeServices.layer), NodeRuntime.runMain)
