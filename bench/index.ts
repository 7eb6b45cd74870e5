/**
 * `npm run bench` prints a table; `npm run bench -- --json` also prints one JSON object on its last
 * line. `--only core,events` runs some suites.
 */
import { printTable, type Row } from "./harness.ts"

const suites: Record<string, () => Promise<ReadonlyArray<Row>>> = {
  core: async () => (await import("./core.ts")).run(),
  events: async () => (await import("./events.ts")).run(),
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

const rows: Array<Row> = []
for (const name of only) {
  const suite = suites[name]
  if (suite === undefined) {
    console.error(`Unknown suite ${JSON.stringify(name)}; known: ${Object.keys(suites).join(", ")}`)
    process.exit(2)
  }
  process.stderr.write(`running ${name}...\n`)
  rows.push(...await suite())
}

console.log(printTable(rows))
if (json) {
  console.log(JSON.stringify({
    node: process.version,
    date: new Date().toISOString(),
    results: rows
  }))
}
