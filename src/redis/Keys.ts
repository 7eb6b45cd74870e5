/**
 * The Redis key layout of distributed control: which keys and channels exist for an execution, and
 * the prefix they share.
 *
 * Every key starts with a prefix (default `agent-interrupt:`), set per call with a `prefix` option or
 * for a whole program with the {@link KeyPrefix} reference (which `RedisConnection.layer` provides).
 *
 * | key / channel (`{p}` prefix, `{id}` state id) | type | written by | what |
 * |---|---|---|---|
 * | `{p}{{id}}:journal` | stream | store | the journal: one record (JSON) per entry, field `r` |
 * | `{p}{{id}}:snapshot` | string | store | the compacted journal: the last entry id it covers, a space, the `Snapshot` record |
 * | `{p}{{id}}:lease` | string, TTL | store | the owner of the running execution, renewed by its heartbeat |
 * | `{p}executions` | sorted set | store | every execution with a journal, by first append (ms) |
 * | `{p}{{id}}:events` | stream, TTL once ended | owner | the run's bus events, entry ids `0-{sequence}` (field `e`) |
 * | `{p}{{id}}:attempt` | string | owner | the sequence of the current attempt's `ExecutionStarted` |
 * | `{p}{{id}}:request` | string, TTL | controller | a request for the current owner (JSON: id, owner, signal) |
 * | channel `{p}{{id}}:control` | pub/sub | controller | the same request, pushed to the owner |
 * | `{p}{{id}}:answers` | hash, TTL | controller | answers for the owner's waiting inputs (input id → JSON), deleted once taken |
 * | `{p}checkpoint:{id}`, `{p}checkpoints` | string, set | 0.1 store | version-1 snapshot documents, still read |
 * | `{p}ratelimit:…` | strings | `serve --redis` | the interrupt rate limit shared by every server |
 *
 * @since 0.1.0
 */
import { Context, Effect } from "effect"

/**
 * The prefix used when none is given.
 *
 * @category constants
 * @since 0.1.0
 */
export const DEFAULT_PREFIX = "agent-interrupt:"

/**
 * The key prefix of the current program (default {@link DEFAULT_PREFIX}); a `prefix` option wins
 * over it.
 *
 * @category references
 * @since 0.1.0
 */
export const KeyPrefix = Context.Reference<string>("agent-interrupt/redis/KeyPrefix", {
  defaultValue: () => DEFAULT_PREFIX
})

/**
 * The keys and channels of one prefix.
 *
 * @category models
 * @since 0.1.0
 */
export interface Keys {
  readonly prefix: string
  /** The checkpoint document of an execution. */
  readonly checkpoint: (stateId: string) => string
  /** The state ids that have a checkpoint (version 1 documents). */
  readonly checkpoints: string
  /** The journal of an execution (a Stream: one record per entry, field `r`). Hash-tagged by state id. */
  readonly journal: (stateId: string) => string
  /** The compacted snapshot of an execution's journal (string: the entry id it covers, a space, the record). */
  readonly snapshot: (stateId: string) => string
  /** The lease of a running execution (string with a TTL: the owner). */
  readonly lease: (stateId: string) => string
  /** Every execution with a journal, scored by when it was first journaled (ms since the epoch). */
  readonly executions: string
  /** The published bus events of an execution (a Stream: entry id `0-{sequence}`, field `e`). */
  readonly events: (stateId: string) => string
  /** The sequence number of the current attempt's `ExecutionStarted` (string). */
  readonly attempt: (stateId: string) => string
  /** The request waiting for the owner of a running execution (string with a TTL). */
  readonly request: (stateId: string) => string
  /** The channel requests are pushed on to the owner of a running execution. */
  readonly control: (stateId: string) => string
  /** Answers waiting for the owner of a running execution (hash: input id → JSON, with a TTL). */
  readonly answers: (stateId: string) => string
}

/**
 * The keys and channels under `prefix`.
 *
 * **Example** (Where the journal of `run-1` is)
 *
 * ```ts
 * import { RedisKeys } from "agent-interrupt"
 *
 * RedisKeys.make("agent-interrupt:").journal("run-1")
 * // => "agent-interrupt:{run-1}:journal"
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (prefix: string): Keys => ({
  prefix,
  checkpoint: (stateId) => `${prefix}checkpoint:${stateId}`,
  checkpoints: `${prefix}checkpoints`,
  journal: (stateId) => `${prefix}{${stateId}}:journal`,
  snapshot: (stateId) => `${prefix}{${stateId}}:snapshot`,
  lease: (stateId) => `${prefix}{${stateId}}:lease`,
  executions: `${prefix}executions`,
  events: (stateId) => `${prefix}{${stateId}}:events`,
  attempt: (stateId) => `${prefix}{${stateId}}:attempt`,
  request: (stateId) => `${prefix}{${stateId}}:request`,
  control: (stateId) => `${prefix}{${stateId}}:control`,
  answers: (stateId) => `${prefix}{${stateId}}:answers`
})

/**
 * The keys of the given prefix, or of the current {@link KeyPrefix}.
 *
 * @category constructors
 * @since 0.1.0
 */
export const resolve = (prefix?: string | undefined): Effect.Effect<Keys> =>
  prefix === undefined ? Effect.map(KeyPrefix, make) : Effect.succeed(make(prefix))
