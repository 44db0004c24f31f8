/**
 * The wire protocol as JSON Schema, generated from the schemas in this package so native clients
 * (Swift, Rust, Kotlin) can generate their types. Served at `GET /api/protocol.json` and checked in as
 * `packages/domain/protocol.schema.json` (a test keeps the file in sync).
 */
import { JSONSchema, Schema } from "effect"
import { SessionState, SessionSummary } from "./Entities.js"
import { ClientMessage, EventsPage, Health, HttpError, ServerFrame } from "./Protocol.js"
import { EventRecord } from "./SessionEvent.js"
import { DomainEvent } from "./SessionEvent.js"

const Document = Schema.Struct({
  client_message: ClientMessage,
  server_frame: ServerFrame,
  session_summary: SessionSummary,
  session_state: SessionState,
  domain_event: DomainEvent,
  event_record: EventRecord,
  events_page: EventsPage,
  health: Health,
  http_error: HttpError
})

/** The protocol document: one property per top-level shape, with shared `$defs`. */
export const protocolJsonSchema = (): object => ({
  ...JSONSchema.make(Document),
  title: "OrbitDock wire protocol v1",
  description:
    "Each property names a top-level shape. Client frames hold one client_message; server frames hold a server_frame."
})
