/**
 * The pool of buffers for answers written from message-page text: what is copied is the UTF-8 of
 * the chunks; a buffer given back is reused for the next answer that fits, and only then.
 */
import { describe, expect, it } from "vitest"
import * as AnswerBuffers from "../../src/http/AnswerBuffers.js"

const text = (json: AnswerBuffers.PooledJson) => json.buffer.toString("utf8", 0, json.length)

describe("AnswerBuffers", () => {
  it("copies the chunks as UTF-8, whatever their characters", () => {
    const chunks = ['{"a":"é', "\u2028", '🚀","b":[', "1,2", "]}"]
    const json = AnswerBuffers.copy(chunks)
    expect(json.length).toBe(Buffer.byteLength(chunks.join("")))
    expect(JSON.parse(text(json))).toEqual({ a: "é\u2028🚀", b: [1, 2] })
  })

  it("reuses a buffer only once it is given back, for an answer that fits", () => {
    const first = AnswerBuffers.copy(["x".repeat(100_000)])
    const second = AnswerBuffers.copy(["y".repeat(100_000)])
    // Both in use at once: two buffers, each with its own text.
    expect(second.buffer === first.buffer).toBe(false)
    expect(text(first) === "x".repeat(100_000)).toBe(true)
    AnswerBuffers.give(first)
    const third = AnswerBuffers.copy(["z".repeat(50_000)])
    expect(third.buffer === first.buffer).toBe(true)
    expect(text(third) === "z".repeat(50_000)).toBe(true)
    expect(text(second) === "y".repeat(100_000)).toBe(true)
    // Too large for any free buffer: a new one.
    AnswerBuffers.give(third)
    const large = AnswerBuffers.copy(["w".repeat(1_000_000)])
    expect(large.buffer === first.buffer).toBe(false)
    expect(text(large) === "w".repeat(1_000_000)).toBe(true)
    AnswerBuffers.give(second)
    AnswerBuffers.give(large)
  })

  it("does not keep buffers past its size limit", () => {
    const huge = AnswerBuffers.copy(["h".repeat(17 * 1024 * 1024)])
    AnswerBuffers.give(huge)
    expect(AnswerBuffers.copy(["h".repeat(17 * 1024 * 1024)]).buffer === huge.buffer).toBe(false)
  })
})
