/**
 * Synthetic domain events of realistic size (~500 bytes encoded), shaped like the real log's rows,
 * for the raw references and for writing a large log quickly.
 */
import type { DomainEvent, StoredEvent } from "@orbitdock/domain"
import { Packr } from "msgpackr"

const FILLER =
  "Reading the file and applying the change to the parser: the tokenizer now keeps track of the " +
  "position of every bracket so that the error message can point at the unbalanced one. Running " +
  "the test suite again to make sure nothing else broke; 214 tests passed, 0 failed, 3 skipped. " +
  "Next I will update the documentation of the public API and the changelog entry."

/** The content of an assistant message of about 360 characters; `tag` keeps rows distinct. */
export const content = (tag: string): string => `${tag} ${FILLER}`.slice(0, 360)

export const sessionIdOf = (i: number): string => `bench-${String(i).padStart(4, "0")}`

const BASE_TIME = Date.UTC(2026, 0, 1)
export const isoAt = (ms: number): string => new Date(BASE_TIME + ms).toISOString()

/** Revision 1 of a synthetic session. */
export const created = (sessionId: string): StoredEvent =>
  ({
    session_id: sessionId,
    revision: 1,
    occurred_at: isoAt(0),
    event: { type: "session_created", provider: "sim", cwd: "/home/dev/project", status: "waiting", title: sessionId }
  }) as unknown as StoredEvent

/** Revision `revision` (≥ 2) of a synthetic session: an assistant message of ~500 bytes encoded. */
export const appended = (sessionId: string, revision: number, text?: string): StoredEvent =>
  ({
    session_id: sessionId,
    revision,
    occurred_at: isoAt(revision),
    event: {
      type: "message_appended",
      message: {
        id: `m-${revision}` as never,
        role: "assistant",
        content: text ?? content(`#${revision}`),
        created_at: isoAt(revision)
      }
    } satisfies DomainEvent
  }) as unknown as StoredEvent

/** The stored event of a synthetic session at `revision`. */
export const eventAt = (sessionId: string, revision: number): StoredEvent =>
  revision === 1 ? created(sessionId) : appended(sessionId, revision)

export type Encoding = "json" | "msgpack" | "msgpack-records"

/** Encoders/decoders of an event's payload (`event` without its `type`, which has its own column). */
export interface Codec {
  readonly encode: (event: DomainEvent) => Buffer
  readonly decode: (payload: Buffer) => unknown
}

export const codec = (encoding: Encoding): Codec => {
  switch (encoding) {
    case "json":
      return { encode: (e) => Buffer.from(JSON.stringify(e)), decode: (b) => JSON.parse(b.toString("utf8")) }
    case "msgpack": {
      const packr = new Packr({ useRecords: false })
      return { encode: (e) => packr.pack(e), decode: (b) => packr.unpack(b) }
    }
    case "msgpack-records": {
      // Record structures are shared by encoder and decoder (a real log would persist them).
      const structures: Array<unknown> = []
      const packr = new Packr({ structures: structures as never })
      return { encode: (e) => packr.pack(e), decode: (b) => packr.unpack(b) }
    }
  }
}
