/**
 * Plain synchronous listeners for the Promise face (and anyone who prefers callbacks to streams).
 * A throwing listener is isolated: it cannot break the frame loop or the other listeners.
 */
import type { ErrorCode, ServerId, ServerMessage, SessionId } from "@orbitdock/domain"
import type { ClientError } from "../Errors.js"
import type { Mirror } from "../Mirror.js"

/** Things worth knowing that are not server messages. */
export type Notice =
  /** A session mirror missed revisions (`have` last applied, `got` seen) and is being resynced. */
  | { readonly _tag: "Gap"; readonly session_id: SessionId; readonly have: number | undefined; readonly got: number; readonly source: "message" | "ack" }
  /** The server process changed: mirrors were dropped and are refetched from snapshots. */
  | { readonly _tag: "ServerRestarted"; readonly previous: ServerId; readonly current: ServerId }
  /** A subscribed session could not be (re)subscribed and left the mirror. */
  | { readonly _tag: "SessionDropped"; readonly session_id: SessionId; readonly error: ClientError }
  | { readonly _tag: "Disconnected" }
  | { readonly _tag: "ConnectFailed"; readonly detail: string }
  /**
   * The server stopped answering: a resubscription went unanswered past the command timeout, or a
   * ping within `heartbeatMs`. The connection is dropped and redone.
   */
  | { readonly _tag: "Unresponsive"; readonly detail: string }
  /** A frame (or part of one) this client could not decode; it was skipped. */
  | { readonly _tag: "DecodeProblem"; readonly detail: string }
  /**
   * The server's health changed (`server_status`; also right after connecting while degraded):
   * `degraded` while it cannot persist (what you see is kept and retried; commands wait), with why.
   */
  | { readonly _tag: "ServerStatus"; readonly status: "ok" | "degraded"; readonly reason: string | null }
  /** An `error` that answers no pending command. */
  | { readonly _tag: "ServerError"; readonly code: ErrorCode; readonly message: string }

export type Listener<A> = (value: A) => void

export class Notifier {
  private readonly changeListeners = new Set<Listener<Mirror>>()
  private readonly messageListeners = new Set<Listener<ReadonlyArray<ServerMessage>>>()
  private readonly noticeListeners = new Set<Listener<Notice>>()

  onChange(listener: Listener<Mirror>): () => void {
    return add(this.changeListeners, listener)
  }
  onMessages(listener: Listener<ReadonlyArray<ServerMessage>>): () => void {
    return add(this.messageListeners, listener)
  }
  onNotice(listener: Listener<Notice>): () => void {
    return add(this.noticeListeners, listener)
  }
  change(mirror: Mirror): void {
    call(this.changeListeners, mirror)
  }
  messages(batch: ReadonlyArray<ServerMessage>): void {
    call(this.messageListeners, batch)
  }
  notice(notice: Notice): void {
    call(this.noticeListeners, notice)
  }
}

const add = <A>(set: Set<Listener<A>>, listener: Listener<A>) => {
  // A wrapper, so the same function registered twice is two registrations.
  const entry: Listener<A> = (value) => listener(value)
  set.add(entry)
  return () => {
    set.delete(entry)
  }
}

const call = <A>(set: Set<Listener<A>>, value: A) => {
  for (const listener of set) {
    try {
      listener(value)
    } catch (error) {
      // A bug in a listener must not stop the client; report it where a developer will see it.
      console.error("OrbitDock client: a listener threw", error)
    }
  }
}
