/**
 * Sending one notification to one channel, once: the request or program each kind needs and what
 * came of it. Retrying is the notifier's; this says whether trying again can help.
 */
import { Effect } from "effect"
import { execFile } from "node:child_process"
import * as crypto from "node:crypto"
import type { Channel } from "./Channels.js"
import { headline, type Notification } from "./Notification.js"
import * as WebPush from "./WebPush.js"

export type Outcome =
  | { readonly _tag: "Sent"; readonly detail: string }
  /**
   * `retry`: a later attempt may succeed (a 5xx, a timeout, a refused connection); `gone`: the
   * channel will never work again (a browser that unsubscribed).
   */
  | { readonly _tag: "Failed"; readonly detail: string; readonly retry: boolean; readonly gone?: boolean }

const SEND_TIMEOUT_MS = 10_000

/** The webhook's JSON body: the attention and a link to the session. */
export const webhookBody = (n: Notification, link: string) =>
  JSON.stringify({
    event: "attention",
    session_id: n.session_id,
    reason: n.reason,
    since: n.since,
    summary: n.summary,
    url: link,
    ...(n.request_id === undefined ? {} : { request_id: n.request_id }),
    ...(n.title === undefined ? {} : { title: n.title }),
    provider: n.provider,
    cwd: n.cwd
  })

/** `sha256=<hex HMAC-SHA256 of the body>`, the value of `X-OrbitDock-Signature`. */
export const signature = (secret: string, body: string): string =>
  `sha256=${crypto.createHmac("sha256", secret).update(body).digest("hex")}`

const urgent = (n: Notification) => n.reason === "approval" || n.reason === "question" || n.reason === "error"

const tags: Record<Notification["reason"], string> = {
  approval: "raised_hand",
  question: "question",
  turn_finished: "white_check_mark",
  error: "x",
  stalled: "hourglass"
}

// Header values must be Latin-1 without line breaks.
const headerSafe = (text: string): string => text.replace(/[\r\n]+/g, " ").replace(/[^\x20-\x7e\xa0-\xff]/g, "?")

const post = (url: string, headers: Record<string, string>, body: string): Effect.Effect<Outcome> =>
  Effect.tryPromise({
    try: (signal) =>
      fetch(url, {
        method: "POST",
        headers: { "user-agent": "OrbitDock", ...headers },
        body,
        signal: AbortSignal.any([signal, AbortSignal.timeout(SEND_TIMEOUT_MS)]),
        redirect: "manual"
      }).then(async (response): Promise<Outcome> => {
        await response.arrayBuffer().catch(() => undefined)
        const detail = `HTTP ${response.status}`
        if (response.ok) return { _tag: "Sent", detail }
        const retry = response.status >= 500 || response.status === 408 || response.status === 429
        return { _tag: "Failed", detail, retry }
      }),
    catch: (error) => error
  }).pipe(
    Effect.catchAll((error) => {
      const cause = error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : String(error)
      return Effect.succeed<Outcome>({ _tag: "Failed", detail: cause.slice(0, 200), retry: true })
    })
  )

const run = (file: string, args: ReadonlyArray<string>): Effect.Effect<Outcome> =>
  Effect.async<Outcome>((resume) => {
    const child = execFile(file, args, { timeout: SEND_TIMEOUT_MS }, (error, _stdout, stderr) => {
      if (error === null) return resume(Effect.succeed({ _tag: "Sent", detail: `${file} ok` }))
      const code = (error as NodeJS.ErrnoException).code
      if (code === "ENOENT") return resume(Effect.succeed({ _tag: "Failed", detail: `${file} is not installed (not on PATH)`, retry: false }))
      resume(Effect.succeed({ _tag: "Failed", detail: `${file}: ${(stderr || error.message).trim().slice(0, 200)}`, retry: true }))
    })
    return Effect.sync(() => child.kill())
  })

// AppleScript string literal.
const appleString = (text: string): string => `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`

/** Sends `n` to `channel`; never fails (a failure is an `Outcome`). `push`: what Web Push needs. */
export const send = (channel: Channel, n: Notification, link: string, push: WebPush.PushContext): Effect.Effect<Outcome> => {
  switch (channel.kind) {
    case "webpush":
      return WebPush.send(push, channel.subscription!, WebPush.payloadOf(n, link, push.keys.ticketKey, Date.now()), urgent(n))
    case "webhook": {
      const body = webhookBody(n, link)
      const headers: Record<string, string> = { "content-type": "application/json" }
      if (channel.secret !== undefined) headers["x-orbitdock-signature"] = signature(channel.secret, body)
      return post(channel.url!, headers, body)
    }
    case "ntfy":
      return post(
        channel.url!,
        {
          "content-type": "text/plain; charset=utf-8",
          title: headerSafe(headline(n)),
          tags: tags[n.reason],
          priority: urgent(n) ? "high" : "default",
          click: link,
          ...(channel.secret === undefined ? {} : { authorization: `Bearer ${channel.secret}` })
        },
        n.summary
      )
    case "slack":
      return post(
        channel.url!,
        { "content-type": "application/json" },
        JSON.stringify({ text: `*${headline(n)}*\n${n.summary}\n<${link}|Open in OrbitDock>` })
      )
    case "desktop":
      if (process.platform === "darwin") {
        return run("osascript", [
          "-e",
          `display notification ${appleString(n.summary)} with title "OrbitDock" subtitle ${appleString(headline(n))}`
        ])
      }
      return run("notify-send", [
        "--app-name=OrbitDock",
        `--urgency=${urgent(n) ? "critical" : "normal"}`,
        headline(n),
        n.summary
      ])
  }
}
