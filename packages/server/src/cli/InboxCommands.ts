/**
 * `orbitdock inbox`: what needs the person across the fleet, longest waiting first (`--watch`
 * follows it live), and what a person does with it: `seen`, `snooze`, `wake`, and `approve` (or
 * `--deny`) several pending approvals in one command.
 */
import { Args, Command, Options } from "@effect/cli"
import { type InboxItem, InboxResponse, type RequestResult } from "@orbitdock/domain"
import { Inbox } from "@orbitdock/projections"
import { Console, Effect, Schema } from "effect"
import * as Format from "./Format.js"
import { CliError, connect, type Connection, type Endpoint, getJson } from "./ServerClient.js"
import { clientOptions, endpointOf } from "./Shared.js"

const json = Options.boolean("json").pipe(Options.withDescription("Print JSON instead of text"))

const fetchInbox = (endpoint: Endpoint, snoozed: boolean) =>
  getJson(endpoint, `/api/inbox${snoozed ? "?snoozed=true" : ""}`).pipe(
    Effect.flatMap((u) => Schema.decodeUnknown(InboxResponse)(u)),
    Effect.mapError((e) => (e instanceof CliError ? e : new CliError({ message: `unexpected inbox answer: ${e.message}` }))),
    Effect.map((answer) => answer.items)
  )

/** Runs `use` on a WebSocket connection, closed afterwards whatever happens. */
const withConnection = <A>(endpoint: Endpoint, use: (connection: Connection) => Effect.Effect<A, CliError>) =>
  Effect.acquireUseRelease(connect(endpoint), use, (connection) => Effect.sync(connection.close))

const watchInbox = (endpoint: Endpoint, asJson: boolean) =>
  withConnection(endpoint, (connection) =>
    Effect.gen(function* () {
      let inbox: Inbox.InboxMirror = new Map()
      const tty = process.stdout.isTTY === true
      const render = () => {
        const table = Format.inboxTable(Inbox.ordered(inbox), Date.now())
        process.stdout.write(tty ? `\x1b[2J\x1b[H${table}\n` : `${table}\n\n`)
      }
      connection.onMessage((message) => {
        if (message.type !== "inbox" && message.type !== "inbox_changed") return
        inbox = Inbox.applyInboxMessage(inbox, message)
        if (asJson) process.stdout.write(`${JSON.stringify(message)}\n`)
        else render()
      })
      yield* connection.request({ type: "subscribe_inbox" })
      // The waiting times grow while nothing changes.
      const timer = tty && !asJson ? setInterval(render, 15_000) : undefined
      yield* connection.closed.pipe(Effect.ensuring(Effect.sync(() => clearInterval(timer))))
      return yield* Effect.fail(new CliError({ message: "the server closed the connection" }))
    })
  )

const sessionIds = Args.text({ name: "session_id" }).pipe(Args.repeated, Args.withDescription("Sessions (as the inbox lists them)"))

const markEach = (endpoint: Endpoint, ids: ReadonlyArray<string>, mark: Record<string, unknown>, done: string) =>
  withConnection(endpoint, (connection) =>
    Effect.forEach(
      ids,
      (sessionId) =>
        connection.request({ type: "mark_attention", session_id: sessionId, ...mark }).pipe(
          Effect.zipRight(Console.log(`${sessionId}: ${done}`))
        ),
      { discard: true }
    )
  )

const seen = Command.make("seen", { ...clientOptions, sessionIds }, (flags) =>
  Effect.gen(function* () {
    if (flags.sessionIds.length === 0) return yield* Effect.fail(new CliError({ message: "name at least one session" }))
    yield* markEach(yield* endpointOf(flags), flags.sessionIds, { seen: true }, "seen")
  })
).pipe(Command.withDescription("Mark sessions' attention seen, on every device"))

/** `90s`, `30m`, `2h`, `1d`, or an ISO time: when the snooze ends. */
export const snoozeEnd = (spec: string, now: number): string | null => {
  const m = /^(\d+)\s*(s|m|h|d)$/.exec(spec.trim())
  if (m !== null) {
    const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "s" | "m" | "h" | "d"]
    return new Date(now + Number(m[1]) * unit).toISOString()
  }
  const at = Date.parse(spec)
  return Number.isNaN(at) ? null : new Date(at).toISOString()
}

