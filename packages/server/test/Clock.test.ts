/** Ids and times (`Clock.ts`): ids stay unique and well-formed across refills of their random pool. */
import { describe, expect, it } from "vitest"
import { newId } from "../src/Clock.js"

describe("newId", () => {
  it("gives unique ids of the prefix, a time and 12 hex digits, across many refills of its random bytes", () => {
    const ids = Array.from({ length: 5_000 }, () => newId("msg"))
    expect(new Set(ids).size).toBe(ids.length)
    for (const id of ids) expect(id).toMatch(/^msg_[0-9a-z]+[0-9a-f]{12}$/)
  })
})
