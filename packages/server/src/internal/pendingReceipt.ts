/**
 * The receipt of events queued in a session actor's mailbox, settled by the actor once it has
 * folded them. A plain class whose Effects are made only when someone asks: one receipt is made
 * per emit, and most are never awaited (agent activity streams on), so an emit allocates nothing
 * more than this object.
 */
import type { ProtocolError } from "@orbitdock/domain"
import { Effect } from "effect"
import type { Receipt } from "../connectors/Connector.js"
import { EventLogError } from "../eventlog/EventLog.js"

interface Folded {
  readonly revisions: ReadonlyArray<number>
  readonly durable: Effect.Effect<void, EventLogError>
}

export class PendingReceipt implements Receipt {
  private outcome: Folded | ProtocolError | undefined = undefined
  private waiters: Array<() => void> | undefined = undefined

  /** The events were folded and published; `durable` is the log's receipt for them. */
  settle(revisions: ReadonlyArray<number>, durable: Effect.Effect<void, EventLogError>): void {
    if (this.outcome !== undefined) return
    this.outcome = { revisions, durable }
    this.wake()
  }

  /** The actor stopped before it folded them (server shutdown). */
  fail(error: ProtocolError): void {
    if (this.outcome !== undefined) return
    this.outcome = error
    this.wake()
  }

  get folded(): Effect.Effect<ReadonlyArray<number>, ProtocolError> {
    return this.whenSettled((outcome) =>
      "revisions" in outcome ? Effect.succeed(outcome.revisions) : Effect.fail(outcome)
    )
  }

  get durable(): Effect.Effect<void, EventLogError> {
    return this.whenSettled((outcome) =>
      "revisions" in outcome
        ? outcome.durable
        : Effect.fail(new EventLogError({ operation: "EventLog.append:not folded", cause: outcome.message }))
    )
  }

  private whenSettled<A, E>(then: (outcome: Folded | ProtocolError) => Effect.Effect<A, E>): Effect.Effect<A, E> {
    return Effect.suspend(() => {
      if (this.outcome !== undefined) return then(this.outcome)
      return Effect.async<void>((resume) => {
        ;(this.waiters ??= []).push(() => resume(Effect.void))
      }).pipe(Effect.flatMap(() => then(this.outcome!)))
    })
  }

  private wake(): void {
    const waiters = this.waiters
    this.waiters = undefined
    if (waiters !== undefined) for (const resume of waiters) resume()
  }
}
