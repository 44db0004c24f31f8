/**
 * Fuzz, against a real server process: thousands of arbitrary WebSocket frames (every client message
 * type, right and wrong values in every field, non-JSON values and extension types in msgpack, deep
 * nesting, huge numbers and strings, lying and oversized frames) and HTTP requests to every route
 * (hook bodies included), from a fixed seed. Throughout, the server answers `/health`, a bystander
 * client's commands are acked and its subscription receives live events, every message with a valid
 * id is answered exactly once, nothing is answered `internal`, and no connection is closed but the
 * one that sent a frame past the 2 MiB cut-off.
 *
 * `npm run fuzz` runs it longer: ORBITDOCK_FUZZ_RUNS (frames, default 2000), ORBITDOCK_FUZZ_SEED.
 */
import { MAX_FRAME_BYTES, type ServerMessage, PROTOCOL_MINOR } from "@orbitdock/domain"
import * as fc from "fast-check"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { inspect } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  encodeMessage,
  FRESH_ID,
  type HttpInput,
  httpInput,
  KnownSession,
  type WsInput,
  wsInput
} from "../helpers/fuzzInputs.js"
import { type ServerProcess, startServerProcess } from "../helpers/serverProcess.js"
import type { TestClient } from "../helpers/testServer.js"

const RUNS = Number(process.env.ORBITDOCK_FUZZ_RUNS ?? 2000)
const SEED = Number(process.env.ORBITDOCK_FUZZ_SEED ?? 14)
const BATCH = 50
const HTTP_PER_BATCH = 4
const CHECK_EVERY = 5

type Reply = ServerMessage & { type: "ack" | "error" }
const isReply = (m: ServerMessage): m is Reply => m.type === "ack" || m.type === "error"

/** Whether a value is what the server accepts as data once encoded this way (the test's oracle). */
const isPlain = (value: unknown, encoding: "json" | "msgpack", depth = 0): boolean => {
  if (depth > 64) return false
  if (value === null || typeof value === "string" || typeof value === "boolean") return true
  // JSON.stringify writes NaN and ±Infinity as null and leaves out undefined.
  if (typeof value === "number") return encoding === "json" || Number.isFinite(value)
  if (value === undefined) return encoding === "json"
  if (Array.isArray(value)) return value.every((v) => isPlain(v, encoding, depth + 1))
  if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.values(value).every((v) => isPlain(v, encoding, depth + 1))
  }
  return false
}

