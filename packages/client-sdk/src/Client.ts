/**
 * The Promise face of the client, for code that does not use Effect: `connect()` returns a client
 * whose commands are Promises (rejected with the same error classes as the Effect face) and whose
 * mirror is read synchronously and observed with listeners. A thin adapter over `OrbitClient`.
 */
import type {
  Ack,
  InboxItem,
  RequestResult,
  Rule,
  RuleInput,
  RulesDraft,
  ServerMessage,
  SessionId,
  SessionState,
  SessionSummary,
  SimulationReport
} from "@orbitdock/domain"
import { Inbox } from "@orbitdock/projections"
import { Cause, Effect, Exit, Scope } from "effect"
import type { ClientError } from "./Errors.js"
import type { Mirror } from "./Mirror.js"
import * as OrbitClient from "./OrbitClient.js"

export type Options = OrbitClient.Options
export type CallOptions = OrbitClient.CallOptions

/** Event names and what their listeners receive. */
export interface Events {
  /** The mirror after a change (a new immutable value each time). */
  readonly change: Mirror
  /** The server messages of one frame, in order. */
  readonly messages: ReadonlyArray<ServerMessage>
  /** Gaps, restarts, disconnects, dropped sessions, decode problems. */
  readonly notice: OrbitClient.Notice
}

export interface Client {
  /** The mirror now. */
  readonly mirror: Mirror
  /** A subscribed session's current state. */
  session(sessionId: string): SessionState | undefined
  /** The subscribed list, oldest first (empty until subscribed). */
  sessions(): ReadonlyArray<SessionSummary>
  /** The subscribed inbox, longest waiting first (empty until subscribed). */
  inbox(): ReadonlyArray<InboxItem>
  /** Calls `listener` with a session's state each time it changes; returns a function that removes it. */
  onSession(sessionId: string, listener: (state: SessionState | undefined) => void): () => void
  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(event: K, listener: (value: Events[K]) => void): () => void
  /** Resolves once the mirror satisfies `predicate`; rejects with `TimeoutError`. */
  waitFor(predicate: (mirror: Mirror) => boolean, timeoutMs?: number): Promise<Mirror>

  subscribeList(call?: CallOptions): Promise<ReadonlyArray<SessionSummary>>
  unsubscribeList(call?: CallOptions): Promise<void>
  subscribeSession(sessionId: string, call?: CallOptions): Promise<SessionState>
  unsubscribeSession(sessionId: string, call?: CallOptions): Promise<void>
  /** Subscribes the inbox; its entries, longest waiting first (the mirror's `inbox` keeps it live). */
  subscribeInbox(call?: CallOptions): Promise<ReadonlyArray<InboxItem>>
  unsubscribeInbox(call?: CallOptions): Promise<void>
  /** Marks a session's attention seen and/or snoozed (`snoozed_until: null` wakes it). */
  markAttention(
    sessionId: string,
    mark: { readonly seen?: boolean; readonly snoozed_until?: string | null; readonly since?: string },
    call?: CallOptions
  ): Promise<void>
  /** Approves or denies several pending approvals at once; how each went, in order. */
  approveRequests(
    requests: ReadonlyArray<{ readonly session_id: string; readonly request_id: string }>,
    approved: boolean,
    call?: CallOptions & { readonly scope?: "once" | "session" }
  ): Promise<ReadonlyArray<RequestResult>>
  /** The approval rules in force (or at a past time, ISO). */
  listRules(at?: string, call?: CallOptions): Promise<ReadonlyArray<Rule>>
  addRule(rule: RuleInput, call?: CallOptions): Promise<Rule>
  removeRule(ruleId: string, call?: CallOptions): Promise<Rule>
  /** Judges every past request by a draft (a whole set, or changes to the rules in force). */
  simulateRules(draft: RulesDraft, call?: CallOptions): Promise<SimulationReport>
  createSession(params: OrbitClient.CreateSessionParams, call?: CallOptions): Promise<SessionId>
  sendMessage(sessionId: string, content: string, call?: CallOptions): Promise<void>
  approveTool(
    sessionId: string,
    requestId: string,
    approved: boolean,
    call?: CallOptions & { readonly scope?: "once" | "session" }
  ): Promise<void>
  answerQuestion(sessionId: string, requestId: string, answer: string, call?: CallOptions): Promise<void>
  interruptSession(sessionId: string, call?: CallOptions): Promise<void>
  endSession(sessionId: string, call?: CallOptions): Promise<void>
  /** Any client message (an `id` is added); its `ack`. */
  send(message: OrbitClient.Outgoing, call?: CallOptions): Promise<Ack>
  /** Closes the connection; pending commands fail with `ClosedError`. */
  close(): Promise<void>
}

