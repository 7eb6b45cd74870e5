/**
 * Actors: the named units of work an agent workflow is made of — an `agent` that plans and
 * delegates, a `tool` that does one thing, an `llm` call.
 *
 * An actor is a handler `(input, ctx) => Effect` with optional pre- and postconditions, input and
 * output Schemas and retry options. `runEvent` (in `Event.ts`) runs one as an execution event.
 *
 * @since 0.1.0
 */
import { type Effect, Schema } from "effect"
import type { ActorKind } from "./EventBus.ts"
import type { RetryOptions } from "./Retry.ts"

// -----------------------------------------------------------------------------
// Models
// -----------------------------------------------------------------------------

/**
 * What a handler gets besides its input.
 *
 * @category models
 * @since 0.1.0
 */
export interface HandlerContext {
  /** The event's address, e.g. `planner::search::tool_call`. */
  readonly address: string
  /** The actor's path: the address without its `::<kind>_call` suffix. */
  readonly path: ReadonlyArray<string>
  /** Which call at this address this is: 1 for the first, 2 for the second... */
  readonly occurrence: number
  /** Which attempt this is (1 unless retried). */
  readonly attempt: number
  /** The execution's id. */
  readonly stateId: string
  /**
   * `stateId::address#occurrence`: the same for this call on every attempt and after a resume, so an
   * external side effect (a payment, an email) can be deduplicated.
   */
  readonly idempotencyKey: string
  /**
   * Aborts when this handler is being stopped (an interrupt, per the stop policy, or a cancelled
   * group). Pass it to promise-based SDK calls. Created on first use; one per handler.
   */
  readonly signal: AbortSignal
}

/**
 * A check on an actor's input (precondition) or output (postcondition): `true` passes; `false` or a
 * string (the reason) fails the event with `ActorContractError`.
 *
 * @category models
 * @since 0.1.0
 */
export type Condition<A, E = never, R = never> = (
  value: A
) => boolean | string | Effect.Effect<boolean | string, E, R>

/**
 * The optional parts of an actor.
 *
 * @category options
 * @since 0.1.0
 */
export interface ActorOptions<I, A, E = never, R = never> {
  readonly preconditions?: ReadonlyArray<Condition<I, E, R>> | undefined
  readonly postconditions?: ReadonlyArray<Condition<A, E, R>> | undefined
  /** Validates (decodes) the input before the handler runs. */
  readonly input?: Schema.Codec<I, unknown> | undefined
  /** Validates the output, and encodes it for the event history and checkpoints (decodes it on resume). */
  readonly output?: Schema.Codec<A, unknown> | undefined
  /** Retry options of this actor (per-event options win; defaults by kind). */
  readonly retry?: RetryOptions | undefined
  /** A description, for printers and UIs. */
  readonly description?: string | undefined
}

/**
 * A named, typed unit of work.
 *
 * @category models
 * @since 0.1.0
 */
export interface Actor<I, A, E = never, R = never> extends ActorOptions<I, A, E, R> {
  readonly name: string
  readonly kind: ActorKind
  readonly handler: (input: I, ctx: HandlerContext) => Effect.Effect<A, E, R>
}

// -----------------------------------------------------------------------------
// Constructors
// -----------------------------------------------------------------------------

const validName = /^[A-Za-z0-9_.-]+$/

/**
 * An actor from an options object.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = <I, A, E = never, R = never>(options: {
  readonly name: string
  readonly kind: ActorKind
  readonly handler: (input: I, ctx: HandlerContext) => Effect.Effect<A, E, R>
} & ActorOptions<I, A, E, R>): Actor<I, A, E, R> => {
  if (!validName.test(options.name)) {
    throw new TypeError(
      `Invalid actor name ${JSON.stringify(options.name)}: use letters, digits, '_', '.' or '-' (it becomes part of addresses)`
    )
  }
  return options
}

const ofKind = (kind: ActorKind) =>
<I, A, E = never, R = never>(
  name: string,
  handler: (input: I, ctx: HandlerContext) => Effect.Effect<A, E, R>,
  options: ActorOptions<I, A, E, R> = {}
): Actor<I, A, E, R> => make({ ...options, name, kind, handler })

/**
 * An `agent`: plans and delegates to other actors. Not retried by default.
 *
 * **Example** (A planner that calls a tool)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Actor, runEvent } from "agent-interrupt"
 *
 * const search = Actor.tool("search", (q: string) => Effect.succeed([`result for ${q}`]))
 * const planner = Actor.agent("planner", (topic: string) => runEvent(search, topic))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const agent = ofKind("agent")

/**
 * A `tool`: does one thing. Retried 3 times by default (exponential from 1 s, capped at 30 s).
 *
 * @category constructors
 * @since 0.1.0
 */
export const tool = ofKind("tool")

/**
 * An `llm` call. Retried 3 times by default (exponential from 1 s, capped at 30 s).
 *
 * @category constructors
 * @since 0.1.0
 */
export const llm = ofKind("llm")

// -----------------------------------------------------------------------------
// Errors
// -----------------------------------------------------------------------------

/**
 * An actor's contract was broken: a precondition or postcondition failed, or its input or output did
 * not match its Schema. Never retried.
 *
 * @category errors
 * @since 0.1.0
 */
export class ActorContractError extends Schema.TaggedError<ActorContractError>("agent-interrupt/ActorContractError")(
  "ActorContractError",
  {
    actor: Schema.String,
    address: Schema.String,
    which: Schema.Literals(["precondition", "postcondition", "input", "output"]),
    detail: Schema.String
  }
) {
  override get message(): string {
    return `${this.which} of ${this.actor} failed at ${this.address}: ${this.detail}`
  }
}
