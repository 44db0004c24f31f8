/** List operations that mutate: for `inPlace.ts` and `SessionProjection.fold`'s private copy only. */
import type { Message } from "@orbitdock/domain"
import type { ListOps } from "../SessionMirror.js"

/** Mutates the given arrays: only for arrays the caller created and never shared. */
export const transient: ListOps = {
  append: (messages, message) => {
    ;(messages as Array<Message>).push(message)
    return messages
  },
  replace: (messages, index, message) => {
    ;(messages as Array<Message>)[index] = message
    return messages
  }
}
