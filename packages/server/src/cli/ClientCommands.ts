/**
 * The CLI's client commands: `sessions`, `status`, `replay`, `tail`, `approve`. They talk to a
 * running server like any other client (HTTP and the JSON WebSocket protocol); `replay` folds the
 * session's events with the same projection code as the server.
 */
import { Args, Command, Options } from "@effect/cli"
import {
  EventsPage,
  Health,
  type SessionId,
  SessionState,
  SessionSummary,
  type StoredEvent
} from "@orbitdock/domain"
import { SessionProjection } from "@orbitdock/projections"
import { Console, Effect, Option, Schema } from "effect"
import * as Format from "./Format.js"
import { CliError, connect, type Endpoint, getJson } from "./ServerClient.js"
import { clientOptions, endpointOf } from "./Shared.js"

const decode =
  <A, I>(schema: Schema.Schema<A, I>, what: string) =>
  (u: unknown) =>
    Schema.decodeUnknown(schema)(u).pipe(Effect.mapError((e) => new CliError({ message: `unexpected ${what}: ${e.message}` })))

const json = Options.boolean("json").pipe(Options.withDescription("Print JSON instead of text"))

const sessionIdArg = Args.text({ name: "session_id" }).pipe(Args.withDescription("The session's id (as `sessions` lists it)"))

export const sessions = Command.make(
  "sessions",
  {
    ...clientOptions,
    json,
    status: Options.choice("status", ["starting", "working", "waiting", "ended"]).pipe(
      Options.optional,
      Options.withDescription("Only sessions in this status")
    ),
    provider: Options.choice("provider", ["claude", "codex", "sim"]).pipe(
      Options.optional,
      Options.withDescription("Only sessions of this agent")
    )
  },
  (flags) =>
    Effect.gen(function* () {
      const endpoint = yield* endpointOf(flags)
      const query = new URLSearchParams()
      if (Option.isSome(flags.status)) query.set("status", flags.status.value)
      if (Option.isSome(flags.provider)) query.set("provider", flags.provider.value)
      const list = yield* getJson(endpoint, `/api/sessions?${query}`).pipe(
        Effect.flatMap(decode(Schema.Array(SessionSummary), "session list"))
      )
      yield* Console.log(flags.json ? JSON.stringify(list, null, 2) : Format.sessionTable(list))
    })
).pipe(Command.withDescription("List sessions"))

export const status = Command.make("status", { ...clientOptions, json }, (flags) =>
  Effect.gen(function* () {
    const endpoint = yield* endpointOf(flags)
    const health = yield* getJson(endpoint, "/health").pipe(Effect.flatMap(decode(Health, "health answer")))
    const list = yield* getJson(endpoint, "/api/sessions").pipe(Effect.flatMap(decode(Schema.Array(SessionSummary), "session list")))
    const count = (predicate: (s: SessionSummary) => boolean) => list.filter(predicate).length
    const summary = {
      ...health,
      endpoint: endpoint.socketPath ?? endpoint.baseUrl,
      sessions: list.length,
      working: count((s) => s.status === "working"),
      waiting: count((s) => s.status === "waiting"),
      ended: count((s) => s.status === "ended"),
      needs_attention: count((s) => s.attention)
    }
    if (flags.json) return yield* Console.log(JSON.stringify(summary, null, 2))
    yield* Console.log(
      [
        `OrbitDock ${health.version} (protocol ${health.protocol}) at ${summary.endpoint}`,
        `server ${health.server_id}, up ${Math.round(health.uptime_s)} s`,
        `sessions: ${summary.sessions} (${summary.working} working, ${summary.waiting} waiting, ${summary.ended} ended); ${summary.needs_attention} need attention`,
        ...(health.status === "degraded" ? [`DEGRADED: ${health.reason ?? "unknown reason"}`] : [])
      ].join("\n")
    )
  })
).pipe(Command.withDescription("Show the server's health and a count of sessions"))

