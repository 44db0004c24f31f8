/**
 * The failures a client call can end with. Server refusals arrive as the domain's `ProtocolError`
 * (decoded from the `error` message's `code`); the others are local and say what the client knows
 * about the command's fate, so a caller can decide whether retrying is safe.
 * Does not own retry policy: the connection core does.
 */
import { ProtocolError } from "@orbitdock/domain"
import { Data } from "effect"

export { ProtocolError }

/** No answer within the command's timeout. If it had been sent, the server may still apply it. */
export class TimeoutError extends Data.TaggedError("TimeoutError")<{
  readonly operation: string
  readonly timeoutMs: number
  /** Whether the command had left the client when the time ran out. */
  readonly sent: boolean
}> {
  override get message() {
    return `${this.operation}: no answer within ${this.timeoutMs} ms${this.sent ? " (it may still be applied)" : " (never sent)"}`
  }
}

/** The client was not connected and the caller did not ask to queue: the command was never sent. */
export class OfflineError extends Data.TaggedError("OfflineError")<{ readonly operation: string }> {
  override get message() {
    return `${this.operation}: not connected to the server (the command was not sent)`
  }
}

/**
 * The connection dropped after the command was sent and before its answer: the server may or may not
 * have applied it. It is never resent automatically (that could apply it twice).
 */
export class ConnectionLostError extends Data.TaggedError("ConnectionLostError")<{ readonly operation: string }> {
  override get message() {
    return `${this.operation}: the connection dropped before the answer (the command may have been applied)`
  }
}

/** The client was closed by its owner. */
export class ClosedError extends Data.TaggedError("ClosedError")<{ readonly operation: string }> {
  override get message() {
    return `${this.operation}: the client is closed`
  }
}

/** Every failure of a client command. */
export type ClientError = ProtocolError | TimeoutError | OfflineError | ConnectionLostError | ClosedError

/** Whether a value is one of the client's failures (useful in `catch` blocks of the Promise API). */
export const isClientError = (u: unknown): u is ClientError =>
  u instanceof ProtocolError ||
  u instanceof TimeoutError ||
  u instanceof OfflineError ||
  u instanceof ConnectionLostError ||
  u instanceof ClosedError
