/**
 * Turns on the event loop for the server's busy loops (session actors folding a backlog, the sim's
 * bursts), so that a burst never holds the event loop for long.
 *
 * Effect runs fibers in microtasks and gives the event loop a turn only after thousands of rounds,
 * so dozens of actors with work queued would fold one after the other for hundreds of milliseconds
 * while HTTP requests, WebSocket frames and the writer worker's replies wait. A check of the time
 * before each unit of work is not enough: dozens of fibers resumed together all check before any
 * of them has worked, and part of what a fold costs is paid later, by the outboxes' flushes
 * (microtasks queued behind those fibers).
 *
 * So units of synchronous work take turns (`inTurn`): one at a time, first come first served, the
 * next one only after the microtasks the previous one queued (its frames) have run; and once the
 * current stretch of the event loop has lasted `SLICE_MS`, the next turn waits for `setImmediate`,
 * i.e. until the event loop has polled I/O once. Units someone waits for (a command's events) go
 * first. A turn's cost (its work and those microtasks) is measured, so that a loop can size its
 * next unit to fit (`TurnCost`). An idle server runs a unit at once.
 */
import { Effect } from "effect"
import { performance } from "node:perf_hooks"

/** How long a stretch of turns may last before the event loop polls I/O. */
export const SLICE_MS = 5

/** How long one unit of work should take, its microtasks included (see `TurnCost`). */
export const TURN_MS = 4

/**
 * What one unit of work has cost per item (e.g. per event folded), as a moving average of its
 * turns, to size the next unit: `itemsWithin(ms, most)`.
 */
export class TurnCost {
  private msPerItem = 0

  /** How many items fit in `ms` (at least 1, at most `most`), by the turns measured so far. */
  itemsWithin(ms: number, most: number): number {
    if (this.msPerItem === 0) return most
    return Math.max(1, Math.min(most, Math.floor(ms / this.msPerItem)))
  }

  /** A turn of `items` took `ms`. */
  record(ms: number, items: number): void {
    if (items <= 0) return
    const sample = ms / items
    this.msPerItem = this.msPerItem === 0 ? sample : 0.7 * this.msPerItem + 0.3 * sample
  }
}

interface Waiter {
  resume: (() => void) | undefined
  /** Given its turn (it may not have run yet). */
  admitted: boolean
  done: boolean
}

/** Units waiting for their turn: urgent ones (someone waits for an ack) first, each list in order. */
const urgentWaiting: Array<Waiter> = []
const waiting: Array<Waiter> = []
/** A turn was granted and what it queued has not run yet: newcomers wait behind it. */
let granted = false
let immediateQueued = false
let sliceStart = 0
let sliceOpen = false
/** The turn being measured: it ends when `next` runs. */
let measuring: { readonly cost: TurnCost; readonly items: number; readonly start: number } | undefined

// Queued when a stretch's first turn is granted; it runs in the next check phase.
const closeSlice = () => {
  sliceOpen = false
}

const sliceSpent = (): boolean => {
  const now = performance.now()
  if (!sliceOpen) {
    sliceOpen = true
    sliceStart = now
    setImmediate(closeSlice)
    return false
  }
  return now - sliceStart >= SLICE_MS
}

/** When no turn is granted: grants the first waiter's, or has the next check phase do it. */
const grant = () => {
  if (urgentWaiting.length === 0 && waiting.length === 0) return
  if (sliceSpent()) {
    if (!immediateQueued) {
      immediateQueued = true
      setImmediate(fromImmediate)
    }
    return
  }
  const waiter = urgentWaiting.length > 0 ? urgentWaiting.shift()! : waiting.shift()!
  waiter.admitted = true
  granted = true
  waiter.resume!()
}

const fromImmediate = () => {
  immediateQueued = false
  if (!granted) grant()
}

/** Runs once the previous turn's microtasks have: the next turn, now or after I/O. */
const next = () => {
  if (measuring !== undefined) {
    measuring.cost.record(performance.now() - measuring.start, measuring.items)
    measuring = undefined
  }
  granted = false
  grant()
}

const run = <A>(waiter: Waiter, work: () => A, cost: TurnCost | undefined, items: number): A => {
  waiter.done = true
  if (cost !== undefined) measuring = { cost, items, start: performance.now() }
  try {
    return work()
  } finally {
    queueMicrotask(next)
  }
}

export interface TurnOptions {
  /** Records the turn (its work and the microtasks it queued) there, as `items` items. */
  readonly cost?: TurnCost
  readonly items?: number
  /** Someone waits for this unit (a command's events): its turn comes before the others'. */
  readonly urgent?: boolean
}

/**
 * Runs `work` (synchronous, one unit: a fold and its publishing, a chunk of a burst) in its turn:
 * at once when nothing else waits and the stretch is young, else after the turns queued before it.
 */
export const inTurn = <A>(work: () => A, options: TurnOptions = {}): Effect.Effect<A> =>
  Effect.suspend(() => {
    const waiter: Waiter = { resume: undefined, admitted: false, done: false }
    const queue = options.urgent === true ? urgentWaiting : waiting
    // Queued and granted where the fiber suspends, atomically: a fiber may pause between any two steps.
    return Effect.async<void>((resume) => {
      waiter.resume = () => resume(Effect.void)
      queue.push(waiter)
      if (!granted) grant()
      return Effect.sync(() => {
        const at = queue.indexOf(waiter)
        if (at !== -1) queue.splice(at, 1)
      })
    }).pipe(
      Effect.zipRight(Effect.sync(() => run(waiter, work, options.cost, options.items ?? 1))),
      // Given its turn, then interrupted before it ran: the turn passes on.
      Effect.onInterrupt(() =>
        Effect.sync(() => {
          if (waiter.admitted && !waiter.done) {
            waiter.done = true
            queueMicrotask(next)
          }
        })
      )
    )
  })
