import { describe, expect, it } from "vitest"
import * as Backoff from "../src/Backoff.js"

describe("Backoff.delay", () => {
  const options: Backoff.BackoffOptions = { initialMs: 100, maxMs: 2_000, factor: 2, jitter: 0.5 }

  it("grows exponentially up to the cap", () => {
    const noJitter = { ...options, jitter: 0 }
    expect([0, 1, 2, 3, 4, 5, 10].map((n) => Backoff.delay(noJitter, n, 0.7))).toEqual([100, 200, 400, 800, 1600, 2000, 2000])
  })

  it("randomizes the jitter fraction only", () => {
    expect(Backoff.delay(options, 2, 0)).toBe(200)
    expect(Backoff.delay(options, 2, 0.999999)).toBe(400)
    for (let i = 0; i < 100; i++) {
      const d = Backoff.delay(options, 3, Math.random())
      expect(d).toBeGreaterThanOrEqual(400)
      expect(d).toBeLessThanOrEqual(800)
    }
  })
})
