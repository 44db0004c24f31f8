/**
 * The subscriptions a client keeps (the list and each session), their mirrored state, and the
 * (re)subscribe requests that keep them exact: after a gap, on every `hello`, and from a snapshot
 * after a server restart. Callers waiting for a first sync are settled here.
 * Does not own the socket or the request/ack plumbing (the core passes `request` in), nor the rules
 * about revisions (Mirror).
 */
import type {
  Ack,
  ClientMessage,
  InboxChanged,
  InboxMessage,
  ServerMessage,
  SessionId,
  SessionState,
  SessionSummary
} from "@orbitdock/domain"
import { ProtocolError } from "@orbitdock/domain"
import { Inbox, SessionSummaries } from "@orbitdock/projections"
import { type Deferred, Effect } from "effect"
import type { ClientError } from "../Errors.js"
import * as Mirror from "../Mirror.js"
import type { Notice } from "./notifier.js"

/** What the subscriptions need from the core. */
export interface Deps {
  /** Sends an internal request when online (offline: dropped; the next `hello` resubscribes). */
  readonly request: (message: Omit<ClientMessage, "id">, onAck: (ack: Ack) => void, onError: (e: ClientError) => void) => void
  /** Completes a waiter once the current frame is visible in the mirror. */
  readonly settle: <A>(deferred: Deferred.Deferred<A, ClientError>, effect: Effect.Effect<A, ClientError>) => void
  readonly notice: (notice: Notice) => void
  /** The mirror changed. */
  readonly touch: () => void
}

interface Tracked {
  sync: Mirror.SessionSync
  readonly waiters: Array<Deferred.Deferred<SessionState, ClientError>>
  /** Snapshot refetches in a row; a bound so a misbehaving server cannot make us loop. */
  refetches: number
}

const MAX_REFETCHES = 5

type ListMessage = Extract<ServerMessage, { type: "sessions_list" | "session_updated" | "session_created" | "session_ended" }>

/**
 * A whole-server feed kept across reconnects (the list, the inbox): one subscribe message, a first
 * message that carries all of it, changes applied after it.
 */
class Feed<S, M extends { readonly type: string }> {
  wanted = false
  inFlight = false
  private current: S | undefined
  /**
   * Whether `current` is a value nobody outside was handed since it was made: then a message is
   * applied to it in place. A frame of n list updates applied with a copy each was O(n²) (the
   * page's longest tasks at 100 sessions).
   */
  private owned = false
  private readonly waiters: Array<Deferred.Deferred<S, ClientError>> = []

  constructor(
    private readonly deps: Deps,
    private readonly subscribeType: "subscribe_list" | "subscribe_inbox",
    private readonly firstType: M["type"],
    /** Applies a message: in place when `owned` (and it can), else to a new value. */
    private readonly apply: (state: S | undefined, message: M, owned: boolean) => S
  ) {}

  /** The state as mirrored; once read, it is never changed again (the next message copies it). */
  get state(): S | undefined {
    this.owned = false
    return this.current
  }

  synced(): S | undefined {
    return this.wanted && !this.inFlight ? this.state : undefined
  }

  want(online: boolean, waiter: Deferred.Deferred<S, ClientError>): void {
    this.waiters.push(waiter)
    if (this.wanted) return
    this.wanted = true
    if (online) this.subscribe()
  }

  unwant(): void {
    this.wanted = false
    this.current = undefined
    this.deps.touch()
  }

  forget(): void {
    this.current = undefined
  }

  resubscribe(): void {
    if (this.wanted) this.subscribe()
  }

  receive(message: M): void {
    if (!this.wanted) return
    // Before the first whole message of a subscription there is nothing to change.
    if (this.current === undefined && message.type !== this.firstType) return
    const next = this.apply(this.current, message, this.owned && this.current !== undefined)
    if (next !== this.current) this.owned = true
    this.current = next
    this.deps.touch()
  }

  failWaiters(error: (operation: string) => ClientError): void {
    for (const w of this.waiters.splice(0)) this.deps.settle(w, Effect.fail(error(this.subscribeType)))
  }

