/** Ids and times (`Clock.ts`): from Effect's clock, so a `TestClock` sets them; ids stay unique. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { idsFrom, isoNow } from "../src/Clock.js"

describe("ids", () => {
  it.effect("are unique, of the prefix, the clock's time and 12 hex digits, across many refills of their random bytes", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(Date.UTC(2026, 11, 6))
      const newId = idsFrom(yield* Effect.clock)
      const ids = Array.from({ length: 5_000 }, () => newId("msg"))
      expect(new Set(ids).size).toBe(ids.length)
      const time = Date.UTC(2026, 11, 6).toString(36)
      for (const id of ids) expect(id).toMatch(new RegExp(`^msg_${time}[0-9a-f]{12}$`))
    }))
})

describe("times", () => {
  it.effect("are the clock's, as ISO-8601 UTC with milliseconds", () =>
    Effect.gen(function* () {
      const clock = yield* Effect.clock
      yield* TestClock.setTime(Date.UTC(2026, 11, 6, 12, 30, 15, 250))
      expect(isoNow(clock)).toBe("2026-12-06T12:30:15.250Z")
      yield* TestClock.adjust("1 second")
      expect(isoNow(clock)).toBe("2026-12-06T12:30:16.250Z")
    }))
})
