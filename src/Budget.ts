/**
 * Budgets: a limit on what an execution's language-model calls may use — tokens, or money at the
 * prices you pass in — that interrupts the execution with reason `resource_limit` the moment it is
 * crossed, in the middle of a streamed answer.
 *
 * This module holds the `Budget` service, its limits (`tokens`, `cost`), the `Spent` totals and the
 * layers. Every language-model call of `Llm` charges the budget in context as its usage grows (the
 * provider's streamed usage where it sends it, else one output token per streamed delta, and the final
 * usage when the answer ends); a call that is interrupted keeps what it was charged.
 *
 * @since 0.3.0
 */
import { Context, Effect, Layer, Ref } from "effect"
import type { TokenUsage } from "./EventBus.ts"
import { ExecutionState } from "./ExecutionState.ts"

// -----------------------------------------------------------------------------
// Models
// -----------------------------------------------------------------------------

/**
 * The price of a model, per million tokens, in the currency of the budget (dollars in messages).
 *
 * @category models
 * @since 0.3.0
 */
export interface Price {
  readonly input: number
  readonly output: number
}

/**
 * Options of {@link Budget.cost}.
 *
 * **Details**
 *
 * - `max`: the most the execution may spend (required, positive).
 * - `prices`: the price of each model, by the model id the provider reports (or the call names).
 * - `defaultPrice`: the price of a model not in `prices` (default: none — such a model's usage is not
 *   counted, and a warning says so once per model).
 *
 * @category options
 * @since 0.3.0
 */
export interface CostOptions {
  readonly max: number
  readonly prices: Readonly<Record<string, Price>>
  readonly defaultPrice?: Price | undefined
}

/**
 * What a budget limits: tokens (input and output together), or cost.
 *
 * @category models
 * @since 0.3.0
 */
export type Limit =
  | { readonly _tag: "tokens"; readonly max: number }
  | {
    readonly _tag: "cost"
    readonly max: number
    readonly prices: Readonly<Record<string, Price>>
    readonly defaultPrice?: Price | undefined
  }

/**
 * What the execution's calls have used so far.
 *
 * @category models
 * @since 0.3.0
 */
export interface Spent {
  readonly inputTokens: number
  readonly outputTokens: number
  /** Input and output tokens together. */
  readonly tokens: number
  /** At the budget's prices (0 for a token budget). */
  readonly cost: number
}

/**
 * `$0.5`, `$0.0123`: a cost with up to 4 decimals, at least 2.
 *
 * @category utils
 * @since 0.3.0
 */
export const formatCost = (value: number): string => {
  const text = value.toFixed(4).replace(/0{1,2}$/, "")
  return `$${text}`
}

/**
 * The message of the interrupt when `limit` is crossed with `used` (tokens or cost):
 * `Token budget of 2000 exceeded (2013 used)`, `Cost budget of $0.50 exceeded ($0.5012 used)`.
 *
 * @category utils
 * @since 0.3.0
 */
export const exceededMessage = (limit: Limit, used: number): string =>
  limit._tag === "tokens"
    ? `Token budget of ${limit.max} exceeded (${used} used)`
    : `Cost budget of ${formatCost(limit.max)} exceeded (${formatCost(used)} used)`

// -----------------------------------------------------------------------------
// Service
// -----------------------------------------------------------------------------

const checkMax = (what: string, max: number): number => {
  if (!(Number.isFinite(max) && max > 0)) {
    throw new TypeError(`Invalid ${what} budget ${max}: use a positive number`)
  }
  return max
}

/**
 * The budget of the current execution (provide it inside the execution: it needs its `ExecutionState`).
 *
 * **Example** (A token budget around a workflow)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Budget } from "agent-interrupt"
 *
 * const limited = <A, E, R>(program: Effect.Effect<A, E, R>) =>
 *   Effect.provide(program, Budget.tokens(2000))
 * // an llm call that takes the total past 2000 tokens stops the run:
 * // reason "resource_limit", message "Token budget of 2000 exceeded (2013 used)"
 * ```
 *
 * @category services
 * @since 0.3.0
 */