describe("fuzz: arbitrary frames and requests against a real server", () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-fuzz-"))
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-fuzz-home-"))
  let server: ServerProcess
  beforeAll(async () => {
    // No agents of the machine: an empty home, binaries that do not exist; held permission prompts
    // expire quickly, and PreToolUse is held too.
    server = await startServerProcess(dataDir, ["--claude-bin", "/nonexistent/claude", "--codex-bin", "/nonexistent/codex"], {
      HOME: home,
      CLAUDE_CONFIG_DIR: path.join(home, ".claude"),
      CODEX_HOME: path.join(home, ".codex"),
      ORBITDOCK_CODEX_WATCH: "0",
      ORBITDOCK_CLAUDE_PERMISSION_TIMEOUT_MS: "200",
      ORBITDOCK_CLAUDE_HOLD_PRETOOLUSE: "*"
    })
  })
  afterAll(async () => {
    await server?.kill("SIGTERM")
    fs.rmSync(dataDir, { recursive: true, force: true })
    fs.rmSync(home, { recursive: true, force: true })
  })

  /** Any HTTP request with the token; resolves with the status and text (never throws on content). */
  const request = (input: HttpInput, timeoutMs: number) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request(
        {
          host: "127.0.0.1",
          port: server.port,
          method: input.method,
          path: input.path,
          headers: {
            authorization: `Bearer ${server.token}`,
            accept: input.accept,
            "content-type": "application/json",
            // Node sends a GET's or an OPTIONS' body with neither a length nor chunks unless told.
            ...(input.body === undefined ? {} : { "content-length": String(Buffer.byteLength(input.body)) })
          },
          agent: false
        },
        (res) => {
          const chunks: Array<Buffer> = []
          res.on("data", (chunk: Buffer) => chunks.push(chunk))
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }))
          res.on("error", reject)
        }
      )
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer in ${timeoutMs} ms to ${input.method} ${input.path.slice(0, 80)}`)))
      req.on("error", (error) => {
        // A body over 16 MiB would be cut off; ours stay below, but a 413 may close before we finish writing.
        if ((error as NodeJS.ErrnoException).code === "EPIPE" || (error as NodeJS.ErrnoException).code === "ECONNRESET") {
          resolve({ status: 413, text: "" })
        } else reject(error)
      })
      req.end(input.body)
    })

  it(`${RUNS} frames, ${Math.ceil(RUNS / BATCH) * HTTP_PER_BATCH} HTTP requests (seed ${SEED}): the server and its other clients are unaffected`, async () => {
    const bystander = await server.connect("msgpack")
    const created = await bystander.request({ type: "create_session", provider: "sim", cwd: "/bystander" })
    const watched = (created as { session_id: string }).session_id
    expect((await bystander.request({ type: "subscribe_session", session_id: watched })).type).toBe("ack")
    expect((await bystander.request({ type: "subscribe_list" })).type).toBe("ack")

    const clients: Record<"json" | "msgpack", TestClient> = { json: await server.connect("json"), msgpack: await server.connect("msgpack") }
    const known: Array<string> = []
    for (let i = 0; i < 3; i++) {
      const ack = await clients.json.request({ type: "create_session", provider: "sim", cwd: "/fuzz" })
      known.push((ack as { session_id: string }).session_id)
    }
    const knownSession = (index: number) => known[index % known.length]

    let nextId = 0
    // Valid ids sent and not answered yet (with their connection), and how often each was answered.
    const unanswered = new Map<string, "json" | "msgpack">()
    const answers = new Map<string, number>()
    // Fresh ids (each sent once), and every valid id sent (fuzzed ones can be valid too).
    const freshIds = new Set<string>()
    const validIds = new Set<string>()
    /** What the current batch sent, described only for the report when something fails. */
    let sent: Array<() => string> = []
    let pings = 0

    /** Takes in what a connection received: counts answers, learns created sessions, then forgets it. */
    const tally = (client: TestClient) => {
      for (const m of client.messages) {
        if (!isReply(m)) continue
        expect(m.type === "error" ? m.code : "ack", JSON.stringify(m).slice(0, 300)).not.toBe("internal")
        if (m.id === undefined || m.id === null) continue
        // An id is echoed only when it was a valid one.
        expect(validIds.has(m.id) || /^(raw|r)\d+$/.test(m.id), `answered with id ${m.id.slice(0, 200)}`).toBe(true)
        answers.set(m.id, (answers.get(m.id) ?? 0) + 1)
        unanswered.delete(m.id)
        if (m.type === "ack" && typeof m.session_id === "string" && known.length < 50 && !known.includes(m.session_id)) known.push(m.session_id)
      }
      // A long run would otherwise keep every message the fuzzed sessions ever sent.
      client.messages.length = 0
      client.frames.length = 0
    }

    const check = async () => {
      const health = await request({ method: "GET", path: "/health", accept: "*/*" }, 10_000)
      expect(health.status).toBe(200)
      expect(JSON.parse(health.text)).toMatchObject({ status: "ok", protocol: 1, protocol_minor: PROTOCOL_MINOR })
      const content = `ping ${++pings}`
      const ack = await bystander.request({ type: "send_message", session_id: watched, content }, 10_000)
      expect(ack).toMatchObject({ type: "ack" })
      // Live on its subscription: the reply, then the end of the turn (so the next ping finds the sim idle).
      await bystander.next((m) => m.type === "message_updated" && m.session_id === watched && m.changes.content === `echo: ${content}`, 10_000)
      await bystander.next((m) => m.type === "session_delta" && m.session_id === watched && m.changes.status === "waiting", 10_000)
      for (const [name, client] of Object.entries(clients)) {
        expect(client.ws.readyState, `the ${name} fuzz connection was closed`).toBe(client.ws.OPEN)
      }
    }

    /** A frame past the 2 MiB cut-off goes on a connection of its own: the WebSocket layer closes it (1009). */
    const cutOff = async (data: string | Buffer) => {
      const throwaway = await server.connect()
      throwaway.send(data)
      expect((await throwaway.closed).code).toBe(1009)
    }

    /** Sends one input on its connection, noting the fresh id it must be answered with, if any. */
    const send = async (input: WsInput): Promise<void> => {
      if (input._tag === "raw") {
        const data = typeof input.data === "string" ? input.data.replace("\u0000ID\u0000", `raw${++nextId}`) : input.data
        sent.push(() => `${input.encoding} ${input.note} (${Buffer.byteLength(data)} bytes)`)
        if (Buffer.byteLength(data) > 2 * MAX_FRAME_BYTES) return cutOff(data)
        clients[input.encoding].send(data)
        return
      }
      let fresh: string | undefined
      const message: Record<string, unknown> = {}
      for (const [key, value] of Object.entries(input.message)) {
        if (value === FRESH_ID) message[key] = fresh = `f${++nextId}`
        else if (value instanceof KnownSession) message[key] = knownSession(value.index)
        else message[key] = value
      }
      let data: string | Buffer
      try {
        data = encodeMessage(input, message)
      } catch {
        // Only the extensions packer can pack a BigInt this large.
        data = encodeMessage({ ...input, packer: "extensions" }, message)
      }
      const bytes = Buffer.byteLength(data)
      sent.push(() => `${input.encoding}/${input.packer} (${bytes} bytes) ${inspect(message, { depth: 3, maxStringLength: 80, maxArrayLength: 5, breakLength: Infinity })}`)
      if (fresh !== undefined) freshIds.add(fresh)
      if (typeof message.id === "string" && message.id.length <= 128) validIds.add(message.id)
      if (bytes > 2 * MAX_FRAME_BYTES) return cutOff(data)
      const answered =
        fresh !== undefined &&
        (input.packer === "plain" || input.packer === "extensions") &&
        isPlain(message, input.encoding) &&
        bytes <= MAX_FRAME_BYTES
      if (answered) unanswered.set(fresh!, input.encoding)
      clients[input.encoding].send(data)
    }

    const runBatch = async (batch: number, size: number) => {
      sent = []
      for (const input of fc.sample(wsInput, { seed: SEED + batch, numRuns: size })) await send(input)
      const requests = fc.sample(httpInput, { seed: SEED * 7919 + batch, numRuns: HTTP_PER_BATCH }).map((input) => ({
        ...input,
        path: input.path.replace("\u0000S\u0000", encodeURIComponent(knownSession(batch)))
      }))
      for (const r of requests) sent.push(() => `HTTP ${r.method} ${r.path.slice(0, 100)} ${String(r.body ?? "").slice(0, 200)}`)
      const results = await Promise.all(requests.map((input) => request(input, 10_000)))
      results.forEach((result, i) => {
        const what = `${requests[i].method} ${requests[i].path.slice(0, 100)} ${String(requests[i].body ?? "").slice(0, 200)}`
        expect(result.status, what).toBeGreaterThanOrEqual(200)
        expect(result.status, `${what}: ${result.text.slice(0, 300)}`).toBeLessThan(500)
        expect(result.text).not.toMatch(/root:.*:0:0:/)
      })
      // A barrier on each connection, then every message with a valid id must have been answered
      // (acks about different sessions may come out of order: a late one is waited for).
      for (const client of Object.values(clients)) expect((await client.request({ type: "unsubscribe_list" }, 20_000)).type).toBe("ack")
      for (const client of Object.values(clients)) tally(client)
      for (const [id, encoding] of [...unanswered]) {
        await clients[encoding].waitFor((m) => isReply(m) && m.id === id, 20_000)
        tally(clients[encoding])
      }
      if (batch % CHECK_EVERY === CHECK_EVERY - 1) await check()
    }

    const batches = Math.ceil(RUNS / BATCH)
    for (let batch = 0; batch < batches; batch++) {
      try {
        await runBatch(batch, Math.min(BATCH, RUNS - batch * BATCH))
      } catch (error) {
        const { exitCode, signalCode } = server.child
        throw new Error(
          `${error instanceof Error ? error.message : String(error)}\n` +
            `in batch ${batch} (seed ${SEED}); server ${exitCode === null && signalCode === null ? "running" : `exited (${exitCode ?? signalCode})`}\n` +
            `server stderr (end): ${server.stderr().slice(-3000)}\n` +
            `the batch sent:\n${sent.map((describe) => describe()).join("\n")}`
        )
      }
    }
    await check()

    // Exactly one answer per valid id; no answer was an internal error; the server logged no failure to send.
    for (const [id, count] of answers) if (freshIds.has(id)) expect(count, id).toBe(1)
    expect([...unanswered.keys()]).toEqual([])
    expect(server.child.exitCode).toBeNull()
    expect(server.stderr()).not.toMatch(/closing the connection|writing the answer failed|reading a frame failed/)
  }, 120_000 + RUNS * 60)
})
