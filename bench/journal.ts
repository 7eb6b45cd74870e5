/**
 * Journal codec benchmarks: what encoding a record and decoding a journal line cost beside the raw
 * floor, measured in alternation with it.
 *
 * - encode: `encodeRecord` against `JSON.stringify` of the same record (one step; a snapshot of
 *   10,000 steps);
 * - decode: `decodeJournal` (parse, depth check, Schema decode, ownership) against `JSON.parse` plus
 *   a structural check written by hand (each field's type, the kind, integers ≥ 1, the timestamp's
 *   pattern: what the Schema checks, minus building its output), over 10,000 step lines and over
 *   one snapshot line of 10,000 steps;
 * - a journal read again, as a resume reads it (to check it, again under its lease, to compact it):
 *   what the second read costs beside the first.
 */
import { Effect, Option } from "effect"
import { type CheckpointStore, decodeJournal, makeMemory } from "../src/Checkpoint.ts"
import { encodeRecord, fold, type JournalRecord } from "../src/Journal.ts"
import { makeRecords, step } from "../test/utils/snapshots.ts"
import { interleaved, type Row } from "./harness.ts"

const suite = "journal"
const STEPS = 10_000

// -----------------------------------------------------------------------------
// The floor's structural check
// -----------------------------------------------------------------------------

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/
const isString = (u: unknown): u is string => typeof u === "string"
const isPositiveInt = (u: unknown) => Number.isInteger(u) && (u as number) >= 1
const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

const isStep = (r: unknown): boolean =>
  isObject(r) && r["_tag"] === "StepCompleted" && isString(r["address"]) && isPositiveInt(r["occurrence"]) &&
  isString(r["actor"]) && (r["kind"] === "agent" || r["kind"] === "tool" || r["kind"] === "llm") &&
  isPositiveInt(r["attempt"]) && isString(r["idempotencyKey"]) && isString(r["timestamp"]) &&
  ISO.test(r["timestamp"]) &&
  (r["executionTime"] === undefined || (typeof r["executionTime"] === "number" && r["executionTime"] >= 0)) &&
  "result" in r && (r["detail"] === undefined || isString(r["detail"]))

const isSnapshot = (r: unknown): boolean => {
  if (!isObject(r) || r["_tag"] !== "Snapshot" || !isObject(r["snapshot"])) return false
  const s = r["snapshot"]
  if (
    !Number.isInteger(s["version"]) || !isString(s["stateId"]) || !isString(s["createdAt"]) ||
    !ISO.test(s["createdAt"]) || !isString(s["updatedAt"]) || !ISO.test(s["updatedAt"]) ||
    !isString(s["status"]) || !isObject(s["metadata"]) || !Array.isArray(s["completed"])
  ) return false
  for (const c of s["completed"]) if (!isStep(c)) return false
  return isObject(s["partialOutputs"]) && isObject(s["storage"])
}

// -----------------------------------------------------------------------------
// Rows
// -----------------------------------------------------------------------------

const loop = (n: number, body: () => unknown) =>
  Effect.sync(() => {
    for (let i = 0; i < n; i++) body()
  })

const pair = (
  rows: Array<Row>,
  what: string,
  floorName: string,
  [floor, ours]: readonly [number, number],
  rounds: number,
  unit: "ns" | "µs" | "ms"
) => {
  const scale = unit === "ns" ? 1 : unit === "µs" ? 1e-3 : 1e-6
  rows.push({ suite, name: `${what}: ${floorName} (floor)`, value: floor * scale, unit, samples: rounds })
  rows.push({
    suite,
    name: `${what}: ours`,
    value: ours * scale,
    unit,
    baseline: "floor",
    ratio: ours / floor,
    target: "≤ 2×",
    ok: ours / floor <= 2,
    samples: rounds
  })
}

