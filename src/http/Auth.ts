/**
 * Bearer-token authentication for the control API: the `Authorization` middleware, the `Caller` it
 * provides to handlers, and the credentials it accepts.
 *
 * Each credential is a secret token and the caller name it stands for; the caller name is what the
 * server records as `triggeredBy` of an interrupt and as `startedBy` of a run, so a client can never
 * claim to be someone else. Tokens are compared in constant time (SHA-256 digests of both sides,
 * `timingSafeEqual`, every credential checked) and stay `Redacted` until then.
 *
 * @since 0.1.0
 */
import { Clock, Config, Context, Duration, Effect, Layer, Option, Redacted, Schema } from "effect"
import { HttpServerRequest } from "effect/http"
import { HttpApiMiddleware, HttpApiSecurity } from "effect/http-api"
import { createHash, randomBytes, timingSafeEqual } from "node:crypto"

// -----------------------------------------------------------------------------
// Models
// -----------------------------------------------------------------------------

/**
 * The authenticated caller of the current request.
 *
 * @category services
 * @since 0.1.0
 */
export class Caller extends Context.Service<Caller, {
  /** The caller's name: `triggeredBy` of its interrupts, `startedBy` of its runs. */
  readonly name: string
}>()("agent-interrupt/http/Caller") {}

/**
 * The request carried no bearer token, or one the server does not know.
 *
 * @category errors
 * @since 0.1.0
 */
export class Unauthorized extends Schema.TaggedError<Unauthorized>("agent-interrupt/http/Unauthorized")(
  "Unauthorized",
  { message: Schema.String },
  { httpApiStatus: 401 }
) {}

/**
 * Too many wrong tokens from this client (remote address) within the window: every request from it
 * is refused, whatever its token, until `retryAfterMs` has passed.
 *
 * @category errors
 * @since 0.2.0
 */
export class TooManyFailedLogins extends Schema.TaggedError<TooManyFailedLogins>("agent-interrupt/http/TooManyFailedLogins")(
  "TooManyFailedLogins",
  { message: Schema.String, retryAfterMs: Schema.Int },
  { httpApiStatus: 429 }
) {}

/**
 * The middleware every `/api` route runs: `Authorization: Bearer <token>` → `Caller`, or 401 (429
 * after too many wrong tokens from one client).
 *
 * @category middleware
 * @since 0.1.0
 */
export class Authorization extends HttpApiMiddleware.Service<Authorization, { provides: Caller }>()(
  "agent-interrupt/http/Authorization",
  {
    security: { bearer: HttpApiSecurity.bearer },
    error: [Unauthorized, TooManyFailedLogins]
  }
) {}

/**
 * A token and the caller it identifies.
 *
 * @category models
 * @since 0.1.0
 */
export interface Credential {
  readonly token: Redacted.Redacted<string>
  readonly caller: string
}

/**
 * Options of {@link layer}: the accepted credentials (at least one; tokens of at least 16
 * characters), and how many wrong tokens one client (remote address) may send per window before
 * all its requests are refused with 429 (default 10 per minute).
 *
 * @category options
 * @since 0.1.0
 */
export interface AuthOptions {
  readonly credentials: ReadonlyArray<Credential>
  readonly failedLogins?: { readonly limit?: number | undefined; readonly window?: Duration.Input | undefined } | undefined
}

// -----------------------------------------------------------------------------
// Constructors
// -----------------------------------------------------------------------------

/**
 * A fresh random token: 32 bytes, base64url (43 characters).
 *
 * @category constructors
 * @since 0.1.0
 */
export const generateToken = (): Redacted.Redacted<string> => Redacted.make(randomBytes(32).toString("base64url"))

const digest = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest()

/**
 * The caller a presented token belongs to, if any. Takes the same time whichever credential
 * matches, and whether one does: digests have a fixed length and every credential is compared.
 *
 * @category constructors
 * @since 0.1.0
 */
export const authenticate = (
  presented: Redacted.Redacted<string>,
  credentials: ReadonlyArray<Credential>
): Option.Option<string> => {
  const value = Redacted.value(presented)
  const candidate = digest(value)
  let found: string | undefined
  for (const credential of credentials) {
    const match = timingSafeEqual(candidate, digest(Redacted.value(credential.token)))
    if (match && found === undefined && value.length > 0) found = credential.caller
  }
  return Option.fromUndefinedOr(found)
}

const MIN_TOKEN_LENGTH = 16

const missing = new Unauthorized({
  message: "Missing bearer token: send the header Authorization: Bearer <token>"
})
const invalid = new Unauthorized({ message: "Invalid bearer token" })

