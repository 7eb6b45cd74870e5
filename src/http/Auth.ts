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
import { Config, Context, Effect, Layer, Option, Redacted, Schema } from "effect"
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
 * The middleware every `/api` route runs: `Authorization: Bearer <token>` → `Caller`, or 401.
 *
 * @category middleware
 * @since 0.1.0
 */
export class Authorization extends HttpApiMiddleware.Service<Authorization, { provides: Caller }>()(
  "agent-interrupt/http/Authorization",
  {
    security: { bearer: HttpApiSecurity.bearer },
    error: Unauthorized
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
 * characters).
 *
 * @category options
 * @since 0.1.0
 */
export interface AuthOptions {
  readonly credentials: ReadonlyArray<Credential>
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
      // A wrong token is worth a warning (someone is guessing, or a client is misconfigured).
      const rejected = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
        Effect.logWarning("Rejected an invalid bearer token").pipe(
          Effect.annotateLogs({
            module: "agent-interrupt/http/Auth",
            method: request.method,
            url: request.url,
            remote: Option.getOrElse(request.remoteAddress, () => "unknown")
          })
        ))
      return Authorization.of({
        bearer: (httpEffect, { credential }) => {
          if (Redacted.value(credential).length === 0) return Effect.fail(missing)
          const caller = authenticate(credential, credentials)
          return Option.isNone(caller)
            ? Effect.andThen(rejected, Effect.fail(invalid))
            : Effect.provideService(httpEffect, Caller, { name: caller.value })
        }
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
