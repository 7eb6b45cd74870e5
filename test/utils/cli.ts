import { spawn } from "node:child_process"
import * as path from "node:path"

export const root = path.resolve(import.meta.dirname, "..", "..")

export interface CliResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  readonly lines: ReadonlyArray<string>
}

/**
 * Runs the command line (from source, under the Node that runs vitest) in a child process.
 * `onLine` sees each stdout line as it arrives and may signal the child.
 */
export const runCli = (
  args: ReadonlyArray<string>,
  options: {
    readonly onLine?: (line: string, child: ReturnType<typeof spawn>) => void
    readonly env?: Record<string, string>
    /** Run the child under `ulimit -f` (in KiB): its writes past that size fail with EFBIG. */
    readonly fileSizeLimitKb?: number
  } = {}
): Promise<CliResult> =>
  new Promise((resolve, reject) => {
    const command = [process.execPath, path.join(root, "src/cli/bin.ts"), ...args]
    const argv = options.fileSizeLimitKb === undefined
      ? command
      : ["/bin/sh", "-c", `ulimit -f ${options.fileSizeLimitKb}; exec "$0" "$@"`, ...command]
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: root,
      env: { ...process.env, NO_COLOR: "", ...options.env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    let pending = ""
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString()
      pending += chunk.toString()
      let index: number
      while ((index = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, index)
        pending = pending.slice(index + 1)
        options.onLine?.(line, child)
      }
    })
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.on("error", reject)
    child.on("close", (code, signal) =>
      resolve({ code, signal, stdout, stderr, lines: stdout.split("\n").filter((l) => l !== "") }))
  })
