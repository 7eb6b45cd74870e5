/**
 * Benchmark helpers: timing loops, percentiles, heap readings, and the result table.
 *
 * Every figure is reported with a baseline measured in the same run, so the ratio is what counts;
 * absolute numbers are context and swing 10-30 % between runs on a shared machine.
 */
import { type Context, Effect } from "effect"

export interface Row {
  readonly suite: string
  readonly name: string
  readonly value: number
  readonly unit: string
  readonly baseline?: string | undefined
  readonly ratio?: number | undefined
  readonly target?: string | undefined
  readonly ok?: boolean | undefined
  /** How many samples (or runs) stand behind the figure, when it is a median or a percentile. */
  readonly samples?: number | undefined
}

/** `MET` / `MISSED` for a row with a target. */
export const statusOf = (row: Row): "MET" | "MISSED" | undefined =>
  row.ok === undefined ? undefined : row.ok ? "MET" : "MISSED"

export const now = (): number => performance.now()

/** Runs `body` `n` times in one `Effect.gen` loop and returns ns per iteration (median of 5 rounds). */
export const nsPerOp = <E, R>(
  n: number,
  body: Effect.Effect<unknown, E, R>,
  options: { readonly context?: Context.Context<R> } = {}
): Promise<number> =>
  timeLoop(
    n,
    Effect.gen(function*() {
      for (let i = 0; i < n; i++) yield* body
    }),
    options.context
  )

/** Like `nsPerOp`, but builds the body anew for each iteration (`yield* Ref.get(ref)`). */
export const nsPerOpFn = <E>(n: number, body: () => Effect.Effect<unknown, E>): Promise<number> =>
  timeLoop(
    n,
    Effect.gen(function*() {
      for (let i = 0; i < n; i++) yield* body()
    }),
    undefined
  )

const timeLoop = async <E, R>(
  n: number,
  program: Effect.Effect<void, E, R>,
  context: Context.Context<R> | undefined,
  rounds = 5
): Promise<number> => {
  const loop = (context === undefined ? program : Effect.provideContext(program, context)) as Effect.Effect<void, E>
  await Effect.runPromise(Effect.exit(loop)) // warm-up
  const samples: Array<number> = []
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint()
    await Effect.runPromise(Effect.exit(loop))
    samples.push(Number(process.hrtime.bigint() - start) / n)
  }
  return median(samples)
}

export const median = (xs: ReadonlyArray<number>): number => percentile(xs, 50)

export const percentile = (xs: ReadonlyArray<number>, p: number): number => {
  if (xs.length === 0) return Number.NaN
  const sorted = [...xs].sort((a, b) => a - b)
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[index]!
}

const gc = (): void => {
  const collect = (globalThis as { gc?: () => void }).gc
  if (collect === undefined) throw new Error("run the benchmarks with node --expose-gc (npm run bench does)")
  collect()
  collect()
}

/** Heap in use after a full collection. */
export const heapUsed = async (): Promise<number> => {
  await new Promise((resolve) => setImmediate(resolve))
  gc()
  return process.memoryUsage().heapUsed
}

export const fmt = (value: number, unit: string): string => {
  if (!Number.isFinite(value)) return String(value)
  if (unit === "B" && Math.abs(value) >= 1024) return `${(value / 1024).toFixed(1)} KiB`
  if (Math.abs(value) >= 100) return `${Math.round(value).toLocaleString("en-US")} ${unit}`
  return `${value.toFixed(value < 10 ? 2 : 1)} ${unit}`
}

export const printTable = (rows: ReadonlyArray<Row>): string => {
  const header = ["suite", "figure", "value", "baseline", "ratio", "target", ""]
  const body = rows.map((r) => [
    r.suite,
    r.name,
    fmt(r.value, r.unit),
    r.baseline ?? "",
    r.ratio === undefined ? "" : `${r.ratio.toFixed(2)}×`,
    r.target ?? "",
    statusOf(r) ?? ""
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)))
  const line = (cells: ReadonlyArray<string>) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...body.map(line)].join("\n")
}

/**
 * Measures several loops in alternation (A B C A B C ...) so that GC and JIT phases hit them alike;
 * returns the median ns per iteration of each.
 */
export const interleaved = async (
  n: number,
  loops: ReadonlyArray<Effect.Effect<void, unknown>>,
  rounds = 9
): Promise<Array<number>> => {
  for (const loop of loops) await Effect.runPromise(Effect.exit(loop))
  const samples = loops.map(() => [] as Array<number>)
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < loops.length; i++) {
      const start = process.hrtime.bigint()
      await Effect.runPromise(Effect.exit(loops[i]!))
      samples[i]!.push(Number(process.hrtime.bigint() - start) / n)
    }
  }
  return samples.map(median)
}

/** An `Effect.gen` loop running `body` `n` times (a function body is rebuilt each iteration). */
export const loopOf = <E, R>(
  n: number,
  body: Effect.Effect<unknown, E, R> | (() => Effect.Effect<unknown, E, R>),
  context?: Context.Context<R>
): Effect.Effect<void, unknown> => {
  const program = typeof body === "function"
    ? Effect.gen(function*() {
      for (let i = 0; i < n; i++) yield* body()
    })
    : Effect.gen(function*() {
      for (let i = 0; i < n; i++) yield* body
    })
  return (context === undefined ? program : Effect.provideContext(program, context)) as Effect.Effect<void, unknown>
}
