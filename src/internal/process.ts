/**
 * What a lease needs to know about processes on this machine, read from the `process` global when
 * there is one (Node, Bun, Deno): this process's id, and whether another id is alive. No Node module
 * is imported: elsewhere the answers are "unknown".
 *
 * @internal
 */

interface ProcessLike {
  readonly pid?: number | undefined
  readonly kill?: ((pid: number, signal: number) => boolean) | undefined
}

const current = (): ProcessLike | undefined => (globalThis as { readonly process?: ProcessLike }).process

/** This process's id, or 0 when unknown. @internal */
export const currentPid = (): number => current()?.pid ?? 0

/**
 * Whether process `pid` of this machine is alive: `true`, `false` (it is gone), or `undefined` when
 * it cannot be told. @internal
 */
export const isProcessAlive = (pid: number): boolean | undefined => {
  const proc = current()
  if (proc?.kill === undefined || !Number.isInteger(pid) || pid <= 0) return undefined
  try {
    proc.kill(pid, 0)
    return true
  } catch (error) {
    const code = (error as { readonly code?: unknown }).code
    if (code === "ESRCH") return false
    if (code === "EPERM") return true
    return undefined
  }
}