/** Runs an effect, rejecting with the typed error itself (not a wrapper). */
const run = <A>(effect: Effect.Effect<A, ClientError>): Promise<A> =>
  Effect.runPromiseExit(effect).then((exit) => {
    if (Exit.isSuccess(exit)) return exit.value
    throw Cause.squash(exit.cause)
  })

/** Connects (by default waiting for the first `hello`). */
export const connect = async (options: Options = {}): Promise<Client> => {
  const scope = Effect.runSync(Scope.make())
  let client: OrbitClient.OrbitClientShape
  try {
    client = await run(Scope.extend(OrbitClient.make(options), scope))
  } catch (error) {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    throw error
  }
  return {
    get mirror() {
      return client.current()
    },
    session: (sessionId) => client.current().sessions.get(sessionId as SessionId),
    sessions: () => [...(client.current().list?.values() ?? [])],
    inbox: () => Inbox.ordered(client.current().inbox ?? new Map()),
    on: (event, listener) => {
      switch (event) {
        case "change":
          return client.onChange(listener as (value: Mirror) => void)
        case "messages":
          return client.onMessages(listener as (value: ReadonlyArray<ServerMessage>) => void)
        case "notice":
          return client.onNotice(listener as (value: OrbitClient.Notice) => void)
      }
      throw new TypeError(`unknown event ${String(event)}`)
    },
    onSession: (sessionId, listener) => {
      let last = client.current().sessions.get(sessionId as SessionId)
      return client.onChange((mirror) => {
        const next = mirror.sessions.get(sessionId as SessionId)
        if (next === last) return
        last = next
        listener(next)
      })
    },
    waitFor: (predicate, timeoutMs) => run(client.waitFor(predicate, timeoutMs)),
    subscribeList: (call) => run(client.subscribeList(call)).then((list) => [...list.values()]),
    unsubscribeList: (call) => run(client.unsubscribeList(call)),
    subscribeSession: (sessionId, call) => run(client.subscribeSession(sessionId, call)),
    unsubscribeSession: (sessionId, call) => run(client.unsubscribeSession(sessionId, call)),
    subscribeInbox: (call) => run(client.subscribeInbox(call)),
    unsubscribeInbox: (call) => run(client.unsubscribeInbox(call)),
    markAttention: (sessionId, mark, call) => run(client.markAttention(sessionId, mark, call)),
    approveRequests: (requests, approved, call) => run(client.approveRequests(requests, approved, call)),
    listRules: (at, call) => run(client.listRules(at, call)),
    addRule: (rule, call) => run(client.addRule(rule, call)),
    removeRule: (ruleId, call) => run(client.removeRule(ruleId, call)),
    simulateRules: (draft, call) => run(client.simulateRules(draft, call)),
    createSession: (params, call) => run(client.createSession(params, call)),
    sendMessage: (sessionId, content, call) => run(client.sendMessage(sessionId, content, call)),
    approveTool: (sessionId, requestId, approved, call) => run(client.approveTool(sessionId, requestId, approved, call)),
    answerQuestion: (sessionId, requestId, answer, call) => run(client.answerQuestion(sessionId, requestId, answer, call)),
    interruptSession: (sessionId, call) => run(client.interruptSession(sessionId, call)),
    endSession: (sessionId, call) => run(client.endSession(sessionId, call)),
    send: (message, call) => run(client.send(message, call)),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}
