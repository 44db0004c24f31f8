import { describe, expect, it } from "vitest"
import * as Format from "../src/logic/format.js"
import * as History from "../src/logic/history.js"
import { deviceName } from "../src/logic/deviceName.js"
import * as Token from "../src/token.js"

describe("formatting", () => {
  it("abbreviates token counts", () => {
    expect([0, 950, 1000, 12_345, 999_999, 4_200_000, 123_000_000].map(Format.tokens)).toEqual(["0", "950", "1k", "12.3k", "1000k", "4.2M", "123M"])
  })
  it("says how long ago", () => {
    const now = Date.parse("2026-01-01T12:00:00Z")
    expect(Format.ago("2026-01-01T12:00:00Z", now)).toBe("now")
    expect(Format.ago("2026-01-01T11:59:18Z", now)).toBe("42s")
    expect(Format.ago("2026-01-01T11:55:00Z", now)).toBe("5m")
    expect(Format.ago("2026-01-01T09:00:00Z", now)).toBe("3h")
    expect(Format.ago("2025-12-30T12:00:00Z", now)).toBe("2d")
    expect(Format.ago(undefined, now)).toBe("–")
    expect(Format.ago("garbage", now)).toBe("–")
  })
  it("shows a local wall-clock time with seconds, 24-hour", () => {
    const at = new Date(2026, 0, 1, 14, 2, 7)
    expect(Format.clock(at.toISOString())).toBe("14:02:07")
    expect(Format.clock(new Date(2026, 0, 1, 9, 5, 0).toISOString())).toBe("09:05:00")
    expect(Format.clock(new Date(2026, 0, 1, 0, 0, 59).toISOString())).toBe("00:00:59")
    expect(Format.clock(undefined)).toBe("")
    expect(Format.clock("garbage")).toBe("")
  })
  it("names a cwd by its last segment", () => {
    expect(Format.basename("/home/me/project/")).toBe("project")
    expect(Format.basename("/")).toBe("/")
  })
})

describe("history scrubber", () => {
  it("reads the state at a revision and the event that made it", () => {
    expect(History.stateAtPath("ses 1", 7)).toBe("/api/sessions/ses%201?at_revision=7")
    expect(History.eventAtPath("s", 7)).toBe("/api/sessions/s/events?after=6&limit=1")
    expect(History.eventAtPath("s", 1)).toBe("/api/sessions/s/events?after=0&limit=1")
  })
  it("keeps the revision within 1…latest", () => {
    expect(History.clamp(0, 10)).toBe(1)
    expect(History.clamp(11, 10)).toBe(10)
    expect(History.clamp(4.6, 10)).toBe(5)
    expect(History.clamp(3, 0)).toBe(1)
    expect(History.eventLabel("message_appended")).toBe("message appended")
  })
})

describe("the token in the URL", () => {
  it("is taken out of the URL, the rest kept", () => {
    expect(Token.split("http://127.0.0.1:4000/?token=abc")).toEqual({ token: "abc", cleanHref: "http://127.0.0.1:4000/" })
    expect(Token.split("http://127.0.0.1:4000/?x=1&token=abc#/s/ses_1")).toEqual({ token: "abc", cleanHref: "http://127.0.0.1:4000/?x=1#/s/ses_1" })
    expect(Token.split("http://127.0.0.1:4000/#/new")).toEqual({ token: null, cleanHref: "http://127.0.0.1:4000/#/new" })
    expect(Token.split("http://127.0.0.1:4000/?token=")).toEqual({ token: null, cleanHref: "http://127.0.0.1:4000/" })
  })
  it("is taken from the fragment (what `orbitdock open` forwards to), the fragment dropped", () => {
    expect(Token.split("http://127.0.0.1:4000/#token=abc")).toEqual({ token: "abc", cleanHref: "http://127.0.0.1:4000/" })
    expect(Token.split("http://127.0.0.1:4000/#token=a%2Bb")).toEqual({ token: "a+b", cleanHref: "http://127.0.0.1:4000/" })
    expect(Token.split("http://127.0.0.1:4000/?x=1#token=abc")).toEqual({ token: "abc", cleanHref: "http://127.0.0.1:4000/?x=1" })
    expect(Token.split("http://127.0.0.1:4000/#token=")).toEqual({ token: null, cleanHref: "http://127.0.0.1:4000/" })
    expect(Token.split("http://127.0.0.1:4000/#/s/token=abc")).toEqual({ token: null, cleanHref: "http://127.0.0.1:4000/#/s/token=abc" })
  })
})

describe("a pairing link", () => {
  it("gives its code once, the fragment dropped; a token link is not a pairing link", () => {
    expect(Token.splitPairCode("http://box.local:4000/#pair=ABCD-EFGH")).toEqual({ code: "ABCD-EFGH", cleanHref: "http://box.local:4000/" })
    expect(Token.splitPairCode("http://box.local:4000/#pair=")).toEqual({ code: null, cleanHref: "http://box.local:4000/" })
    expect(Token.splitPairCode("http://box.local:4000/#token=abc")).toEqual({ code: null, cleanHref: "http://box.local:4000/#token=abc" })
    expect(Token.split("http://box.local:4000/#pair=ABCD-EFGH").token).toBeNull()
  })
  it("tells a typed pairing code from a token", () => {
    expect(Token.looksLikePairCode("abcd-efgh")).toBe(true)
    expect(Token.looksLikePairCode(" ABCDEFGH ")).toBe(true)
    expect(Token.looksLikePairCode("a".repeat(64))).toBe(false)
  })
})

describe("a device's name from its user agent", () => {
  it("names the system and the browser", () => {
    const iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
    const pixel = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Mobile Safari/537.36"
    const edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36 Edg/125.0.0.0"
    const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0"
    expect(deviceName(iphone)).toBe("iPhone · Safari")
    expect(deviceName(pixel)).toBe("Android · Chrome")
    expect(deviceName(edge)).toBe("Windows · Edge")
    expect(deviceName(firefox)).toBe("Linux · Firefox")
    expect(deviceName("curl/8.0")).toBe("browser")
  })
})