export class Budget extends Context.Service<Budget, {
  /** What this budget limits. */
  readonly limit: Limit
  /**
   * Adds what a call used since its last charge (an increment) with the model that used it; the
   * moment the total crosses the limit, interrupts the execution with reason `resource_limit`
   * (triggered by `budget`). Later charges are still counted.
   */
  readonly charge: (usage: TokenUsage, model?: string | undefined) => Effect.Effect<void>
  /** What has been used so far. */
  readonly spent: Effect.Effect<Spent>
}>()("agent-interrupt/Budget") {
  /**
   * A budget of `max` tokens (input and output together). Needs the execution's `ExecutionState`.
   */
  static readonly tokens = (max: number): Layer.Layer<Budget, never, ExecutionState> => {
    const limit: Limit = { _tag: "tokens", max: checkMax("token", max) }
    return Layer.effect(Budget, make(limit))
  }

  /**
   * A budget of `max` in money, at the per-model prices given (per million tokens). Needs the
   * execution's `ExecutionState`.
   */
  static readonly cost = (options: CostOptions): Layer.Layer<Budget, never, ExecutionState> => {
    const limit: Limit = {
      _tag: "cost",
      max: checkMax("cost", options.max),
      prices: options.prices,
      ...(options.defaultPrice === undefined ? {} : { defaultPrice: options.defaultPrice })
    }
    return Layer.effect(Budget, make(limit))
  }
}

/**
 * Builds a budget over the current execution.
 *
 * @category constructors
 * @since 0.3.0
 */
export const make = Effect.fnUntraced(function*(limit: Limit): Effect.fn.Return<Budget["Service"], never, ExecutionState> {
  const state = yield* ExecutionState
  const spent = yield* Ref.make<Spent>({ inputTokens: 0, outputTokens: 0, tokens: 0, cost: 0 })
  const unpriced = new Set<string>()

  const priceOf = (model: string | undefined): Price | undefined => {
    if (limit._tag !== "cost") return undefined
    return (model === undefined ? undefined : limit.prices[model]) ?? limit.defaultPrice
  }

  const warnUnpriced = (model: string | undefined): Effect.Effect<void> => {
    const name = model ?? "(unknown model)"
    if (limit._tag !== "cost" || unpriced.has(name)) return Effect.void
    unpriced.add(name)
    return Effect.logWarning(`No price for model ${name} in the cost budget: its usage is not counted`).pipe(
      Effect.annotateLogs({ module: "agent-interrupt/Budget", stateId: state.stateId })
    )
  }

  const charge = (usage: TokenUsage, model?: string | undefined): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (usage.inputTokens === 0 && usage.outputTokens === 0) return Effect.void
      const price = priceOf(model)
      const cost = price === undefined ? 0 : (usage.inputTokens * price.input + usage.outputTokens * price.output) / 1e6
      const warned = limit._tag === "cost" && price === undefined ? warnUnpriced(model) : Effect.void
      const added = Ref.modify(spent, (s) => {
        const next: Spent = {
          inputTokens: s.inputTokens + usage.inputTokens,
          outputTokens: s.outputTokens + usage.outputTokens,
          tokens: s.tokens + usage.inputTokens + usage.outputTokens,
          cost: s.cost + cost
        }
        return [[s, next] as const, next]
      })
      return Effect.andThen(warned, Effect.flatMap(added, ([before, after]) => {
        const used = (s: Spent) => limit._tag === "tokens" ? s.tokens : s.cost
        // the charge that crosses the limit interrupts; the first interrupt wins anyway
        if (!(used(before) <= limit.max && used(after) > limit.max)) return Effect.void
        return Effect.asVoid(state.requestInterrupt({
          reason: "resource_limit",
          message: exceededMessage(limit, used(after)),
          triggeredBy: "budget"
        }))
      }))
    })

  return Budget.of({ limit, charge, spent: Ref.get(spent) })
})
