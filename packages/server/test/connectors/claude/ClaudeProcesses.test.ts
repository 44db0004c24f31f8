/**
 * Telling whether a watched session's claude still runs, from the pid its SessionStart hook sent:
 * against real processes (this one, a child that exited) and a pid whose start time says it is
 * another process now.
 */
import { spawn } from "node:child_process"
import { describe, expect, it } from "vitest"
import { isAlive, parsePid, startTimeOf } from "../../../src/connectors/claude/ClaudeProcesses.js"

const exitedChild = () =>
  new Promise<number>((resolve) => {
    const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" })
    child.once("exit", () => resolve(child.pid!))
  })

describe("ClaudeProcesses", () => {
  it("takes a running process for alive and an exited one for gone", async () => {
    const own = { pid: process.pid, start: startTimeOf(process.pid), transcript: null }
    expect(own.start).toMatch(/^\d+$/)
    expect(isAlive(own)).toBe(true)
    const pid = await exitedChild()
    expect(isAlive({ pid, start: null, transcript: null })).toBe(false)
  })

  it("does not take another process that got the pid for the recorded one", () => {
    const start = startTimeOf(process.pid)!
    expect(isAlive({ pid: process.pid, start: String(Number(start) + 1), transcript: null })).toBe(false)
    // Where no start time was recorded (no /proc), the pid alone decides.
    expect(isAlive({ pid: process.pid, start: null, transcript: null })).toBe(true)
  })

  it("reads the hook's pid header, and refuses what is not a pid", () => {
    expect(parsePid("4242")).toBe(4242)
    expect(parsePid(" 4242\n")).toBe(4242)
    for (const bad of [undefined, "", "$PPID", "-1", "0", "1", "12ab", "99999999999", "1e3"]) expect(parsePid(bad)).toBeUndefined()
  })
})
