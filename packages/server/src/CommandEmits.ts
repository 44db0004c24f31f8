/**
 * A command is acked in one place, once everything it emitted is durable, whatever its connector
 * did: the events a command's fiber emits (`ConnectorHost.emit` or `commit`) are collected here and
 * `ackedWhenDurable` waits for all of them. Fibers the command forks (an agent's turn streaming on)
 * do not inherit the collection: their events are the agent's, not the command's.
 */
import type { ProtocolError } from "@orbitdock/domain"
import { Effect, FiberRef } from "effect"
import type { Receipt } from "./connectors/Connector.js"
import type { EventLogError } from "./eventlog/EventLog.js"

/** The receipts of one command's emits. */
export class Emitted {
  private readonly receipts: Array<Receipt> = []
  add(receipt: Receipt): void {
    this.receipts.push(receipt)
  }
  /** Once every receipt is durable. */
  get durable(): Effect.Effect<void, EventLogError> {
    return Effect.forEach(this.receipts, (receipt) => receipt.durable, { discard: true })
  }
}

/** The command the current fiber runs for, if any. Not inherited by forks, kept across joins. */
export const current = FiberRef.unsafeMake<Emitted | undefined>(undefined, {
  fork: () => undefined,
  join: (parent) => parent
})

/**
 * Runs a command, then waits until what it emitted is durable: only then may it be acked.
 * `logFailure` tells clients of an event log failure (without the driver's text).
 */
export const ackedWhenDurable = <A, R>(
  command: Effect.Effect<A, ProtocolError, R>,
  logFailure: (durable: Effect.Effect<void, EventLogError>) => Effect.Effect<void, ProtocolError>
): Effect.Effect<A, ProtocolError, R> =>
  Effect.suspend(() => {
    const emitted = new Emitted()
    return command.pipe(Effect.locally(current, emitted), Effect.zipLeft(logFailure(emitted.durable)))
  })
