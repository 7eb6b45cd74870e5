/**
 * Time helpers shared by the modules: ISO timestamps from Effect's Clock, and durations in
 * milliseconds or seconds for messages and Redis.
 *
 * @internal
 */
import { Clock, Duration, Effect } from "effect"

// Formatting a Date costs about half a microsecond, and events come many per millisecond and
// seconds apart: the text of the last millisecond is kept, and within the same second only the
// milliseconds are written anew. A pure function's memo: it shares nothing observable between
// executions.
let lastMillis = Number.NaN
let lastIso = ""
let lastSecond = Number.NaN
let secondPrefix = ""

/** A UTC ISO-8601 timestamp of `millis`. @internal */
export const isoOf = (time: number): string => {
  // a Date drops the fraction of a millisecond (toward zero)
  const millis = Math.trunc(time)
  if (millis === lastMillis) return lastIso
  const second = Math.floor(millis / 1000)
  if (second === lastSecond) {
    const ms = millis - second * 1000
    lastIso = `${secondPrefix}${ms < 10 ? "00" : ms < 100 ? "0" : ""}${ms}Z`
  } else {
    lastIso = new Date(millis).toISOString()
    // everything before the milliseconds: `2026-11-24T10:00:05.`
    secondPrefix = lastIso.slice(0, lastIso.length - 4)
    lastSecond = second
  }
  lastMillis = millis
  return lastIso
}

/** Now, from the Clock (TestClock in tests), as a UTC ISO-8601 timestamp. @internal */
export const isoNow: Effect.Effect<string> = Effect.map(Clock.currentTimeMillis, isoOf)

/** A duration in whole milliseconds, at least 1 (Redis PX / PEXPIRE arguments). @internal */
export const positiveMillis = (input: Duration.Input): number =>
  Math.max(1, Math.round(Duration.toMillis(Duration.fromInputUnsafe(input))))

/** A duration in seconds for messages: `5`, `1.5`, `0.3`. @internal */
export const formatSeconds = (duration: Duration.Duration): string => {
  const seconds = Duration.toSeconds(duration)
  return Number.isInteger(seconds) ? String(seconds) : String(Number(seconds.toFixed(3)))
}
