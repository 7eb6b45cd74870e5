/**
 * Time helpers shared by the modules: ISO timestamps from Effect's Clock, and durations in
 * milliseconds or seconds for messages and Redis.
 *
 * @internal
 */
import { Clock, Duration, Effect } from "effect"

// Formatting a Date costs about half a microsecond and events come many per millisecond, so the text
// of the last millisecond formatted is kept. A pure function's memo: it shares nothing observable
// between executions.
let lastMillis = Number.NaN
let lastIso = ""

/** A UTC ISO-8601 timestamp of `millis`. @internal */
export const isoOf = (millis: number): string => {
  if (millis !== lastMillis) {
    lastIso = new Date(millis).toISOString()
    lastMillis = millis
  }
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
