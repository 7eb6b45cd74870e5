#!/usr/bin/env node
/**
 * The `agent-interrupt` executable.
 */
import { main } from "./main.ts"
import { runMain } from "./runMain.ts"

// Run from source (npm run demo / npm run cli), the resume hint says how to run it the same way.
const invocation = import.meta.url.endsWith(".ts") ? "npm run cli --" : "agent-interrupt"
runMain(main(process.argv.slice(2), invocation))