  private subscribe(): void {
    this.inFlight = true
    this.deps.request(
      { type: this.subscribeType },
      () => {
        this.inFlight = false
        const state = this.state
        if (!this.wanted || state === undefined) return
        for (const w of this.waiters.splice(0)) this.deps.settle(w, Effect.succeed(state))
      },
      (error) => {
        this.inFlight = false
        this.unwant()
        for (const w of this.waiters.splice(0)) this.deps.settle(w, Effect.fail(error))
      }
    )
  }
}

type SessionScoped = Parameters<typeof Mirror.receive>[1]

export class Subscriptions {
  private readonly tracked = new Map<SessionId, Tracked>()
  private readonly listFeed: Feed<SessionSummaries.SessionList, ListMessage>
  private readonly inboxFeed: Feed<Inbox.InboxMirror, InboxMessage | InboxChanged>

  constructor(private readonly deps: Deps) {
    this.listFeed = new Feed(deps, "subscribe_list", "sessions_list", (list, message, owned) =>
      owned
        ? SessionSummaries.applyListMessageInPlace(list as Map<SessionId, SessionSummary>, message)
        : SessionSummaries.applyListMessage(list ?? new Map(), message)
    )
    this.inboxFeed = new Feed(deps, "subscribe_inbox", "inbox", (inbox, message) =>
      Inbox.applyInboxMessage(inbox ?? new Map(), message)
    )
  }

  /** The list as mirrored (undefined until subscribed and received). */
  get list(): SessionSummaries.SessionList | undefined {
    return this.listFeed.state
  }

  /** The inbox as mirrored (undefined until subscribed and received). */
  get inbox(): Inbox.InboxMirror | undefined {
    return this.inboxFeed.state
  }

  /** Every subscribed session whose state is known. */
  sessions(): Map<SessionId, SessionState> {
    const sessions = new Map<SessionId, SessionState>()
    for (const [id, t] of this.tracked) if (t.sync.state !== null) sessions.set(id, t.sync.state)
    return sessions
  }

  // ── Sessions ───────────────────────────────────────────────────────────────────────────────────

  /** The synced state of a subscribed session, if any (no fetch in flight). */
  syncedState(sessionId: SessionId): SessionState | undefined {
    const t = this.tracked.get(sessionId)
    return t !== undefined && t.sync.state !== null && !t.sync.resyncing ? t.sync.state : undefined
  }

  isTracked(sessionId: SessionId): boolean {
    return this.tracked.has(sessionId)
  }

  /** Starts keeping a session; `online`: subscribe now (else on the next `hello`). */
  track(sessionId: SessionId, online: boolean): void {
    if (this.tracked.has(sessionId)) return
    this.tracked.set(sessionId, { sync: Mirror.unsynced, waiters: [], refetches: 0 })
    if (online) this.subscribe(sessionId, undefined)
  }

  /** Waits for the session's next sync. */
  addWaiter(sessionId: SessionId, waiter: Deferred.Deferred<SessionState, ClientError>): void {
    this.tracked.get(sessionId)?.waiters.push(waiter)
  }

  /** Stops keeping a session; true when it was kept. */
  untrack(sessionId: SessionId): boolean {
    const had = this.tracked.delete(sessionId)
    if (had) this.deps.touch()
    return had
  }

  /** Whether the session was tracked and has never had a state (a first subscribe still pending). */
  neverSynced(sessionId: SessionId): boolean {
    return this.tracked.get(sessionId)?.sync.state === null
  }

  private subscribe(sessionId: SessionId, since: number | undefined): void {
    const t = this.tracked.get(sessionId)
    if (t === undefined) return
    t.sync = { ...t.sync, resyncing: true }
    const message = since === undefined
      ? { type: "subscribe_session" as const, session_id: sessionId }
      : { type: "subscribe_session" as const, session_id: sessionId, since_revision: since }
    this.deps.request(
      message,
      (ack) => {
        if (this.tracked.get(sessionId) !== t) return // unsubscribed meanwhile
        const verdict = Mirror.acknowledged(t.sync, ack.revision)
        t.sync = verdict.sync
        if (verdict._tag === "Synced") {
          t.refetches = 0
          for (const w of t.waiters.splice(0)) this.deps.settle(w, Effect.succeed(verdict.state))
          return
        }
        this.deps.notice({ _tag: "Gap", session_id: sessionId, have: t.sync.state?.revision, got: ack.revision ?? 0, source: "ack" })
        if (++t.refetches > MAX_REFETCHES) {
          const message = "the server's catch-up never reached its acked revision"
          return this.drop(sessionId, new ProtocolError({ code: "internal", message }))
        }
        this.subscribe(sessionId, undefined)
      },
      (error) => {
        if (this.tracked.get(sessionId) === t) this.drop(sessionId, error)
      }
    )
  }

