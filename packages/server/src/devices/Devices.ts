/**
 * Paired devices: a phone (or any browser elsewhere) gets a token of its own by exchanging a
 * short-lived pairing code (`orbitdock pair`, or the page's "Pair a phone"), and can be cut off on
 * its own (`orbitdock devices revoke`), its open connections closed at once, without touching the
 * server's token or any other device. Kept in `<data-dir>/devices.json` (0600), tokens only as their
 * SHA-256: the file alone lets nobody in. Pairing codes live in memory only: a restart voids them.
 */
import { conflict, invalid, notFound, ProtocolError } from "@orbitdock/domain"
import { Context, Effect, Layer, Schedule, Schema } from "effect"
import * as crypto from "node:crypto"
import * as path from "node:path"
import { ServerConfig } from "../Config.js"
import type { ConnectorRoute } from "../connectors/Connector.js"
import type { Principal } from "../http/Access.js"
import { newToken, parseHost } from "../http/Access.js"
import { ListeningUrl } from "../http/ListeningUrl.js"
import { respond, withBody } from "../http/RouteAnswers.js"
import { Routes } from "../http/Routes.js"
import * as JsonFile from "../internal/jsonFile.js"
import * as Pairing from "./Pairing.js"
import * as Qr from "./Qr.js"

const DeviceRecord = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  token_sha256: Schema.String,
  created_at: Schema.String,
  last_seen_at: Schema.NullOr(Schema.String)
})
type DeviceRecord = typeof DeviceRecord.Type

const DevicesFile = Schema.Struct({ devices: Schema.Array(DeviceRecord) })

/** A device as the API shows it (never its token or hash). */
export interface Device {
  readonly id: string
  readonly name: string
  readonly created_at: string
  readonly last_seen_at: string | null
}

export interface PairingOffer {
  /** As a person reads it: `ABCD-EFGH`. */
  readonly code: string
  readonly expires_at: string
  /** The page's link that pairs whoever opens it (what the QR code carries). */
  readonly url: string
  /** Whether the link names an address other machines can reach (a public host or a given URL). */
  readonly reachable: boolean
  /** The link as a QR code (SVG), for the page. */
  readonly qr_svg: string
}

export interface DevicesShape {
  /** The device a token belongs to (synchronous: every request asks). */
  readonly deviceOf: (token: string) => string | undefined
  readonly offer: (options: { readonly name?: string; readonly baseUrl?: string }) => Effect.Effect<PairingOffer, ProtocolError>
  /** Exchanges a pairing code (once) for a new device's token. */
  readonly pair: (code: string, name: string | undefined) => Effect.Effect<{ readonly token: string; readonly device: Device }, ProtocolError>
  readonly list: () => ReadonlyArray<Device>
  readonly revoke: (id: string) => Effect.Effect<Device, ProtocolError>
  /** Calls `listener` with each revoked device's id (the transport closes its connections). */
  readonly onRevoked: (listener: (deviceId: string) => void) => () => void
}

export class Devices extends Context.Tag("@orbitdock/server/Devices")<Devices, DevicesShape>() {}

export const fileOf = (dataDir: string): string => path.join(dataDir, "devices.json")

/** Last-seen times are written at most this often (a request comes with every answer a phone reads). */
const SEEN_FLUSH_MS = 60_000
const NAME_MAX = 80

const sha256 = (token: string): string => crypto.createHash("sha256").update(token).digest("hex")

const view = ({ token_sha256: _hash, ...device }: DeviceRecord): Device => device

/** A name as given, made safe to show: one line, no control characters, at most 80 characters. */
export const cleanName = (name: string | undefined): string | undefined => {
  if (name === undefined) return undefined
  // eslint-disable-next-line no-control-regex
  const cleaned = name.replace(/[\u0000-\u001f\u007f]+/g, " ").replace(/\s+/g, " ").trim().slice(0, NAME_MAX)
  return cleaned === "" ? undefined : cleaned
}

/** Whether a base URL other machines could open (not a loopback name). */
const reachableBase = (base: string): boolean => {
  try {
    const host = new URL(base).hostname
    return !(host === "localhost" || host === "[::1]" || host.startsWith("127."))
  } catch {
    return false
  }
}

interface PendingCode {
  readonly expiresAt: number
  readonly name: string | undefined
}

