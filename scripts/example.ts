// `npm run example <name>`: runs examples/<name>.ts from a fresh clone, with no build. The examples
// import the package by name ("agent-interrupt", as users do); the `agent-interrupt-source` export
// condition points those imports at src/ instead of the built dist/.
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

const examples = path.resolve(import.meta.dirname, "..", "examples")
const names = fs.readdirSync(examples)
  .filter((file) => file.endsWith(".ts") && !file.endsWith(".test.ts"))
  .map((file) => file.slice(0, -3))
  .sort()

const name = process.argv[2]?.replace(/^examples\//, "").replace(/\.ts$/, "")
if (name === undefined || !names.includes(name)) {
  process.stderr.write(
    `${name === undefined ? "error: name an example" : `error: no example named ${JSON.stringify(name)}`}` +
      ` (one of: ${names.join(", ")}), as in: npm run example quickstart\n`
  )
  process.exit(2)
}

const child = spawn(
  process.execPath,
  ["--conditions=agent-interrupt-source", path.join(examples, `${name}.ts`), ...process.argv.slice(3)],
  { stdio: "inherit" }
)
// Ctrl-C reaches the example directly (same process group); pass on what a parent sends this one.
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal))
child.on("exit", (code, signal) => process.exit(code ?? (signal === null ? 1 : 128 + (signal === "SIGINT" ? 2 : 15))))
