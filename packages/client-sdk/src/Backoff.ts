/**
 * Reconnect delays: exponential growth with a cap and jitter, so a restarted server is not hit by
 * every client at the same instant. Pure: the random number is passed in.
 */

export interface BackoffOptions {
  /** Delay before the first retry, in ms. */
  readonly initialMs: number
  /** The longest delay, in ms. */
  readonly maxMs: number
  /** Growth per failed attempt. */
  readonly factor: number
  /** Fraction of the delay that is randomized (0: none, 1: anywhere in [0, delay]). */
  readonly jitter: number
}

export const defaults: BackoffOptions = { initialMs: 100, maxMs: 5_000, factor: 2, jitter: 0.5 }

/** The delay before retry number `attempt` (0 for the first retry); `random` is in [0, 1). */
export const delay = (options: BackoffOptions, attempt: number, random: number): number => {
  const base = Math.min(options.maxMs, options.initialMs * Math.pow(options.factor, Math.max(0, attempt)))
  const jitter = Math.min(1, Math.max(0, options.jitter))
  return Math.round(base * (1 - jitter) + base * jitter * random)
}
