/**
 * The notifier: sends each notification (an attention that started, queued in the log's outbox with
 * its events) to every channel that takes it, at least once, once it is durable. Each attempt asks
 * `Policy` first (answered, seen, snoozed, shown on a client, a burst, quiet hours: skipped), and
 * what became of it is recorded in the log (`notification_deliveries`). At start it picks up what
 * the outbox holds that no channel finished, so a restart neither loses nor repeats a delivery.
 * Owns the channel settings (`Channels.ts`) and their HTTP routes.
 */
import { conflict, httpStatus, invalid, notFound, ProtocolError, type SessionId } from "@orbitdock/domain"
import { Context, Duration, Effect, Either, FiberSet, Layer, Option, Queue, Ref, Schema } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import type * as https from "node:https"
import * as os from "node:os"
import * as path from "node:path"
import { ServerConfig } from "../Config.js"
import type { ConnectorRoute, RouteResponse } from "../connectors/Connector.js"
import { EventLog, type EventLogError } from "../eventlog/EventLog.js"
import { ListeningUrl } from "../http/ListeningUrl.js"
import { respond, withBody } from "../http/RouteAnswers.js"
import { Routes } from "../http/Routes.js"
import { Sessions } from "../Sessions.js"
import * as Channels from "./Channels.js"
import * as Notification from "./Notification.js"
import * as Policy from "./Policy.js"
import * as Senders from "./Senders.js"
import * as WebPush from "./WebPush.js"

/** A notification an actor queued, and when its step is durable. */
export interface Queued {
  readonly notification: Notification.Notification
  readonly committed: Effect.Effect<void, EventLogError>
}

/** Between the session actors (producers) and the notifier (built after them). */
export class NotifyQueue extends Context.Tag("@orbitdock/server/NotifyQueue")<NotifyQueue, Queue.Queue<Queued>>() {}

export const queueLayer: Layer.Layer<NotifyQueue> = Layer.effect(NotifyQueue, Queue.unbounded<Queued>())

export interface NotifierOptions {
  /** Waits between attempts; one attempt more than there are waits. */
  readonly retryDelaysMs?: ReadonlyArray<number>
  /** The HTTPS agent Web Push uses (tests: one that trusts their local push service's certificate). */
  readonly pushAgent?: https.Agent
}

/** 1 s, 5 s, 30 s, 2 min, 10 min: a receiver that is down for a deploy still gets it. */
export const DEFAULT_RETRY_DELAYS_MS: ReadonlyArray<number> = [1_000, 5_000, 30_000, 120_000, 600_000]
/** At start, notifications queued longer ago than this are left alone (the inbox still has them). */
export const RESUME_WINDOW_MS = 24 * 3_600_000

export interface NotifierShape {
  readonly settings: Effect.Effect<{ readonly channels: ReadonlyArray<Channels.ChannelView>; readonly quiet_hours?: Channels.QuietHours }>
  readonly addChannel: (input: unknown) => Effect.Effect<Channels.ChannelView, ProtocolError>
  readonly removeChannel: (id: string) => Effect.Effect<void, ProtocolError>
  /** Sends a sample notification to one channel now, whatever the rules say. */
  readonly test: (id: string) => Effect.Effect<Senders.Outcome, ProtocolError>
  readonly setQuietHours: (quiet: Channels.QuietHours | null) => Effect.Effect<void, ProtocolError>
}

export class Notifier extends Context.Tag("@orbitdock/server/Notifier")<Notifier, NotifierShape>() {}

const IdBody = Schema.Struct({ id: Schema.String })
const ActBody = Schema.Struct({ ticket: Schema.String.pipe(Schema.maxLength(2048)) })
const QuietBody = Schema.Union(Channels.QuietHours, Schema.Struct({ off: Schema.Literal(true) }))

