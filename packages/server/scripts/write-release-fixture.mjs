/**
 * Writes the release fixture for the upgrade test (`test/eventlog/ReleaseFixture.test.ts`): an event
 * log written by this build, and every session's state and the rules in force as this build serves them. Run it from a
 * release's build (`npm run build` first) and commit the result under
 * `test/fixtures/releases/<version>/`; later versions must open that log and replay every session
 * to the same state.
 *
 *   node packages/server/scripts/write-release-fixture.mjs
 *
 * The sessions cover what the log holds: plain turns, an approval granted and one denied, a question
 * answered, a burst long enough to be paged out of the snapshot, an interrupted turn, an ended
 * session, an attention marked seen, and approval rules added and removed. Every turn is over when
 * the server stops, so a restart adds nothing.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import WebSocket from "ws"

const here = path.dirname(fileURLToPath(import.meta.url))
const bin = path.resolve(here, "../dist/bundle/bin.js")
const version = JSON.parse(fs.readFileSync(path.resolve(here, "../package.json"), "utf8")).version
const out = path.resolve(here, `../test/fixtures/releases/${version}`)
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-fixture-"))

const child = spawn(process.execPath, [bin, "serve", "--port", "0", "--socket", "none", "--data-dir", dataDir, "--log-level", "warn"], {
  stdio: ["ignore", "pipe", "inherit"],
  env: { ...process.env, ORBITDOCK_TOKEN: "" }
})
const listening = await new Promise((resolve, reject) => {
  let buffered = ""
  child.stdout.on("data", (chunk) => {
    buffered += chunk
    const line = buffered.split("\n").find((l) => l.includes('"listening"'))
    if (line !== undefined) resolve(JSON.parse(line))
  })
  child.once("exit", (code) => reject(new Error(`the server exited (${code})`)))
})
const token = fs.readFileSync(path.join(dataDir, "token"), "utf8").trim()
const base = `http://127.0.0.1:${listening.port}`
const http = async (pathname) => {
  const response = await fetch(`${base}${pathname}`, { headers: { authorization: `Bearer ${token}` } })
  if (!response.ok) throw new Error(`${pathname}: ${response.status}`)
  return response.json()
}

// Whatever goes wrong below, the server goes with this script.
process.on("exit", () => child.kill("SIGKILL"))

const ws = new WebSocket(`ws://127.0.0.1:${listening.port}/ws`, ["orbitdock.v1.json"], { headers: { authorization: `Bearer ${token}` } })
await new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)))
let nextId = 0
const waiting = new Map()
ws.on("message", (data) => {
  const message = JSON.parse(String(data))
  const pending = message.id == null ? undefined : waiting.get(message.id)
  if (pending !== undefined) {
    waiting.delete(message.id)
    pending(message)
  }
})
const request = (message) =>
  new Promise((resolve, reject) => {
    const id = `f${nextId++}`
    waiting.set(id, (answer) => (answer.type === "error" ? reject(new Error(`${message.type}: ${answer.message}`)) : resolve(answer)))
    ws.send(JSON.stringify({ ...message, id }))
  })
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
/** Polls the session's state until `ready` says so. */
const until = async (sessionId, ready) => {
  for (let i = 0; i < 600; i++) {
    const state = await http(`/api/sessions/${sessionId}`)
    if (ready(state)) return state
    await sleep(50)
  }
  throw new Error(`${sessionId} never got there`)
}
const idle = (state) => state.status !== "working" && state.pending_approval === null && state.pending_question === null
const create = async (cwd) => (await request({ type: "create_session", provider: "sim", cwd })).session_id
const turn = async (sessionId, content) => {
  await request({ type: "send_message", session_id: sessionId, content })
  return until(sessionId, idle)
}

const talker = await create("/work/talker")
for (let i = 0; i < 5; i++) await turn(talker, `question number ${i}: what changed?`)

const approver = await create("/work/approver")
for (const [command, approved] of [["make deploy", true], ["rm -rf build", false]]) {
  await request({ type: "send_message", session_id: approver, content: `/exec ${command}` })
  const asked = await until(approver, (s) => s.pending_approval !== null)
  await request({ type: "approve_tool", session_id: approver, request_id: asked.pending_approval.id, approved })
  await until(approver, idle)
}

const asker = await create("/work/asker")
await request({ type: "send_message", session_id: asker, content: "/ask which branch?" })
const question = await until(asker, (s) => s.pending_question !== null)
await request({ type: "answer_question", session_id: asker, request_id: question.pending_question.id, answer: "main" })
await until(asker, idle)
await request({ type: "mark_attention", session_id: asker, seen: true })

// Long enough that older messages live in pages, not in the snapshot.
const burster = await create("/work/burster")
await turn(burster, "/burst 600")

const interrupted = await create("/work/interrupted")
await request({ type: "send_message", session_id: interrupted, content: "/sleep 600000" })
await until(interrupted, (s) => s.status === "working")
await request({ type: "interrupt_session", session_id: interrupted })
await until(interrupted, idle)

const ended = await create("/work/ended")
await turn(ended, "one turn, then the end")
await request({ type: "end_session", session_id: ended })
await until(ended, (s) => s.status === "ended")

const added = await request({
  type: "add_rule",
  rule: { effect: "allow", scope: { kind: "global" }, match: { command: "npm test" }, note: "tests are safe" }
})
await request({
  type: "add_rule",
  rule: { effect: "deny", scope: { kind: "global" }, match: { command: "git push --force *" }, note: "never rewrite shared history" }
})
await request({ type: "remove_rule", rule_id: added.rule.id })

// Everything committed and snapshotted: the writer flushes within its interval.
await sleep(1500)
const sessions = await http("/api/sessions")
const states = {}
for (const summary of sessions.sessions ?? sessions) states[summary.id] = await http(`/api/sessions/${summary.id}`)
const rules = await http("/api/rules")
ws.close()
child.kill("SIGTERM")
await new Promise((resolve) => child.once("exit", resolve))

fs.rmSync(out, { recursive: true, force: true })
fs.mkdirSync(out, { recursive: true })
fs.copyFileSync(path.join(dataDir, "orbitdock.db"), path.join(out, "orbitdock.db"))
if (fs.existsSync(path.join(dataDir, "orbitdock.db-wal"))) throw new Error("the log was not checkpointed at shutdown")
fs.writeFileSync(
  path.join(out, "states.json"),
  `${JSON.stringify({ version, written_at: new Date().toISOString(), rules, sessions: states }, null, 1)}\n`
)
fs.rmSync(dataDir, { recursive: true, force: true })
console.log(`wrote ${out}: ${Object.keys(states).length} sessions`)