const snooze = Command.make(
  "snooze",
  {
    ...clientOptions,
    sessionId: Args.text({ name: "session_id" }).pipe(Args.withDescription("The session (as the inbox lists it)")),
    until: Args.text({ name: "for" }).pipe(Args.withDescription("How long (90s, 30m, 2h, 1d) or until when (an ISO time)"))
  },
  (flags) =>
    Effect.gen(function* () {
      const until = snoozeEnd(flags.until, Date.now())
      if (until === null) return yield* Effect.fail(new CliError({ message: `not a duration or a time: ${flags.until}` }))
      yield* markEach(yield* endpointOf(flags), [flags.sessionId], { snoozed_until: until }, `snoozed until ${until}`)
    })
).pipe(Command.withDescription("Hide a session's attention from the inbox (and its notifications) for a while"))

const wake = Command.make("wake", { ...clientOptions, sessionIds }, (flags) =>
  Effect.gen(function* () {
    if (flags.sessionIds.length === 0) return yield* Effect.fail(new CliError({ message: "name at least one session" }))
    yield* markEach(yield* endpointOf(flags), flags.sessionIds, { snoozed_until: null }, "awake")
  })
).pipe(Command.withDescription("End a snooze"))

const resultLine = (result: RequestResult, verb: string): string =>
  result.ok ? `${result.session_id} ${result.request_id}: ${verb}` : `${result.session_id} ${result.request_id}: ${result.code}: ${result.message}`

const approve = Command.make(
  "approve",
  {
    ...clientOptions,
    json,
    sessionIds,
    all: Options.boolean("all").pipe(Options.withDescription("Every approval in the inbox")),
    deny: Options.boolean("deny").pipe(Options.withDescription("Deny instead of approving"))
  },
  (flags) =>
    Effect.gen(function* () {
      const endpoint = yield* endpointOf(flags)
      if (flags.all === (flags.sessionIds.length > 0)) {
        return yield* Effect.fail(new CliError({ message: "name sessions, or give --all (not both)" }))
      }
      const items = yield* fetchInbox(endpoint, true)
      const approvals = items.filter(
        (item): item is InboxItem & { readonly request_id: NonNullable<InboxItem["request_id"]> } =>
          item.reason === "approval" && item.request_id !== undefined && (flags.all || flags.sessionIds.includes(item.session_id))
      )
      const missing = flags.sessionIds.filter((id) => !approvals.some((item) => item.session_id === id))
      if (missing.length > 0) {
        return yield* Effect.fail(new CliError({ message: `no pending approval in session(s) ${missing.join(", ")}` }))
      }
      if (approvals.length === 0) return yield* Console.log("no pending approvals")
      const ack = yield* withConnection(endpoint, (connection) =>
        connection.request({
          type: "approve_requests",
          approved: !flags.deny,
          requests: approvals.map((item) => ({ session_id: item.session_id, request_id: item.request_id }))
        })
      )
      const results = ack.type === "ack" ? (ack.results ?? []) : []
      if (flags.json) return yield* Console.log(JSON.stringify(results, null, 2))
      for (const result of results) yield* Console.log(resultLine(result, flags.deny ? "denied" : "approved"))
      if (results.some((result) => !result.ok)) {
        return yield* Effect.fail(new CliError({ message: "some requests were not resolved" }))
      }
    })
).pipe(Command.withDescription("Approve (or --deny) the pending approvals of several sessions at once"))

export const command = Command.make(
  "inbox",
  {
    ...clientOptions,
    json,
    watch: Options.boolean("watch").pipe(Options.withDescription("Follow the inbox live (Ctrl-C to stop)")),
    snoozed: Options.boolean("snoozed").pipe(Options.withDescription("Include snoozed entries"))
  },
  (flags) =>
    Effect.gen(function* () {
      const endpoint = yield* endpointOf(flags)
      if (flags.watch) return yield* watchInbox(endpoint, flags.json)
      const items = yield* fetchInbox(endpoint, flags.snoozed)
      yield* Console.log(flags.json ? JSON.stringify({ items }, null, 2) : Format.inboxTable(items, Date.now()))
    })
).pipe(
  Command.withDescription("What needs you across every session, longest waiting first"),
  Command.withSubcommands([seen, snooze, wake, approve])
)