  private drop(sessionId: SessionId, error: ClientError): void {
    const t = this.tracked.get(sessionId)
    if (t === undefined) return
    this.tracked.delete(sessionId)
    this.deps.touch()
    for (const w of t.waiters.splice(0)) this.deps.settle(w, Effect.fail(error))
    this.deps.notice({ _tag: "SessionDropped", session_id: sessionId, error })
  }

  /** A session-scoped message: applied, ignored, or a gap that triggers a resubscribe. */
  onSessionMessage(message: SessionScoped, sessionId: SessionId): void {
    const t = this.tracked.get(sessionId)
    if (t === undefined) return
    const verdict = Mirror.receive(t.sync, message)
    if (verdict._tag === "Ignored") return
    t.sync = verdict.sync
    if (verdict._tag === "Applied") return this.deps.touch()
    this.deps.notice({ _tag: "Gap", session_id: sessionId, have: verdict.since, got: Mirror.revisionOf(message), source: "message" })
    this.subscribe(sessionId, verdict.since)
  }

  // ── The list and the inbox ─────────────────────────────────────────────────────────────────

  /** The synced list, if subscribed and received (no fetch in flight). */
  syncedList(): SessionSummaries.SessionList | undefined {
    return this.listFeed.synced()
  }

  get wantsList(): boolean {
    return this.listFeed.wanted
  }

  wantList(online: boolean, waiter: Deferred.Deferred<SessionSummaries.SessionList, ClientError>): void {
    this.listFeed.want(online, waiter)
  }

  unwantList(): void {
    this.listFeed.unwant()
  }

  /** A list message (`session_ended` also goes to `onSessionMessage`). */
  onListMessage(message: ListMessage): void {
    this.listFeed.receive(message)
  }

  /** The synced inbox, if subscribed and received. */
  syncedInbox(): Inbox.InboxMirror | undefined {
    return this.inboxFeed.synced()
  }

  get wantsInbox(): boolean {
    return this.inboxFeed.wanted
  }

  wantInbox(online: boolean, waiter: Deferred.Deferred<Inbox.InboxMirror, ClientError>): void {
    this.inboxFeed.want(online, waiter)
  }

  unwantInbox(): void {
    this.inboxFeed.unwant()
  }

  onInboxMessage(message: InboxMessage | InboxChanged): void {
    this.inboxFeed.receive(message)
  }

  // ── Connection events ──────────────────────────────────────────────────────────────────────────

  /** On `hello`: resubscribe everything, from snapshots when the server process changed. */
  resubscribeAll(restarted: boolean): void {
    if (restarted) {
      // What we mirrored may include activity the old process never made durable: start over.
      for (const t of this.tracked.values()) t.sync = Mirror.forget(t.sync)
      this.listFeed.forget()
      this.inboxFeed.forget()
      this.deps.touch()
    }
    this.listFeed.resubscribe()
    this.inboxFeed.resubscribe()
    for (const [id, t] of this.tracked) this.subscribe(id, Mirror.resumeFrom(t.sync))
  }

  /** On disconnect: the requests in flight died with the socket. */
  disconnected(): void {
    this.listFeed.inFlight = false
    this.inboxFeed.inFlight = false
    for (const t of this.tracked.values()) t.sync = { ...t.sync, resyncing: false }
  }

  /** On close: every waiter fails. */
  failWaiters(error: (operation: string) => ClientError): void {
    this.listFeed.failWaiters(error)
    this.inboxFeed.failWaiters(error)
    for (const t of this.tracked.values()) for (const w of t.waiters.splice(0)) this.deps.settle(w, Effect.fail(error("subscribe_session")))
  }
}
