/**
 * Who may talk to the server over TCP (PROTOCOL.md "Authentication" and "HTTP"): the `Host` check
 * (DNS rebinding), the `Origin` check (browsers), the token, CORS headers, and the token file.
 * The Unix socket is trusted by file permissions and checks nothing. Pure functions over the request
 * head, so plain HTTP and WebSocket upgrades share them before anything else happens.
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import type { ErrorCode } from "@orbitdock/domain"
import { Data, Effect } from "effect"

/** What the checks need to know about the server. */
export interface AccessPolicy {
  /** The bound TCP port (the server's own origins use it). */
  readonly port: number
  readonly token: string
  /** Extra allowed origins (`--allow-origin`), compared exactly. */
  readonly allowOrigins: ReadonlyArray<string>
  /** Accepted non-loopback Host names (`--public-host`), with or without a port. */
  readonly publicHosts: ReadonlyArray<string>
  /** The paired device a token belongs to, if any (`Devices`). */
  readonly deviceOf?: (token: string) => string | undefined
}

/**
 * Who a request speaks for: the owner (the server's own token, or the Unix socket) or one paired
 * device (its own token, revocable on its own).
 */
export type Principal = { readonly _tag: "Owner" } | { readonly _tag: "Device"; readonly deviceId: string }

export const owner: Principal = { _tag: "Owner" }

/** The parts of a request head the checks read. */
export interface RequestHead {
  readonly method: string
  readonly pathname: string
  readonly host: string | undefined
  readonly origin: string | undefined
  readonly authorization: string | undefined
  /** `?token=` */
  readonly queryToken: string | null
}

export interface Denied {
  readonly status: 401 | 403
  readonly code: ErrorCode
  readonly message: string
}

/** Splits `host[:port]` (`[::1]:4000` included) into a lowercase name and an optional port. */
export const parseHost = (host: string): { readonly name: string; readonly port: string | null } | null => {
  const value = host.trim().toLowerCase()
  if (value.startsWith("[")) {
    const end = value.indexOf("]")
    if (end < 0) return null
    const rest = value.slice(end + 1)
    if (rest !== "" && !/^:\d+$/.test(rest)) return null
    return { name: value.slice(0, end + 1), port: rest === "" ? null : rest.slice(1) }
  }
  const colon = value.lastIndexOf(":")
  if (colon < 0) return { name: value, port: null }
  const port = value.slice(colon + 1)
  if (!/^\d+$/.test(port)) return null
  return { name: value.slice(0, colon), port }
}

const isLoopbackName = (name: string): boolean => {
  if (name === "localhost" || name === "[::1]") return true
  const match = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(name)
  return match !== null && match.slice(1).every((octet) => Number(octet) <= 255)
}

/** Whether a `Host` header names this server: a loopback name (on our port) or a public host. */
export const hostAllowed = (host: string | undefined, policy: AccessPolicy): boolean => {
  if (host === undefined || host === "") return false
  const parsed = parseHost(host)
  if (parsed === null) return false
  if (isLoopbackName(parsed.name)) return parsed.port === null || Number(parsed.port) === policy.port
  const lower = host.trim().toLowerCase()
  return policy.publicHosts.some((allowed) => {
    const entry = allowed.trim().toLowerCase()
    return entry === lower || entry === parsed.name
  })
}

/**
 * Whether an `Origin` header (when present) is the server's own or an allowed one. A configured
 * public host is the server's own too: the page a phone loads from it calls back to it.
 */
export const originAllowed = (origin: string, policy: AccessPolicy): boolean => {
  if (origin === `http://127.0.0.1:${policy.port}` || origin === `http://localhost:${policy.port}` || policy.allowOrigins.includes(origin)) {
    return true
  }
  if (policy.publicHosts.length === 0) return false
  let url: URL
  try {
    url = new URL(origin)
  } catch {
    return false
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.origin !== origin) return false
  const host = url.host.toLowerCase()
  return policy.publicHosts.some((allowed) => {
    const entry = allowed.trim().toLowerCase()
    return entry === host || (url.port === "" && entry === url.hostname)
  })
}

const sameToken = (given: string, expected: string): boolean => {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && crypto.timingSafeEqual(a, b)
}

/** The token a request carries (`Authorization: Bearer`, else `?token=`). */
export const requestToken = (head: RequestHead): string | null => {
  const auth = head.authorization
  if (auth !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(auth)
    if (match !== null) return match[1]
  }
  return head.queryToken
}

