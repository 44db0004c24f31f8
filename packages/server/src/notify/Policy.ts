/**
 * Whether a notification still deserves to go out on a channel, asked before every attempt: the
 * person may have answered, seen or snoozed it meanwhile, or be looking at the session already.
 * Pure, so each rule is specified on its own.
 */
import type { AttentionDetail } from "@orbitdock/domain"
import { type Channel, type QuietHours, takes } from "./Channels.js"
import type { Notification } from "./Notification.js"

/** At most one notification per session, reason and channel in this long (a burst of turns). */
export const BURST_MS = 60_000

export type Verdict =
  | { readonly _tag: "Send" }
  /** Recorded as `skipped` with the reason, not tried again. */
  | { readonly _tag: "Skip"; readonly why: string }
  /** Not this channel's business (its reasons): nothing is recorded. */
  | { readonly _tag: "NotForChannel" }

export interface Context {
  /** The session's attention now (undefined: the session is unknown). */
  readonly current: AttentionDetail | null | undefined
  /** Some client shows the session to its person right now. */
  readonly viewed: boolean
  /** When a notification of this session and reason last went out on this channel (ms). */
  readonly lastSentAt: number | undefined
  readonly now: Date
  readonly quietHours: QuietHours | undefined
}

const minutes = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5))

/** Whether `now` (local time) falls in the quiet hours, which may wrap past midnight. */
export const isQuiet = (quiet: QuietHours, now: Date): boolean => {
  const at = now.getHours() * 60 + now.getMinutes()
  const from = minutes(quiet.from)
  const to = minutes(quiet.to)
  if (from === to) return false
  return from < to ? at >= from && at < to : at >= from || at < to
}

const send: Verdict = { _tag: "Send" }
const notForChannel: Verdict = { _tag: "NotForChannel" }
const skip = (why: string): Verdict => ({ _tag: "Skip", why })

export const decide = (n: Notification, channel: Channel, context: Context): Verdict => {
  if (!takes(channel, n.reason)) return notForChannel
  const current = context.current
  if (current === undefined || current === null || current.since !== n.since || current.reason !== n.reason) {
    return skip("no longer needed: the session moved on")
  }
  if (current.seen) return skip("seen")
  if (current.snoozed_until !== undefined && current.snoozed_until > context.now.toISOString()) return skip("snoozed")
  if (context.viewed) return skip("the session is open on a client")
  if (context.lastSentAt !== undefined && context.now.getTime() - context.lastSentAt < BURST_MS) {
    return skip("one of this session's notifications went out less than a minute ago")
  }
  if (context.quietHours !== undefined && isQuiet(context.quietHours, context.now)) return skip("quiet hours")
  return send
}
