/**
 * The URL the transport listens on (`http://<host>:<port>`, the real port when the config said 0),
 * for services built before it that put links in what they send (the notifier's "open the session").
 */
import { Context, Layer } from "effect"

export interface ListeningUrlShape {
  readonly set: (url: string) => void
  /** Undefined until the transport listens. */
  readonly get: () => string | undefined
}

export class ListeningUrl extends Context.Tag("@orbitdock/server/ListeningUrl")<ListeningUrl, ListeningUrlShape>() {}

export const layer: Layer.Layer<ListeningUrl> = Layer.sync(ListeningUrl, () => {
  let url: string | undefined
  return {
    set: (next) => {
      url = next
    },
    get: () => url
  }
})
