/**
 * Where notifications go: the channels a person set up (a webhook, an ntfy topic, a Slack-style
 * incoming webhook, the desktop, a browser or phone through Web Push) and the quiet hours, kept in `<data-dir>/notify.json` (0600: it
 * holds webhook secrets). The schemas here are the one source for that file, the HTTP API and
 * the CLI.
 */
import { AttentionReason, invalid, type ProtocolError } from "@orbitdock/domain"
import { Effect, Either, Schema } from "effect"
import * as path from "node:path"
import * as JsonFile from "../internal/jsonFile.js"
import { Subscription } from "./WebPush.js"

export const ChannelKind = Schema.Literal("webhook", "ntfy", "slack", "desktop", "webpush")
export type ChannelKind = typeof ChannelKind.Type

const HourMinute = Schema.String.pipe(Schema.pattern(/^([01]\d|2[0-3]):[0-5]\d$/)).annotations({ description: "HH:MM, 24-hour" })

/** No notification from `from` to `to` (local time of the server; may wrap past midnight). */
export const QuietHours = Schema.Struct({ from: HourMinute, to: HourMinute })
export type QuietHours = typeof QuietHours.Type

export const Channel = Schema.Struct({
  id: Schema.String,
  kind: ChannelKind,
  /** webhook, ntfy, slack: where to POST. */
  url: Schema.optional(Schema.String),
  /** webhook: the HMAC key of `X-OrbitDock-Signature`; ntfy: an access token. */
  secret: Schema.optional(Schema.String),
  /** webpush: the browser's push subscription. */
  subscription: Schema.optional(Subscription),
  /** Only these reasons (default: all). */
  reasons: Schema.optional(Schema.Array(AttentionReason)),
  name: Schema.optional(Schema.String),
  created_at: Schema.String
})
export type Channel = typeof Channel.Type

/**
 * A channel as the API and CLI show it: its secret never leaves the server, nor does a push
 * subscription (its endpoint and keys are what lets anyone write to that browser): only its service.
 */
export type ChannelView = Omit<Channel, "secret" | "subscription"> & { readonly has_secret: boolean; readonly push_service?: string }

export const view = ({ secret, subscription, ...rest }: Channel): ChannelView => ({
  ...rest,
  has_secret: secret !== undefined,
  ...(subscription === undefined ? {} : { push_service: new URL(subscription.endpoint).host })
})

export const Settings = Schema.Struct({
  channels: Schema.Array(Channel),
  quiet_hours: Schema.optional(QuietHours)
})
export type Settings = typeof Settings.Type

/** What `POST /api/notify/channels` (and `orbitdock notify add`) takes. */
export const ChannelInput = Schema.Struct({
  kind: ChannelKind,
  url: Schema.optional(Schema.String),
  secret: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(1024))),
  subscription: Schema.optional(Subscription),
  reasons: Schema.optional(Schema.Array(AttentionReason).pipe(Schema.minItems(1))),
  name: Schema.optional(Schema.String.pipe(Schema.maxLength(200)))
})
export type ChannelInput = typeof ChannelInput.Type

const decodeInput = Schema.decodeUnknownEither(ChannelInput)

/** A new channel from untrusted input, or why not. */
export const channelFrom = (input: unknown, id: string, now: string): Either.Either<Channel, ProtocolError> => {
  const decoded = decodeInput(input)
  if (Either.isLeft(decoded)) return Either.left(invalid(`not a channel: ${decoded.left.message.slice(0, 300)}`))
  const { kind, url, secret, subscription, reasons, name } = decoded.right
  if (subscription !== undefined && kind !== "webpush") return Either.left(invalid(`a ${kind} channel has no subscription`))
  if (kind === "desktop") {
    if (url !== undefined || secret !== undefined) return Either.left(invalid("a desktop channel has no url or secret"))
  } else if (kind === "webpush") {
    if (subscription === undefined) return Either.left(invalid("a webpush channel needs the browser's push subscription"))
    if (url !== undefined || secret !== undefined) return Either.left(invalid("a webpush channel has no url or secret"))
    if (!isHttpUrl(subscription.endpoint)) return Either.left(invalid("the subscription's endpoint must be an http or https URL"))
  } else {
    if (url === undefined) return Either.left(invalid(`a ${kind} channel needs a url`))
    let parsed: URL
    try {
      parsed = new URL(url)
    } catch {
      return Either.left(invalid(`not a URL: ${url.slice(0, 200)}`))
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return Either.left(invalid("the url must be http or https"))
    if (kind === "slack" && secret !== undefined) return Either.left(invalid("a slack channel has no secret (its URL is the secret)"))
  }
  return Either.right({
    id,
    kind,
    ...(url === undefined ? {} : { url }),
    ...(secret === undefined ? {} : { secret }),
    ...(subscription === undefined ? {} : { subscription }),
    ...(reasons === undefined ? {} : { reasons }),
    ...(name === undefined ? {} : { name }),
    created_at: now
  })
}

const isHttpUrl = (text: string): boolean => {
  try {
    const url = new URL(text)
    return url.protocol === "http:" || url.protocol === "https:"
  } catch {
    return false
  }
}

/** Whether `channel` takes notifications of this reason. */
export const takes = (channel: Channel, reason: AttentionReason): boolean =>
  channel.reasons === undefined || channel.reasons.includes(reason)

export const empty: Settings = { channels: [] }

/** The settings file: read at start, written whole (a temporary file renamed over it) on each change. */
export const fileOf = (dataDir: string): string => path.join(dataDir, "notify.json")

export const load = (file: string): Effect.Effect<Settings> => JsonFile.load(file, Settings, empty, "notification channels")

export const save = (file: string, settings: Settings): Effect.Effect<void, Error> => JsonFile.save(file, Settings, settings)
