/**
 * Web Push: the server's VAPID key pair (made at first start, kept in `<data-dir>/push.json`, 0600),
 * sending an encrypted notification to a browser's push subscription (the `web-push` library: the
 * RFC 8291 encryption and VAPID signatures are easy to get subtly wrong by hand), and the tickets
 * that let a notification's Approve/Deny buttons answer without the server's token.
 *
 * A ticket is one decision on one request, signed with a key of its own and valid for a while: a
 * service worker holds no token, and a notification that leaked would allow only what it shows.
 */
import { Effect, Either, Schema } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import type * as https from "node:https"
import * as path from "node:path"
import webpush from "web-push"
import { headline, type Notification } from "./Notification.js"

const Keys = Schema.Struct({ public_key: Schema.String, private_key: Schema.String, ticket_key: Schema.String })
type Keys = typeof Keys.Type

export interface PushKeys {
  /** The VAPID public key, base64url (a page's `applicationServerKey`). */
  readonly publicKey: string
  readonly privateKey: string
  readonly ticketKey: Buffer
}

/** Who runs this server, as VAPID asks (push services may write to it about abuse). */
export const VAPID_SUBJECT = "mailto:orbitdock@localhost"

/** How long a notification's buttons work. */
export const TICKET_MS = 24 * 3_600_000

const decodeKeys = Schema.decodeUnknownEither(Schema.parseJson(Keys))

/** The key pair of `<data-dir>/push.json`, made (and written 0600) when there is none. */
export const loadKeys = (dataDir: string): Effect.Effect<PushKeys, Error> =>
  Effect.try({
    try: () => {
      const file = path.join(dataDir, "push.json")
      let keys: Keys | undefined
      if (fs.existsSync(file)) {
        const decoded = decodeKeys(fs.readFileSync(file, "utf8"))
        if (Either.isRight(decoded)) keys = decoded.right
        else fs.renameSync(file, `${file}.unreadable-${Date.now()}`)
      }
      if (keys === undefined) {
        const vapid = webpush.generateVAPIDKeys()
        keys = { public_key: vapid.publicKey, private_key: vapid.privateKey, ticket_key: crypto.randomBytes(32).toString("base64url") }
        // `wx`: a second server starting at once keeps the first one's keys.
        try {
          fs.writeFileSync(file, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600, flag: "wx" })
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
          return Effect.runSync(loadKeys(dataDir))
        }
      }
      fs.chmodSync(file, 0o600)
      return { publicKey: keys.public_key, privateKey: keys.private_key, ticketKey: Buffer.from(keys.ticket_key, "base64url") }
    },
    catch: (cause) => (cause instanceof Error ? cause : new Error(String(cause)))
  })

export const Subscription = Schema.Struct({
  endpoint: Schema.String,
  keys: Schema.Struct({ p256dh: Schema.String, auth: Schema.String })
})
export type Subscription = typeof Subscription.Type

/** One decision a notification's button may take. */
export interface Ticket {
  readonly session_id: string
  readonly request_id: string
  readonly approved: boolean
  /** ms since epoch. */
  readonly expires: number
}

const sign = (key: Buffer, body: string) => crypto.createHmac("sha256", key).update(body).digest("base64url")

export const ticketFor = (key: Buffer, ticket: Ticket): string => {
  const body = Buffer.from(JSON.stringify(ticket)).toString("base64url")
  return `${body}.${sign(key, body)}`
}

/** The ticket's decision, or why it cannot be used. */
export const readTicket = (key: Buffer, text: string, now: number): Either.Either<Ticket, string> => {
  const [body, signature, ...rest] = text.split(".")
  if (body === undefined || signature === undefined || rest.length > 0) return Either.left("not a ticket")
  const expected = Buffer.from(sign(key, body))
  const given = Buffer.from(signature)
  if (expected.length !== given.length || !crypto.timingSafeEqual(expected, given)) return Either.left("not a ticket of this server")
  let ticket: Ticket
  try {
    ticket = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as Ticket
  } catch {
    return Either.left("not a ticket")
  }
  if (typeof ticket.expires !== "number" || ticket.expires < now) return Either.left("the notification's buttons have expired")
  return Either.right(ticket)
}

/**
 * What the service worker shows: title, body, the page's link, and for an approval its two
 * buttons' tickets.
 */
export const payloadOf = (n: Notification, link: string, key: Buffer, now: number): string =>
  JSON.stringify({
    title: headline(n),
    body: n.summary,
    tag: `orbitdock:${n.session_id}`,
    url: link,
    session_id: n.session_id,
    reason: n.reason,
    ...(n.reason === "approval" && n.request_id !== undefined
      ? {
          actions: [
            { action: "approve", title: "Approve", ticket: ticketFor(key, { session_id: n.session_id, request_id: n.request_id, approved: true, expires: now + TICKET_MS }) },
            { action: "deny", title: "Deny", ticket: ticketFor(key, { session_id: n.session_id, request_id: n.request_id, approved: false, expires: now + TICKET_MS }) }
          ]
        }
      : {})
  })

export type PushOutcome =
  | { readonly _tag: "Sent"; readonly detail: string }
  | { readonly _tag: "Failed"; readonly detail: string; readonly retry: boolean; readonly gone: boolean }

/** What sending needs: the keys, and the HTTPS agent (a test's own CA; default: Node's). */
export interface PushContext {
  readonly keys: PushKeys
  readonly agent?: https.Agent
}

/** Sends one encrypted message to a subscription; never fails (a failure is an outcome). */
export const send = (push: PushContext, subscription: Subscription, payload: string, urgent: boolean): Effect.Effect<PushOutcome> =>
  Effect.tryPromise(() =>
    webpush.sendNotification(subscription, payload, {
      vapidDetails: { subject: VAPID_SUBJECT, publicKey: push.keys.publicKey, privateKey: push.keys.privateKey },
      TTL: 3600,
      urgency: urgent ? "high" : "normal",
      timeout: 10_000,
      ...(push.agent === undefined ? {} : { agent: push.agent })
    })
  ).pipe(
    Effect.map((result): PushOutcome => ({ _tag: "Sent", detail: `push service: ${result.statusCode}` })),
    Effect.catchAll((failure) => {
      const error = (failure as { error?: unknown }).error ?? failure
      const status = (error as { statusCode?: number }).statusCode
      if (status === undefined) {
        return Effect.succeed<PushOutcome>({ _tag: "Failed", detail: String((error as Error).message ?? error).slice(0, 200), retry: true, gone: false })
      }
      // 404/410: the browser unsubscribed (or the subscription expired): it will never work again.
      const gone = status === 404 || status === 410
      const retry = status >= 500 || status === 429
      return Effect.succeed<PushOutcome>({ _tag: "Failed", detail: `push service: ${status}`, retry, gone })
    })
  )
