/**
 * The loss window, for real: a client subscribed to a sim session running `/burst 20000` on a real
 * server process, SIGKILLed at random instants of the burst (fixed seed), restarted on the same
 * data. Everything the client was shown more than 250 ms before the kill must be in the restarted
 * server's history (compared by content), and the prompt that started the turn always survives:
 * the server holds producers back by what its writer commits, instead of showing far more than is
 * durable.
 */
import { performance } from "node:perf_hooks"
import { afterEach, describe, expect, it } from "vitest"
import { type ServerProcess, serverKeeper } from "./helpers/serverProcess.js"

const WINDOW_MS = 250
/** Kill instants, in ms after the client was shown the burst's first message. */
const KILL_AFTER_MS = ((seed: number) => {
  // mulberry32: a fixed seed gives the same instants on every run.
  const next = () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return Array.from({ length: 5 }, () => Math.round(next() * 800))
})(14)

const keeper = serverKeeper()
afterEach(keeper.stopAll)
const start = (dataDir: string) => keeper.start(dataDir)

/** The contents of every message in the session's served history. */
const servedContents = async (server: ServerProcess, id: string): Promise<Set<string>> => {
  const { status, body } = await server.http(`/api/sessions/${id}`)
  expect(status).toBe(200)
  return new Set((body.messages as Array<{ role: string; content: string }>).map((m) => `${m.role}:${m.content}`))
}

describe("the loss window of a burst", () => {
  it(`keeps everything shown more than ${WINDOW_MS} ms before a SIGKILL, and the prompt`, async () => {
    const figures: Array<string> = []
    // Checked once every instant has run, so the figures of all of them are printed.
    const promptsLost: Array<number> = []
    const oldLost: Array<string> = []
    for (const killAfter of KILL_AFTER_MS) {
      const dataDir = keeper.dataDir("orbitdock-losswindow-")
        const first = await start(dataDir)
      const client = await first.connect()
      const ack = await client.request({ type: "create_session", provider: "sim", cwd: "/work" })
      const id = (ack as { session_id: string }).session_id
      expect((await client.request({ type: "subscribe_session", session_id: id })).type).toBe("ack")
      // When the client was shown each message (its role and content), in order. The test client's
      // own listener, registered first, has already decoded the frame when this one runs.
      const shown: Array<{ readonly at: number; readonly key: string }> = []
      let cursor = client.messages.length
      client.ws.on("message", () => {
        const at = performance.now()
        for (; cursor < client.messages.length; cursor++) {
          const m = client.messages[cursor]!
          if (m.type === "message_appended") shown.push({ at, key: `${m.message.role}:${m.message.content}` })
        }
      })
      const prompt = "/burst 20000"
      expect((await client.request({ type: "send_message", session_id: id, content: prompt })).type).toBe("ack")
      await client.waitFor((m) => m.type === "message_appended" && m.message.content === "burst 1", 30_000)
      const begun = shown.find((s) => s.key === "assistant:burst 1")!.at
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, begun + killAfter - performance.now())))
      const killedAt = performance.now()
      await first.kill("SIGKILL")

      const second = await start(dataDir)
      const durable = await servedContents(second, id)
      const old = shown.filter((s) => s.at < killedAt - WINDOW_MS)
      const lost = shown.filter((s) => !durable.has(s.key))
      const oldestLost = lost.length === 0 ? 0 : killedAt - Math.min(...lost.map((s) => s.at))
      figures.push(
        `kill ${killAfter} ms into the burst: shown ${shown.length}, durable ${durable.size}, ` +
          `lost ${lost.length} (shown at most ${oldestLost.toFixed(0)} ms before the kill)`
      )
      if (!durable.has(`user:${prompt}`)) promptsLost.push(killAfter)
      oldLost.push(...old.filter((s) => !durable.has(s.key)).map((s) => `${killAfter} ms: ${s.key}`))
      await second.kill("SIGKILL")
    }
    console.log(`loss window:\n  ${figures.join("\n  ")}`)
    expect(promptsLost).toStrictEqual([])
    expect(oldLost.slice(0, 10)).toStrictEqual([])
  }, 180_000)
})
