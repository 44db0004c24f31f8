/**
 * A `session_snapshot` whose session is assembled from message pages, as a long session's
 * subscriber gets it: its JSON is the pages' text spliced in (see `FrameCodec`).
 */
import type { ServerMessage } from "@orbitdock/domain"
import * as MessagePages from "../../src/internal/messagePages.js"

/** One page of 64 messages of `size` characters each. */
export const pagedSnapshot = (size: number): ServerMessage => {
  const paged = Array.from({ length: 64 }, (_, i) => ({
    id: `m${i}`,
    role: "assistant",
    content: `${i}`.padEnd(size, "x"),
    created_at: "2026-01-01T00:00:00.000Z"
  }))
  const state = { id: "s1", revision: 65, messages: [] } as never
  const session = MessagePages.assemble(state, [JSON.stringify(paged)], [])
  return { type: "session_snapshot", session_id: "s1" as never, revision: 65, session }
}
