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
 * So units of synchronous work take turns (`inTurn`). A turn lasts until the microtasks it queued
 * (its frames) have run, and its cost is expected from the units before it (`TurnCost`). A unit
 * runs at once while the current stretch of the event loop, with what the turns still under way
 * are expected to cost, stays within `SLICE_MS` (cheap units, as under a light load, do not wait
 * for one another); otherwise it waits, first come first served, and once the stretch has lasted
 * `SLICE_MS` the next turn waits for `setImmediate`, i.e. until the event loop has polled I/O.
 * Units someone waits for (a command's events) go first. A loop sizes its units by their cost.
 * Small units (`AT_ONCE_ITEMS`) never wait: they still count in the stretch. Nothing bounds how
 * many run back to back, but they come one per emit, and emits arrive one I/O callback at a time.
 */
import { Effect, Exit } from "effect"
import { performance } from "node:perf_hooks"

/** How long a stretch of turns may last before the event loop polls I/O. */
export const SLICE_MS = 5

/** How long one unit of work should take, its microtasks included (see `TurnCost`). */
export const TURN_MS = 4

/**
 * A unit of at most this many items runs at once, whatever the stretch: waiting costs more than it
 * does (an `Effect.async`, a resume and their garbage, per unit), and small units come from
 * steady load, whose emits already arrive one I/O callback at a time. Bursts come in big units.
 */
export const AT_ONCE_ITEMS = 8

/**
 * What one kind of unit has cost per item (e.g. per event folded), as a moving average of its
 * turns: sizes the next unit (`itemsWithin`) and tells what a turn is expected to cost.
 */
export class TurnCost {
  private msPerItem = 0

  /** How many items fit in `ms` (at least 1, at most `most`), by the turns measured so far. */
  itemsWithin(ms: number, most: number): number {
    if (this.msPerItem === 0) return most
    return Math.max(1, Math.min(most, Math.floor(ms / this.msPerItem)))
  }

  /** What a turn of `items` is expected to cost; a whole slice until one was measured. */
  expected(items: number): number {
    return this.msPerItem === 0 ? SLICE_MS : this.msPerItem * items
  }

  /** A turn of `items` took `ms`. */
  record(ms: number, items: number): void {
    if (items <= 0) return
    const sample = ms / items
    this.msPerItem = this.msPerItem === 0 ? sample : 0.7 * this.msPerItem + 0.3 * sample
  }
}

export interface TurnOptions {
  /** What this kind of unit costs: the turn is expected to cost that, and is recorded there. */
  readonly cost?: TurnCost
  /** The unit's size in the cost's items (default 1). */
  readonly items?: number
  /** Someone waits for this unit (a command's events): its turn comes before the others'. */
  readonly urgent?: boolean
}

/** A unit waiting for its turn: runs its work and hands the outcome to its fiber. */
interface Waiter {
  readonly expected: number
  readonly run: () => void
}

/** Units waiting for their turn: urgent ones (someone waits for an ack) first, each list in order. */
const urgentWaiting: Array<Waiter> = []
const waiting: Array<Waiter> = []
/** Turns begun whose microtasks have not all run yet, and what they are expected to cost. */
let underWay = 0
let underWayMs = 0
let immediateQueued = false
let sliceStart = 0
let sliceOpen = false

// Queued when a stretch's first turn begins; it runs in the next check phase.
const closeSlice = () => {
  sliceOpen = false
}

/** Whether a turn expected to cost `expected` may begin now (the first of a stretch starts its clock). */
const fits = (expected: number): boolean => {
  const now = performance.now()
  if (!sliceOpen) {
    sliceOpen = true
    sliceStart = now
    setImmediate(closeSlice)
  }
  const elapsed = now - sliceStart
  if (elapsed >= SLICE_MS) return false
  return underWay === 0 || elapsed + underWayMs + expected <= SLICE_MS
}

const hasWaiters = () => urgentWaiting.length > 0 || waiting.length > 0

/** Begins the waiting turns that fit; when the stretch is spent, the next check phase goes on. */
const grant = () => {
  while (hasWaiters()) {
    const waiter = urgentWaiting.length > 0 ? urgentWaiting[0]! : waiting[0]!
    if (!fits(waiter.expected)) {
      // Spent, or the turns under way will grant again when they end.
      if (underWay === 0 && !immediateQueued) {
        immediateQueued = true
        setImmediate(fromImmediate)
      }
      return
    }
    ;(urgentWaiting.length > 0 ? urgentWaiting : waiting).shift()
    waiter.run()
  }
}

const fromImmediate = () => {
  immediateQueued = false
  grant()
}

/** Runs `work` as a turn: the turn ends once the microtasks queued meanwhile have run. */
const turn = <A>(work: () => A, options: TurnOptions, expected: number, handOver: (exit: Exit.Exit<A>) => void): void => {
  underWay++
  underWayMs += expected
  const start = performance.now()
  let exit: Exit.Exit<A>
  try {
    exit = Exit.succeed(work())
  } catch (defect) {
    exit = Exit.die(defect)
  }
  // The fiber's continuation (e.g. the step's log entry) is part of the turn: it is queued first.
  handOver(exit)
  queueMicrotask(() => {
    underWay--
    underWayMs = underWay === 0 ? 0 : underWayMs - expected
    options.cost?.record(performance.now() - start, options.items ?? 1)
    grant()
  })
}

/** A unit sized (by its items) at most `AT_ONCE_ITEMS`; one of unknown size is not small. */
const isSmall = (options: TurnOptions): boolean => options.items !== undefined && options.items <= AT_ONCE_ITEMS

/**
 * Runs `work` (synchronous, one unit) at once when its turn may begin now: a small unit always, any
 * other when nothing waits and it fits in the stretch. Returns its outcome, or `undefined` when it
 * must wait for its turn (then nothing ran: use `inTurn`). What a loop that is not a fiber calls.
 */
export const inTurnNow = <A>(work: () => A, options: TurnOptions = {}): Exit.Exit<A> | undefined => {
  const expected = options.cost?.expected(options.items ?? 1) ?? SLICE_MS
  // A small unit runs at once, even ahead of urgent ones; it still opens the stretch, and counts
  // in it while under way.
  const small = isSmall(options)
  if (small) fits(expected)
  if (!small && (hasWaiters() || !fits(expected))) return undefined
  let result: Exit.Exit<A> | undefined
  turn(work, options, expected, (exit) => {
    result = exit
  })
  return result
}

/**
 * Runs `work` (synchronous, one unit: a fold and its publishing, a chunk of a burst) in its turn:
 * at once when nothing waits and it fits in the stretch, else after the turns queued before it.
 * A queued unit's work runs when its turn comes, outside its fiber (which then goes on with the
 * result): so a turn, once given, is always used, whatever happens to the fiber meanwhile.
 */
export const inTurn = <A>(work: () => A, options: TurnOptions = {}): Effect.Effect<A> =>
  Effect.suspend(() => {
    // Decided and run in one synchronous step: a fiber may pause between any two of its steps.
    const now = inTurnNow(work, options)
    if (now !== undefined) return now
    const expected = options.cost?.expected(options.items ?? 1) ?? SLICE_MS
    const queue = options.urgent === true ? urgentWaiting : waiting
    return Effect.async<A>((resume) => {
      const waiter: Waiter = { expected, run: () => turn(work, options, expected, resume) }
      queue.push(waiter)
      if (underWay === 0) grant()
      return Effect.sync(() => {
        const at = queue.indexOf(waiter)
        if (at !== -1) queue.splice(at, 1)
      })
    })
  })