/** Every event of a session up to `to`, page by page. */
const fetchEvents = (endpoint: Endpoint, sessionId: string, to: number | null) =>
  Effect.gen(function* () {
    const events: Array<StoredEvent> = []
    let after = 0
    while (true) {
      const limit = to === null ? 10_000 : Math.min(10_000, to - after)
      if (limit <= 0) break
      const page = yield* getJson(
        endpoint,
        `/api/sessions/${encodeURIComponent(sessionId)}/events?after=${after}&limit=${limit}`
      ).pipe(Effect.flatMap(decode(EventsPage, "events page")))
      for (const e of page.events) {
        events.push({
          session_id: sessionId as SessionId,
          revision: e.revision,
          occurred_at: e.occurred_at,
          event: { type: e.type, ...(e.data as object) } as StoredEvent["event"]
        })
      }
      if (page.next_after === null) break
      after = page.next_after
    }
    return events
  })

export const replay = Command.make(
  "replay",
  {
    ...clientOptions,
    json,
    sessionId: sessionIdArg,
    to: Options.integer("to").pipe(Options.optional, Options.withDescription("Stop at this revision and print the state there"))
  },
  (flags) =>
    Effect.gen(function* () {
      const endpoint = yield* endpointOf(flags)
      const to = Option.getOrNull(flags.to)
      if (to !== null && to < 1) return yield* Effect.fail(new CliError({ message: "--to must be at least 1" }))
      const events = yield* fetchEvents(endpoint, flags.sessionId, to)
      if (to !== null && (events.at(-1)?.revision ?? 0) < to) {
        return yield* Effect.fail(
          new CliError({ message: `session ${flags.sessionId} has no revision ${to} (last: ${events.at(-1)?.revision ?? 0})` })
        )
      }
      let projection = SessionProjection.empty(flags.sessionId as SessionId)
      for (const e of events) {
        projection = SessionProjection.evolve(projection, e)[0]
        if (to !== null) continue
        if (flags.json) {
          const { type, ...data } = e.event
          yield* Console.log(
            JSON.stringify({ revision: e.revision, type, occurred_at: e.occurred_at, data, state: projection.state })
          )
        } else {
          const { type, ...data } = e.event
          yield* Console.log(Format.eventLine({ revision: e.revision, type, occurred_at: e.occurred_at, data }))
          yield* Console.log(`    → ${Format.stateLine(projection.state)}`)
        }
      }
      if (to !== null) {
        const state = Schema.encodeSync(SessionState)(projection.state)
        yield* Console.log(
          flags.json
            ? JSON.stringify(state, null, 2)
            : `state at revision ${to}: ${Format.stateLine(projection.state)}\n${projection.state.messages
                .map((m) => `  [${m.role}] ${m.content}`)
                .join("\n")}`
        )
      }
    })
).pipe(Command.withDescription("Print a session's events and the state after each, or the state at --to N"))

export const tail = Command.make("tail", { ...clientOptions, json, sessionId: sessionIdArg }, (flags) =>
  Effect.gen(function* () {
    const endpoint = yield* endpointOf(flags)
    const connection = yield* connect(endpoint)
    connection.onMessage((m) => {
      if (m.type === "hello") return
      const line = flags.json ? JSON.stringify(m) : Format.messageLine(m)
      if (line !== null) process.stdout.write(`${line}\n`)
      if (m.type === "session_ended" && !flags.json) connection.close()
    })
    yield* connection.request({ type: "subscribe_session", session_id: flags.sessionId })
    yield* connection.closed
  })
).pipe(Command.withDescription("Follow a session live (Ctrl-C to stop)"))

export const approve = Command.make(
  "approve",
  {
    ...clientOptions,
    sessionId: sessionIdArg,
    requestId: Args.text({ name: "request_id" }).pipe(
      Args.withDescription("The pending approval's id (`replay` and `tail` show it as approval=<id>)")
    ),
    deny: Options.boolean("deny").pipe(Options.withDescription("Deny instead of approving")),
    scope: Options.choice("scope", ["once", "session"]).pipe(
      Options.withDefault("once" as const),
      Options.withDescription("once: this call only; session: also similar calls for the rest of the session")
    )
  },
  (flags) =>
    Effect.gen(function* () {
      const endpoint = yield* endpointOf(flags)
      const connection = yield* connect(endpoint)
      yield* connection
        .request({
          type: "approve_tool",
          session_id: flags.sessionId,
          request_id: flags.requestId,
          approved: !flags.deny,
          scope: flags.scope
        })
        .pipe(Effect.ensuring(Effect.sync(connection.close)))
      yield* Console.log(`${flags.deny ? "denied" : "approved"} ${flags.requestId}`)
    })
).pipe(Command.withDescription("Approve (or --deny) a pending tool call"))