/**
 * The TCP access checks, in PROTOCOL.md's order: Host (403), Origin (403), token (401): the server's
 * own or a paired device's. `GET /health` and CORS preflights need no token, nor does a request the
 * caller marks `tokenFree` (the web page's static files, which hold no secret; routes that check
 * their callers themselves). The principal is null for those: nobody was identified.
 */
export const authenticate = (
  head: RequestHead,
  policy: AccessPolicy,
  options?: { readonly tokenFree?: boolean }
): { readonly denied: Denied } | { readonly principal: Principal | null } => {
  if (!hostAllowed(head.host, policy)) {
    return { denied: { status: 403, code: "forbidden", message: "Host is not this server (loopback or a configured public host)" } }
  }
  if (head.origin !== undefined && !originAllowed(head.origin, policy)) {
    return { denied: { status: 403, code: "forbidden", message: `Origin ${head.origin} is not allowed` } }
  }
  if (head.method === "OPTIONS") return { principal: null }
  if (head.method === "GET" && head.pathname === "/health") return { principal: null }
  if (options?.tokenFree === true) return { principal: null }
  const token = requestToken(head)
  if (token === null) return { denied: { status: 401, code: "unauthorized", message: "a token is required" } }
  if (sameToken(token, policy.token)) return { principal: owner }
  const deviceId = policy.deviceOf?.(token)
  if (deviceId !== undefined) return { principal: { _tag: "Device", deviceId } }
  return { denied: { status: 401, code: "unauthorized", message: "wrong token (or a device that was unpaired)" } }
}

/** `authenticate`'s refusal alone; `undefined` means the request may proceed. */
export const check = (head: RequestHead, policy: AccessPolicy, options?: { readonly tokenFree?: boolean }): Denied | undefined => {
  const verdict = authenticate(head, policy, options)
  return "denied" in verdict ? verdict.denied : undefined
}

/** Headers that let an allowed browser origin read the answer. */
export const corsHeaders = (origin: string | undefined): Record<string, string> =>
  origin === undefined ? {} : { "access-control-allow-origin": origin, vary: "Origin" }

/** The answer headers of a CORS preflight from an allowed origin. */
export const preflightHeaders = (origin: string | undefined): Record<string, string> => ({
  ...corsHeaders(origin),
  "access-control-allow-methods": "GET, POST, DELETE, OPTIONS",
  "access-control-allow-headers": "Authorization, Content-Type",
  "access-control-max-age": "600"
})

// ── Token file ──────────────────────────────────────────────────────────────────────────────────

export class TokenError extends Data.TaggedError("TokenError")<{
  readonly operation: string
  readonly cause: unknown
}> {
  override get message() {
    return `${this.operation} failed: ${this.cause instanceof Error ? this.cause.message : String(this.cause)}`
  }
}

/** A new token: 256 random bits as 64 lowercase hex characters. */
export const newToken = (): string => crypto.randomBytes(32).toString("hex")

const errnoCode = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "code" in error ? String((error as { code: unknown }).code) : undefined

/**
 * The server's token: the configured one, else `<dataDir>/token` (trimmed), else a new one written
 * there with mode 0600. The data directory is created with mode 0700.
 */
export const resolveToken = (configured: string | null, dataDir: string): Effect.Effect<string, TokenError> =>
  configured !== null && configured.trim() !== ""
    ? Effect.succeed(configured.trim())
    : Effect.tryPromise({
        try: async () => {
          await fs.mkdir(dataDir, { recursive: true, mode: 0o700 })
          const file = path.join(dataDir, "token")
          for (let attempt = 0; attempt < 3; attempt++) {
            try {
              const existing = (await fs.readFile(file, "utf8")).trim()
              if (existing !== "") {
                // Tighten a token file someone left readable by others.
                const stat = await fs.stat(file)
                if ((stat.mode & 0o077) !== 0) await fs.chmod(file, 0o600)
                return existing
              }
              await fs.unlink(file) // empty: replace it
            } catch (error) {
              if (errnoCode(error) !== "ENOENT") throw error
            }
            const token = newToken()
            try {
              // `wx`: two servers starting at once must not overwrite each other's token.
              await fs.writeFile(file, token + "\n", { mode: 0o600, flag: "wx" })
              return token
            } catch (error) {
              if (errnoCode(error) !== "EEXIST") throw error
            }
          }
          throw new Error(`could not create ${file}`)
        },
        catch: (cause) => new TokenError({ operation: "Access.resolveToken", cause })
      })
