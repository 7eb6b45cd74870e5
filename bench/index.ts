/**
 * `npm run bench` prints a table; `npm run bench -- --json` also prints one JSON object on its last
 * line (every row with its `status`, MET or MISSED where it has a target, and the machine's load).
 * `--only core,events` runs some suites.
 */
import os from "node:os"
import { printTable, type Row, statusOf } from "./harness.ts"

const suites: Record<string, () => Promise<ReadonlyArray<Row>>> = {
  core: async () => (await import("./core.ts")).run(),
  events: async () => (await import("./events.ts")).run(),
  journal: async () => (await import("./journal.ts")).run(),
  checkpoint: async () => (await import("./checkpoint.ts")).run(),
  redis: async () => (await import("./redis.ts")).run(),
  http: async () => (await import("./http.ts")).run(),
  llm: async () => (await import("./llm.ts")).run(),
  hitl: async () => (await import("./hitl.ts")).run()
}

const args = process.argv.slice(2)
const json = args.includes("--json")
const onlyIndex = args.indexOf("--only")
const only = onlyIndex >= 0 ? (args[onlyIndex + 1] ?? "").split(",") : Object.keys(suites)

const load = () => os.loadavg().map((x) => Math.round(x * 100) / 100)
const loadStart = load()
const started = Date.now()
const rows: Array<Row> = []
// A suite that cannot run (a module missing while it is rewritten) is reported, not fatal.
const failed: Array<{ readonly suite: string; readonly error: string }> = []
for (const name of only) {
  const suite = suites[name]
  if (suite === undefined) {
    console.error(`Unknown suite ${JSON.stringify(name)}; known: ${Object.keys(suites).join(", ")}`)
    process.exit(2)
  }
  process.stderr.write(`running ${name}...\n`)
  try {
    rows.push(...await suite())
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    process.stderr.write(`suite ${name} could not run: ${message}\n`)
    failed.push({ suite: name, error: message })
    process.exitCode = 1
  }
}

const loadEnd = load()
const targets = rows.filter((r) => r.ok !== undefined)
console.log(printTable(rows))
console.log(
  `\nnode ${process.version}; ${os.cpus().length} cores; load average (1, 5, 15 min) at start ${loadStart.join(" ")}, ` +
    `at end ${loadEnd.join(" ")}; ${Math.round((Date.now() - started) / 1000)} s. ` +
    `${targets.filter((r) => r.ok).length} of ${targets.length} targets MET.` +
    failed.map((f) => `\nsuite ${f.suite} could not run: ${f.error}`).join("")
)
if (json) {
  console.log(JSON.stringify({
    node: process.version,
    date: new Date().toISOString(),
    cpus: os.cpus().length,
    loadavg: { start: loadStart, end: loadEnd },
    seconds: Math.round((Date.now() - started) / 1000),
    failed,
    results: rows.map((r) => ({ ...r, ...(r.ok === undefined ? {} : { status: statusOf(r) }) }))
  }))
}
