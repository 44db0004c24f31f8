/**
 * Errors that cross the wire. Every failure a client can see has one of PROTOCOL.md's codes and a
 * human-readable message; server internals are mapped to these at the boundary.
 */
import { Schema } from "effect"

export const ErrorCode = Schema.Literal(
  "invalid_message",
  "unknown_type",
  "not_found",
  "conflict",
  "unsupported",
  "too_large",
  "unauthorized",
  "forbidden",
  "timeout",
  "internal",
  "unavailable"
)
export type ErrorCode = typeof ErrorCode.Type

/** A command or request the server refused, with the code a client branches on. */
export class ProtocolError extends Schema.TaggedError<ProtocolError>()("ProtocolError", {
  code: ErrorCode,
  message: Schema.String
}) {}

export const notFound = (message: string) => new ProtocolError({ code: "not_found", message })
export const conflict = (message: string) => new ProtocolError({ code: "conflict", message })
export const unsupported = (message: string) => new ProtocolError({ code: "unsupported", message })
export const invalid = (message: string) => new ProtocolError({ code: "invalid_message", message })
export const internal = (message: string) => new ProtocolError({ code: "internal", message })
export const timeoutError = (message: string) => new ProtocolError({ code: "timeout", message })

/** The HTTP status that goes with each code. */
export const httpStatus = (code: ErrorCode): number => {
  switch (code) {
    case "invalid_message":
    case "unknown_type":
      return 400
    case "unauthorized":
      return 401
    case "forbidden":
      return 403
    case "not_found":
      return 404
    case "conflict":
      return 409
    case "too_large":
      return 413
    case "unsupported":
      return 501
    case "timeout":
      return 504
    case "internal":
      return 500
    case "unavailable":
      return 503
  }
}