export const run = async (): Promise<ReadonlyArray<Row>> => {
  const rows: Array<Row> = []
  const ROUNDS = 9

  // --- encode ---------------------------------------------------------------------
  const record = step("bench", 3)
  const M = 20_000
  pair(
    rows,
    "encode one step record",
    "JSON.stringify",
    (await interleaved(M, [loop(M, () => JSON.stringify(record)), loop(M, () => encodeRecord(record))], ROUNDS)) as [
      number,
      number
    ],
    ROUNDS,
    "ns"
  )
  const records: Array<JournalRecord> = makeRecords("bench", { steps: STEPS, status: "running" })
  const snapshot: JournalRecord = { _tag: "Snapshot", snapshot: fold("bench", records) }
  pair(
    rows,
    `encode a snapshot of ${STEPS.toLocaleString("en-US")} steps`,
    "JSON.stringify",
    (await interleaved(1, [loop(1, () => JSON.stringify(snapshot)), loop(1, () => encodeRecord(snapshot))], ROUNDS)) as [
      number,
      number
    ],
    ROUNDS,
    "ms"
  )

  // --- decode ---------------------------------------------------------------------
  const lines = Array.from({ length: STEPS }, (_, i) => encodeRecord(step("bench", i)))
  const decodeAll = (texts: ReadonlyArray<string>) =>
    Effect.flatMap(decodeJournal("bench", "bench", texts), (out) =>
      out.length === texts.length ? Effect.void : Effect.die(new Error("lines lost")))
  pair(
    rows,
    `decode ${STEPS.toLocaleString("en-US")} step lines, per line`,
    "JSON.parse + structural check",
    (await interleaved(STEPS, [
      loop(1, () => {
        for (const line of lines) if (!isStep(JSON.parse(line))) throw new Error("not a step")
      }),
      decodeAll(lines)
    ], ROUNDS)) as [number, number],
    ROUNDS,
    "ns"
  )
  const snapshotLine = encodeRecord(snapshot)
  pair(
    rows,
    `decode a snapshot line of ${STEPS.toLocaleString("en-US")} steps (${(snapshotLine.length / 1024 / 1024).toFixed(1)} MiB)`,
    "JSON.parse + structural check",
    (await interleaved(1, [
      loop(1, () => {
        if (!isSnapshot(JSON.parse(snapshotLine))) throw new Error("not a snapshot")
      }),
      decodeAll([snapshotLine])
    ], ROUNDS)) as [number, number],
    ROUNDS,
    "ms"
  )

  // --- a journal read again ---------------------------------------------------------
  // A fresh store per sample (no line decoded yet): its first read of a 10,000-step journal, then
  // the same journal read again with one more line.
  const texts = records.map(encodeRecord)
  const first: Array<number> = []
  const again: Array<number> = []
  for (let i = 0; i <= ROUNDS; i++) {
    const journals = new Map([["bench", texts.slice()]])
    const store: CheckpointStore["Service"] = makeMemory(journals)
    const readAll = Effect.flatMap(store.read("bench"), (out) =>
      Option.isSome(out) ? Effect.void : Effect.die(new Error("no journal")))
    let t = performance.now()
    await Effect.runPromise(readAll)
    const a = performance.now() - t
    journals.get("bench")!.push(encodeRecord({ _tag: "StorageSet", key: "again", value: i }))
    t = performance.now()
    await Effect.runPromise(readAll)
    const b = performance.now() - t
    if (i > 0) {
      first.push(a)
      again.push(b)
    }
  }
  const med = (xs: ReadonlyArray<number>) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!
  rows.push({
    suite,
    name: `read a journal of ${STEPS.toLocaleString("en-US")} steps, first read`,
    value: med(first),
    unit: "ms",
    samples: ROUNDS
  })
  rows.push({
    suite,
    name: "the same journal read again, one line longer (as a resume reads it)",
    value: med(again),
    unit: "ms",
    baseline: "first read",
    ratio: med(again) / med(first),
    target: "each line decoded once (≤ 0.25×)",
    ok: med(again) / med(first) <= 0.25,
    samples: ROUNDS
  })
  return rows
}