export const make = Effect.gen(function* () {
  const config = yield* ServerConfig
  const listening = yield* ListeningUrl
  const clock = yield* Effect.clock
  const file = fileOf(config.dataDir)
  const records = new Map<string, DeviceRecord>()
  for (const record of (yield* JsonFile.load(file, DevicesFile, { devices: [] }, "paired devices")).devices) {
    records.set(record.id, record)
  }
  const byHash = new Map<string, string>()
  for (const record of records.values()) byHash.set(record.token_sha256, record.id)
  const pending = new Map<string, PendingCode>()
  let wrongCodes = 0
  let seenDirty = false
  const listeners = new Set<(deviceId: string) => void>()
  const writes = yield* Effect.makeSemaphore(1)

  const now = () => clock.unsafeCurrentTimeMillis()
  const save = writes.withPermits(1)(
    Effect.suspend(() => {
      seenDirty = false
      return JsonFile.save(file, DevicesFile, { devices: [...records.values()] })
    })
  )
  const saved = (what: string) =>
    save.pipe(
      Effect.tapError((error) => Effect.logError(`cannot write ${file}`, error)),
      Effect.mapError(() => new ProtocolError({ code: "internal", message: `could not save the devices file, so ${what} did not happen` }))
    )
  const prune = () => {
    const at = now()
    for (const [code, entry] of pending) if (entry.expiresAt <= at) pending.delete(code)
    if (pending.size === 0) wrongCodes = 0
  }
  // Where a phone can open the page: a base given with the request, else the first public host on
  // the port we listen on, else the loopback address (only this machine can open that).
  const baseUrl = (given: string | undefined): string => {
    if (given !== undefined) return given
    const listeningAt = listening.get() ?? `http://127.0.0.1:${config.port}`
    const publicHost = config.publicHosts[0]
    if (publicHost === undefined) return listeningAt
    if (parseHost(publicHost)?.port != null) return `http://${publicHost.trim()}`
    const port = new URL(listeningAt).port
    return `http://${publicHost.trim()}${port === "" ? "" : `:${port}`}`
  }

  const service: DevicesShape = {
    deviceOf: (token) => {
      const id = byHash.get(sha256(token))
      if (id === undefined) return undefined
      const record = records.get(id)
      if (record !== undefined) {
        const at = now()
        if (record.last_seen_at === null || at - Date.parse(record.last_seen_at) >= SEEN_FLUSH_MS) {
          records.set(id, { ...record, last_seen_at: new Date(at).toISOString() })
          seenDirty = true
        }
      }
      return id
    },
    offer: ({ name, baseUrl: given }) =>
      Effect.gen(function* () {
        if (given !== undefined) {
          let url: URL | undefined
          try {
            url = new URL(given)
          } catch {
            url = undefined
          }
          if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")) {
            return yield* Effect.fail(invalid(`base_url must be an http(s) URL, not ${JSON.stringify(given.slice(0, 100))}`))
          }
        }
        prune()
        if (pending.size >= Pairing.MAX_PENDING) {
          return yield* Effect.fail(conflict(`${Pairing.MAX_PENDING} pairing codes are already waiting; use one or wait ${Pairing.CODE_TTL_MS / 60_000} minutes`))
        }
        let code = Pairing.newCode()
        while (pending.has(code)) code = Pairing.newCode()
        const expiresAt = now() + Pairing.CODE_TTL_MS
        pending.set(code, { expiresAt, name: cleanName(name) })
        const base = baseUrl(given)
        const url = Pairing.linkFor(base, code)
        return {
          code: Pairing.display(code),
          expires_at: new Date(expiresAt).toISOString(),
          url,
          reachable: reachableBase(base),
          qr_svg: yield* Qr.svg(url)
        }
      }),
    pair: (input, name) =>
      Effect.gen(function* () {
        const code = Pairing.normalize(input)
        if (code === null) return yield* Effect.fail(invalid("a pairing code is 8 letters and digits, like ABCD-EFGH"))
        prune()
        const entry = pending.get(code)
        if (entry === undefined) {
          wrongCodes++
          if (pending.size > 0 && wrongCodes >= Pairing.MAX_WRONG_CODES) {
            yield* Effect.logWarning(`${wrongCodes} wrong pairing codes were tried: every pending code is void`)
            pending.clear()
            wrongCodes = 0
          }
          return yield* Effect.fail(new ProtocolError({ code: "unauthorized", message: "unknown or expired pairing code" }))
        }
        pending.delete(code)
        const token = newToken()
        const record: DeviceRecord = {
          id: `dev_${crypto.randomBytes(6).toString("hex")}`,
          name: entry.name ?? cleanName(name) ?? "device",
          token_sha256: sha256(token),
          created_at: new Date(now()).toISOString(),
          last_seen_at: null
        }
        records.set(record.id, record)
        yield* saved("the pairing").pipe(Effect.tapError(() => Effect.sync(() => records.delete(record.id))))
        byHash.set(record.token_sha256, record.id)
        yield* Effect.logInfo(`paired device ${record.id} (${record.name})`)
        return { token, device: view(record) }
      }),
    list: () => [...records.values()].map(view),
    revoke: (id) =>
      Effect.gen(function* () {
        const record = records.get(id)
        if (record === undefined) return yield* Effect.fail(notFound(`no paired device ${id}`))
        // Cut off first: a failed write must not leave the token working until the next start.
        records.delete(id)
        byHash.delete(record.token_sha256)
        for (const listener of listeners) listener(id)
        yield* saved("the revocation was not written (the device is cut off until the server restarts)").pipe(
          Effect.catchAll((error) => Effect.logError(error.message))
        )
        yield* Effect.logInfo(`revoked device ${id} (${record.name})`)
        return view(record)
      }),
    onRevoked: (listener) => {
      listeners.add(listener)
      return () => listeners.delete(listener)
    }
  }

  yield* Effect.suspend(() => (seenDirty ? save.pipe(Effect.catchAll((error) => Effect.logWarning(`cannot write ${file}`, error))) : Effect.void)).pipe(
    Effect.repeat(Schedule.spaced(SEEN_FLUSH_MS)),
    Effect.delay(SEEN_FLUSH_MS),
    Effect.interruptible,
    Effect.forkScoped
  )
  yield* Effect.addFinalizer(() => (seenDirty ? save.pipe(Effect.ignore) : Effect.void))
  return service
}).pipe(Effect.annotateLogs({ module: "Devices" }))