/**
 * The middleware's implementation over fixed credentials.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: AuthOptions): Layer.Layer<Authorization> =>
  Layer.effect(
    Authorization,
    Effect.gen(function*() {
      const credentials = options.credentials
      if (credentials.length === 0) {
        return yield* Effect.die(new Error("Auth.layer needs at least one credential (a token and its caller)"))
      }
      for (const credential of credentials) {
        if (Redacted.value(credential.token).length < MIN_TOKEN_LENGTH) {
          return yield* Effect.die(
            new Error(
              `The token of caller ${JSON.stringify(credential.caller)} is shorter than ${MIN_TOKEN_LENGTH} characters; use a long random token (Auth.generateToken)`
            )
          )
        }
      }
      // Wrong tokens, per client and window. The first of a window is logged (someone is guessing,
      // or a client is misconfigured); the rest are counted and logged as one line when the window
      // ends. Past the limit, the client is refused until its window ends, its token unchecked.
      const limit = options.failedLogins?.limit ?? 10
      const window = Duration.toMillis(Duration.fromInputUnsafe(options.failedLogins?.window ?? "1 minute"))
      const failures = new Map<string, { readonly since: number; count: number }>()
      const annotations = (request: HttpServerRequest.HttpServerRequest, remote: string) =>
        Effect.annotateLogs({ module: "agent-interrupt/http/Auth", method: request.method, url: request.url, remote })
      const flush = Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.forEach(Array.from(failures), ([remote, failed]) => {
          if (failed.since + window > now) return Effect.void
          failures.delete(remote)
          return failed.count <= 1 ? Effect.void : Effect.logWarning(
            `Rejected ${failed.count} invalid bearer tokens in ${Duration.format(Duration.millis(window))}${
              failed.count > limit ? ` (over the limit of ${limit}: ${failed.count - limit} refused unchecked)` : ""
            }`
          ).pipe(Effect.annotateLogs({ module: "agent-interrupt/http/Auth", remote }))
        }, { discard: true }))
      yield* Effect.forkScoped(Effect.forever(Effect.andThen(Effect.sleep(window), flush)))
      const refused = (retryAfterMs: number) =>
        new TooManyFailedLogins({
          message: `Too many invalid bearer tokens from this client: retry in ${Math.ceil(retryAfterMs / 1000)} s`,
          retryAfterMs
        })
      const limited = (remote: string, now: number) => {
        const failed = failures.get(remote)
        return failed !== undefined && failed.count >= limit && failed.since + window > now
          ? Option.some(failed.since + window - now)
          : Option.none()
      }
      const rejected = (request: HttpServerRequest.HttpServerRequest, remote: string, now: number) =>
        Effect.suspend(() => {
          const failed = failures.get(remote)
          if (failed !== undefined && failed.since + window > now) {
            failed.count++
            return Effect.fail(failed.count > limit ? refused(failed.since + window - now) : invalid)
          }
          failures.set(remote, { since: now, count: 1 })
          return Effect.andThen(
            Effect.logWarning("Rejected an invalid bearer token").pipe(annotations(request, remote)),
            Effect.fail(invalid)
          )
        })
      return Authorization.of({
        bearer: (httpEffect, { credential }) =>
          Effect.gen(function*() {
            const request = yield* HttpServerRequest.HttpServerRequest
            const remote = Option.getOrElse(request.remoteAddress, () => "unknown")
            const now = yield* Clock.currentTimeMillis
            const wait = limited(remote, now)
            if (Option.isSome(wait)) {
              const failed = failures.get(remote)
              if (failed !== undefined) failed.count++
              return yield* refused(wait.value)
            }
            if (Redacted.value(credential).length === 0) return yield* missing
            const caller = authenticate(credential, credentials)
            if (Option.isNone(caller)) return yield* rejected(request, remote, now)
            return yield* Effect.provideService(httpEffect, Caller, { name: caller.value })
          })
      })
    })
  )

/**
 * The middleware with one credential read from configuration: the token from
 * `AGENT_INTERRUPT_TOKEN` and its caller name from `AGENT_INTERRUPT_CALLER` (default `api-client`).
 *
 * @category layers
 * @since 0.1.0
 */
export const layerConfig: Layer.Layer<Authorization, Config.ConfigError> = Layer.unwrap(
  Effect.gen(function*() {
    const token = yield* Config.Redacted("AGENT_INTERRUPT_TOKEN")
    const caller = yield* Config.String("AGENT_INTERRUPT_CALLER").pipe(Config.withDefault("api-client"))
    return layer({ credentials: [{ token, caller }] })
  })
)
