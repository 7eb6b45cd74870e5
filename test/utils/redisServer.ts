/**
 * A real redis-server for the Redis tests (and the Redis benchmark), as a scoped layer.
 *
 * `RedisServer.layer` starts `redis-server` on a free loopback port (no persistence) and stops it when
 * the scope closes; with `REDIS_URL` set it uses that server instead. Without either, building the
 * layer fails with a message that says how to install redis-server: the Redis tests are never
 * silently skipped.
 *
 * `RedisServer.layerOwned` always starts its own server (tests that kill and restart it).
 * `RedisServer.layerPersistent` does too, with AOF persistence (`--appendonly yes --appendfsync
 * always`) in a temporary directory, so that a server killed with SIGKILL and started again keeps
 * every write it acknowledged.
 */
import type { NodeRedis } from "@effect/platform-node"
import { Context, Effect, Layer, Option, Schema } from "effect"
import type { Redis } from "effect/persistence"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as RedisConnection from "../../src/redis/RedisConnection.ts"

export class RedisServerUnavailable extends Schema.TaggedError<RedisServerUnavailable>()("RedisServerUnavailable", {
  detail: Schema.String
}) {
  override get message() {
    return `Cannot start redis-server for the Redis tests: ${this.detail}. ` +
      "Install it with `sudo apt-get install redis-server` (or run `bash .ci/run`, which installs it), " +
      "or set REDIS_URL to a running Redis server."
  }
}

/** A Redis server the tests talk to. */
export class RedisServer extends Context.Service<RedisServer, {
  readonly url: string
  /** Whether this process started the server (so it can `kill` and `start` it). */
  readonly owned: boolean
  /** A prefix unique to this server handle, so tests sharing a REDIS_URL server do not collide. */
  readonly prefix: string
  /** Kills the server (SIGKILL) and waits until it is gone. Owned servers only. */
  readonly kill: Effect.Effect<void>
  /** Starts the server again on the same port and waits until it accepts connections. */
  readonly start: Effect.Effect<void, RedisServerUnavailable>
}>()("test/RedisServer") {
  /** Uses REDIS_URL when set, otherwise starts a redis-server. */
  static readonly layer: Layer.Layer<RedisServer, RedisServerUnavailable> = Layer.unwrap(Effect.sync(() => {
    const url = process.env["REDIS_URL"]
    return url === undefined || url === "" ? RedisServer.layerOwned : Layer.succeed(RedisServer, external(url))
  }))

  /** Always starts (and stops) its own redis-server. */
  static readonly layerOwned: Layer.Layer<RedisServer, RedisServerUnavailable> = Layer.effect(
    RedisServer,
    Effect.suspend(() => owned())
  )

  /**
   * Always starts (and stops) its own redis-server, persistent: an append-only file synced on every
   * write, in a temporary directory removed when the scope closes. `kill` then `start` keeps the data.
   */
  static readonly layerPersistent: Layer.Layer<RedisServer, RedisServerUnavailable> = Layer.effect(
    RedisServer,
    Effect.suspend(() =>
      Effect.flatMap(
        Effect.acquireRelease(
          Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "agent-interrupt-redis-aof-"))),
          (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
        ),
        (dir) => owned({ persistDir: dir })
      )
    )
  )
}

const uniquePrefix = () => `t-${globalThis.crypto.randomUUID().slice(0, 8)}:`

const external = (url: string): RedisServer["Service"] => ({
  url,
  owned: false,
  prefix: uniquePrefix(),
  kill: Effect.die(new Error("REDIS_URL points to a server this test does not own; it cannot be killed")),
  start: Effect.void
})

const BINARY_CANDIDATES = ["/usr/bin/redis-server", "/usr/local/bin/redis-server", "/usr/sbin/redis-server"]

// REDIS_SERVER_BIN names the binary explicitly (and lets a test check the message for a missing one).
const findBinary = (): string | undefined => {
  const explicit = process.env["REDIS_SERVER_BIN"]
  if (explicit !== undefined && explicit !== "") return fs.existsSync(explicit) ? explicit : undefined
  for (const candidate of BINARY_CANDIDATES) if (fs.existsSync(candidate)) return candidate
  for (const dir of (process.env["PATH"] ?? "").split(":")) {
    if (dir !== "" && fs.existsSync(`${dir}/redis-server`)) return `${dir}/redis-server`
  }
  return undefined
}