export const make = (options: NotifierOptions = {}) =>
  Effect.gen(function* () {
    const config = yield* ServerConfig
    const log = yield* EventLog
    const sessions = yield* Sessions
    const queue = yield* NotifyQueue
    const clock = yield* Effect.clock
    const retryDelays = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS
    const file = Channels.fileOf(config.dataDir)
    const settings = yield* Ref.make(yield* Channels.load(file))
    const run = yield* FiberSet.makeRuntime<never, void, never>()
    const pushKeys: WebPush.PushKeys = yield* WebPush.loadKeys(config.dataDir).pipe(
      Effect.catchAll((error) =>
        Effect.logError("the Web Push keys could not be kept in the data dir; browsers subscribed now stop receiving after a restart", error).pipe(
          Effect.zipRight(WebPush.loadKeys(fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-push-")))),
          Effect.orDie
        )
      )
    )
    const push: WebPush.PushContext = { keys: pushKeys, ...(options.pushAgent === undefined ? {} : { agent: options.pushAgent }) }

    const nowIso = () => new Date(clock.unsafeCurrentTimeMillis()).toISOString()
    // The page's address once the transport listens (it is built after this service).
    const listening = Option.getOrUndefined(yield* Effect.serviceOption(ListeningUrl))
    const link = (sessionId: SessionId) =>
      `${listening?.get() ?? `http://127.0.0.1:${config.port}`}/?session=${encodeURIComponent(sessionId)}`

    /** Last notification sent per session, reason and channel (the burst rule). */
    const lastSent = new Map<string, number>()
    /** Deliveries under way in this process (a notification the start-up scan and an actor both hand over). */
    const underway = new Set<string>()

    const change = (update: (s: Channels.Settings) => Channels.Settings) =>
      Effect.gen(function* () {
        const next = update(yield* Ref.get(settings))
        yield* Channels.save(file, next).pipe(
          Effect.mapError((error) => new ProtocolError({ code: "internal", message: `saving the notification settings failed: ${error.message}` }))
        )
        yield* Ref.set(settings, next)
      })

    const record = (n: Notification.Notification, channelId: string, status: string, attempts: number, detail: string) =>
      Effect.flatten(log.append({ events: [], deliveries: [[n.id, channelId, status, attempts, nowIso(), detail.slice(0, 500)]] })).pipe(
        Effect.catchAll((error) => Effect.logError(`recording the delivery of ${n.id} to ${channelId} failed`, error))
      )

    const deliver = (n: Notification.Notification, channel: Channels.Channel): Effect.Effect<void> =>
      Effect.suspend(() => {
        const key = `${n.id}\u0000${channel.id}`
        if (underway.has(key)) return Effect.void
        underway.add(key)
        return attempts(n, channel).pipe(Effect.ensuring(Effect.sync(() => underway.delete(key))))
      })

    const attempts = (n: Notification.Notification, channel: Channels.Channel): Effect.Effect<void> =>
      Effect.gen(function* () {
        const burstKey = `${n.session_id}\u0000${n.reason}\u0000${channel.id}`
        for (let attempt = 1; ; attempt++) {
          const { quiet_hours } = yield* Ref.get(settings)
          const verdict = Policy.decide(n, channel, {
            current: sessions.summary(n.session_id)?.attention_detail,
            viewed: sessions.isViewed(n.session_id),
            lastSentAt: lastSent.get(burstKey),
            now: new Date(clock.unsafeCurrentTimeMillis()),
            quietHours: quiet_hours
          })
          if (verdict._tag === "NotForChannel") return
          if (verdict._tag === "Skip") return yield* record(n, channel.id, "skipped", attempt - 1, verdict.why)
          // A channel removed meanwhile gets no more attempts.
          if (!(yield* Ref.get(settings)).channels.some((c) => c.id === channel.id)) return
          const outcome = yield* Senders.send(channel, n, link(n.session_id), push)
          if (outcome._tag === "Sent") {
            lastSent.set(burstKey, clock.unsafeCurrentTimeMillis())
            return yield* record(n, channel.id, "sent", attempt, outcome.detail)
          }
          if (outcome.gone === true) {
            // A browser that unsubscribed (or a phone reset): the channel is dropped, not retried forever.
            yield* Effect.logInfo(`channel ${channel.id} is gone (${outcome.detail}); removed`)
            yield* change((s) => ({ ...s, channels: s.channels.filter((c) => c.id !== channel.id) })).pipe(Effect.ignore)
            return yield* record(n, channel.id, "failed", attempt, `${outcome.detail}: the subscription is gone; channel removed`)
          }
          const delay = retryDelays[attempt - 1]
          if (!outcome.retry || delay === undefined) {
            yield* Effect.logWarning(`notification ${n.id} to channel ${channel.id} failed: ${outcome.detail}`)
            return yield* record(n, channel.id, "failed", attempt, outcome.detail)
          }
          yield* record(n, channel.id, "retrying", attempt, outcome.detail)
          yield* Effect.sleep(Duration.millis(delay))
        }
      })

    const deliverAll = (n: Notification.Notification, done: ReadonlySet<string> = new Set()) =>
      Effect.flatMap(Ref.get(settings), ({ channels }) =>
        Effect.forEach(
          channels.filter((channel) => !done.has(channel.id)),
          (channel) => deliver(n, channel),
          { concurrency: "unbounded", discard: true }
        )
      )

    // What actors queue: sent once durable (a notification for events that never commit is not sent).
    yield* Queue.take(queue).pipe(
      Effect.flatMap(({ notification, committed }) =>
        Effect.sync(() =>
          run(
            committed.pipe(
              Effect.zipRight(deliverAll(notification)),
              Effect.catchAll((error) => Effect.logError(`notification ${notification.id} not sent: its events did not commit`, error))
            )
          )
        )
      ),
      Effect.forever,
      Effect.interruptible,
      Effect.forkScoped
    )

    // What the outbox holds that no channel finished: the previous process stopped before.
    const finished = new Set(["sent", "failed", "skipped"])
    const resume = Effect.gen(function* () {
      const since = new Date(clock.unsafeCurrentTimeMillis() - RESUME_WINDOW_MS).toISOString()
      const entries = yield* log.outbox(since)
      for (const entry of entries) {
        const n = Notification.fromPayload(entry.payload)
        if (n === null) continue
        const done = new Set([...entry.deliveries.values()].filter((d) => finished.has(d.status)).map((d) => d.channelId))
        run(deliverAll(n, done))
      }
    }).pipe(Effect.catchAll((error) => Effect.logError("reading the notification outbox failed; earlier notifications are not resumed", error)))
    yield* resume

    const notifier: NotifierShape = {
      settings: Effect.map(Ref.get(settings), (s) => ({
        channels: s.channels.map(Channels.view),
        ...(s.quiet_hours === undefined ? {} : { quiet_hours: s.quiet_hours })
      })),
      addChannel: (input) =>
        Effect.gen(function* () {
          const channel = Channels.channelFrom(input, `ch_${crypto.randomBytes(6).toString("hex")}`, nowIso())
          if (Either.isLeft(channel)) return yield* Effect.fail(channel.left)
          const added = channel.right
          // The same browser subscribing again replaces its channel.
          const endpoint = added.subscription?.endpoint
          yield* change((s) => ({
            ...s,
            channels: [...s.channels.filter((c) => endpoint === undefined || c.subscription?.endpoint !== endpoint), added]
          }))
          return Channels.view(added)
        }),
      removeChannel: (id) =>
        Effect.gen(function* () {
          if (!(yield* Ref.get(settings)).channels.some((c) => c.id === id)) return yield* Effect.fail(notFound(`no channel ${id}`))
          yield* change((s) => ({ ...s, channels: s.channels.filter((c) => c.id !== id) }))
        }),
      test: (id) =>
        Effect.gen(function* () {
          const channel = (yield* Ref.get(settings)).channels.find((c) => c.id === id)
          if (channel === undefined) return yield* Effect.fail(notFound(`no channel ${id}`))
          const sample: Notification.Notification = {
            id: `test:${nowIso()}`,
            session_id: "ses_test" as SessionId,
            revision: 0,
            reason: "turn_finished",
            since: nowIso(),
            summary: "This is a test notification from OrbitDock.",
            title: "OrbitDock",
            cwd: config.dataDir,
            provider: "sim"
          }
          return yield* Senders.send(channel, sample, link(sample.session_id), push)
        }),
      setQuietHours: (quiet) =>
        change(({ quiet_hours: _q, ...rest }) => (quiet === null ? rest : { ...rest, quiet_hours: quiet }))
    }

    const routes: ReadonlyArray<ConnectorRoute> = [
      { method: "GET", path: "/api/notify", handle: () => respond(notifier.settings) },
      { method: "POST", path: "/api/notify/channels", handle: ({ body }) => respond(notifier.addChannel(body), 201) },
      {
        method: "POST",
        path: "/api/notify/channels/remove",
        handle: ({ body }) => respond(withBody(IdBody, body, ({ id }) => notifier.removeChannel(id)))
      },
      {
        method: "POST",
        path: "/api/notify/test",
        handle: ({ body }) =>
          respond(
            withBody(IdBody, body, ({ id }) =>
              Effect.flatMap(notifier.test(id), (outcome) =>
                outcome._tag === "Sent" ? Effect.succeed({ sent: true, detail: outcome.detail }) : Effect.fail(conflict(`not sent: ${outcome.detail}`))
              )
            )
          )
      },
      {
        method: "POST",
        path: "/api/notify/quiet",
        handle: ({ body }) => respond(withBody(QuietBody, body, (quiet) => notifier.setQuietHours("off" in quiet ? null : quiet)))
      },
      { method: "GET", path: "/api/notify/push/key", handle: () => respond(Effect.succeed({ public_key: pushKeys.publicKey })) },
      {
        // A notification's Approve/Deny button: its ticket is the credential (a service worker holds no token).
        method: "POST",
        path: "/api/notify/act",
        tokenFree: true,
        handle: ({ body }) =>
          respond(
            withBody(ActBody, body, ({ ticket }) => {
              const read = WebPush.readTicket(pushKeys.ticketKey, ticket, clock.unsafeCurrentTimeMillis())
              if (Either.isLeft(read)) return Effect.fail(new ProtocolError({ code: "unauthorized", message: read.left }))
              const { session_id, request_id, approved } = read.right
              return sessions
                .execute({ type: "approve_tool", session_id: session_id as SessionId, request_id: request_id as never, approved })
                .pipe(Effect.as({ session_id, request_id, approved }))
            })
          )
      },
      {
        method: "GET",
        path: "/api/notify/deliveries",
        handle: () =>
          respond(
            log.deliveries(100).pipe(
              Effect.map((deliveries) => ({
                deliveries: deliveries.map((d) => ({
                  notification_id: d.notificationId,
                  channel_id: d.channelId,
                  status: d.status,
                  attempts: d.attempts,
                  updated_at: d.updatedAt,
                  detail: d.detail
                }))
              })),
              Effect.mapError(() => new ProtocolError({ code: "internal", message: "reading the deliveries failed (the server log has the cause)" }))
            )
          )
      }
    ]
    const extra = yield* Effect.serviceOption(Routes)
    if (extra._tag === "Some") extra.value.add(routes)
    return notifier
  })

export const layer = (options: NotifierOptions = {}) => Layer.scoped(Notifier, make(options))
