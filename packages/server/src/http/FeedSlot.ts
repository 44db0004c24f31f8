/**
 * A connection's place for one fleet-wide feed (the list, the inbox): at most one subscription at a
 * time, replaced by a second `subscribe`, silenced the moment it is removed (a push already on its
 * way from the hub is dropped), and re-sent whole after the client fell behind.
 */
import { Effect } from "effect"
import * as Metrics from "../Metrics.js"

/** What a feed offers its subscribers (the sessions service's list or inbox). */
export interface Feed<M> {
  readonly subscribe: (subscriber: { readonly push: (message: M) => void }) => Effect.Effect<void>
  readonly unsubscribe: (subscriber: { readonly push: (message: M) => void }) => Effect.Effect<void>
  /** The feed's whole current state, as its first message. */
  readonly now: () => M
}

interface Subscription<M> {
  active: boolean
  readonly push: (message: M) => void
}

export class FeedSlot<M> {
  private current: Subscription<M> | null = null

  constructor(
    private readonly feed: Feed<M>,
    private readonly send: (message: M) => void
  ) {}

  get subscribed(): boolean {
    return this.current !== null
  }

  /** Replaces any subscription this slot held; the feed pushes its current state first. */
  subscribe(): Effect.Effect<void> {
    return this.remove().pipe(
      Effect.zipRight(
        Effect.suspend(() => {
          const subscription: Subscription<M> = {
            active: true,
            push: (message) => {
              if (subscription.active) this.send(message)
            }
          }
          this.current = subscription
          Metrics.subscribers.unsafeModify(1, [])
          return this.feed.subscribe(subscription)
        })
      )
    )
  }

  remove(): Effect.Effect<void> {
    return Effect.suspend(() => {
      const subscription = this.current
      if (subscription === null) return Effect.void
      subscription.active = false
      this.current = null
      Metrics.subscribers.unsafeModify(-1, [])
      return this.feed.unsubscribe(subscription)
    })
  }

  /** After the client fell behind: the whole current state again. False when not subscribed. */
  resend(): boolean {
    if (this.current === null) return false
    this.send(this.feed.now())
    return true
  }
}