const PairBody = Schema.Struct({ code: Schema.String.pipe(Schema.maxLength(64)), name: Schema.optional(Schema.String.pipe(Schema.maxLength(400))) })
const OfferBody = Schema.Struct({
  name: Schema.optional(Schema.String.pipe(Schema.maxLength(400))),
  base_url: Schema.optional(Schema.String.pipe(Schema.maxLength(2048)))
})
const IdBody = Schema.Struct({ id: Schema.String.pipe(Schema.maxLength(128)) })

const ownerOnly = (principal: Principal | null, what: string): Effect.Effect<void, ProtocolError> =>
  principal?._tag === "Owner"
    ? Effect.void
    : Effect.fail(new ProtocolError({ code: "forbidden", message: `only the server's own token (or its Unix socket) may ${what}` }))

/** `/api/devices/…` and `/api/pair` (PROTOCOL.md "Paired devices"). */
export const routes = (devices: DevicesShape): ReadonlyArray<ConnectorRoute> => [
  {
    method: "POST",
    path: "/api/devices/pair",
    handle: ({ body, principal }) =>
      respond(
        withBody(OfferBody, body ?? {}, ({ name, base_url }) =>
          ownerOnly(principal, "pair devices").pipe(
            Effect.zipRight(devices.offer({ ...(name === undefined ? {} : { name }), ...(base_url === undefined ? {} : { baseUrl: base_url }) }))
          )
        ),
        201
      )
  },
  {
    // The device has no token yet: the code is its credential (short-lived, once, guesses bounded).
    method: "POST",
    path: "/api/pair",
    tokenFree: true,
    handle: ({ body }) => respond(withBody(PairBody, body, ({ code, name }) => devices.pair(code, name)), 201)
  },
  {
    method: "GET",
    path: "/api/devices",
    handle: ({ principal }) =>
      respond(
        Effect.sync(() => ({
          devices: devices.list().map((device) => ({
            ...device,
            current: principal?._tag === "Device" && principal.deviceId === device.id
          }))
        }))
      )
  },
  {
    method: "POST",
    path: "/api/devices/revoke",
    handle: ({ body, principal }) =>
      respond(
        withBody(IdBody, body, ({ id }) =>
          (principal?._tag === "Device" && principal.deviceId === id ? Effect.void : ownerOnly(principal, "revoke another device")).pipe(
            Effect.zipRight(devices.revoke(id)),
            Effect.map((device) => ({ revoked: device }))
          )
        )
      )
  }
]

/** The devices, their routes added to the transport's. */
export const layer: Layer.Layer<Devices, never, ServerConfig | ListeningUrl | Routes> = Layer.scoped(
  Devices,
  Effect.gen(function* () {
    const devices = yield* make
    const extra = yield* Routes
    extra.add(routes(devices))
    return devices
  })
)