const freePort = Effect.callback<number, RedisServerUnavailable>((resume) => {
  const server = net.createServer()
  server.once("error", (cause) => resume(Effect.fail(new RedisServerUnavailable({ detail: String(cause) }))))
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

// Starts redis-server and resumes once it says it accepts connections.
// With `persistDir`: an append-only file, synced on every write, in that directory.
const launch = (binary: string, port: number, persistDir?: string) =>
  Effect.callback<ChildProcess, RedisServerUnavailable>((resume) => {
    const child = spawn(binary, [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      ...(persistDir === undefined
        ? ["--appendonly", "no"]
        : ["--appendonly", "yes", "--appendfsync", "always", "--dir", persistDir]),
      "--protected-mode",
      "no"
    ], { stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    let done = false
    const fail = (detail: string) => {
      if (done) return
      done = true
      child.kill("SIGKILL")
      resume(Effect.fail(new RedisServerUnavailable({ detail })))
    }
    // If this process ends without closing the scope (a crash), the server must not outlive it.
    const orphanGuard = () => void child.kill("SIGKILL")
    process.once("exit", orphanGuard)
    child.once("exit", () => void process.removeListener("exit", orphanGuard))
    child.once("error", (cause) => fail(`${binary}: ${cause.message}`))
    child.once("exit", (code) => fail(`redis-server exited with code ${code}: ${out.slice(-500)}`))
    const onData = (chunk: Buffer) => {
      out += chunk.toString()
      if (!done && out.includes("Ready to accept connections")) {
        done = true
        child.stdout?.removeListener("data", onData)
        child.removeAllListeners("exit")
        // keep draining its output so it never blocks on a full pipe
        child.stdout?.resume()
        child.stderr?.resume()
        resume(Effect.succeed(child))
      }
    }
    child.stdout?.on("data", onData)
    child.stderr?.on("data", (chunk: Buffer) => void (out += chunk.toString()))
  })

const stop = (child: ChildProcess) =>
  Effect.callback<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    child.once("exit", () => resume(Effect.void))
    child.kill("SIGKILL")
  })

const owned = Effect.fnUntraced(function*(options: { readonly persistDir?: string } = {}) {
  const binary = findBinary()
  if (binary === undefined) {
    return yield* new RedisServerUnavailable({ detail: "redis-server is not installed (not found in /usr/bin or PATH)" })
  }
  const port = yield* freePort
  let current: ChildProcess | undefined = yield* launch(binary, port, options.persistDir)
  yield* Effect.addFinalizer(() => current === undefined ? Effect.void : stop(current))
  return RedisServer.of({
    url: `redis://127.0.0.1:${port}`,
    owned: true,
    prefix: uniquePrefix(),
    kill: Effect.suspend(() => {
      const child = current
      current = undefined
      return child === undefined ? Effect.void : stop(child)
    }),
    start: Effect.suspend(() =>
      current !== undefined ? Effect.void : Effect.map(launch(binary, port, options.persistDir), (child) => void (current = child))
    )
  })
})

/**
 * The Effect `Redis` service (and `NodeRedis`) connected to the test server through
 * `RedisConnection.layer`, with the server handle's unique key prefix as `KeyPrefix`.
 */
export const redisLayer: Layer.Layer<Redis.Redis | NodeRedis.NodeRedis, Redis.RedisError, RedisServer> = Layer.unwrap(
  Effect.map(RedisServer, (server) => RedisConnection.layer({ url: server.url, prefix: server.prefix }))
)

/** A server (started or from REDIS_URL) and a connection to it, for a block of tests. */
export const testLayer: Layer.Layer<
  RedisServer | Redis.Redis | NodeRedis.NodeRedis,
  Redis.RedisError | RedisServerUnavailable
> = redisLayer.pipe(Layer.provideMerge(RedisServer.layer))

/** The REDIS_URL a child process should use, if set in this process's environment. */
export const externalUrl = (): Option.Option<string> => Option.fromNullishOr(process.env["REDIS_URL"] || undefined)
