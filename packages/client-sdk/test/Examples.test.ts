/**
 * The examples, compiled and run as their users would run them (node, after a build), against the
 * real server process: the watcher prints sessions and status changes; the approver answers an
 * approval and a question typed on its stdin.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach, beforeAll, beforeEach, expect, it } from "vitest"
import { Client } from "../src/node.js"
import { settled } from "./helpers/expectations.js"
import { startServer, type ServerProcess } from "./helpers/serverProcess.js"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const examples = path.join(root, "examples")

let server: ServerProcess
const children: Array<ChildProcess> = []
beforeAll(async () => {
  // Type-checks and compiles the examples (and, through the reference, the package).
  execFileSync(process.execPath, [path.resolve(root, "../../node_modules/typescript/bin/tsc"), "-b", examples], { stdio: "inherit" })
}, 120_000)
beforeEach(async () => {
  server = await startServer()
}, 60_000)
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGTERM")
  await server?.cleanup()
}, 60_000)

/** Runs an example; `until(re)` resolves once its output matches (bounded). */
const run = (name: string, env: Record<string, string>) => {
  const child = spawn(process.execPath, [path.join(examples, "dist", `${name}.js`)], {
    env: { ...process.env, ORBITDOCK_DATA_DIR: server.dataDir, ...env },
    stdio: ["pipe", "pipe", "pipe"]
  })
  children.push(child)
  let output = ""
  const waiters: Array<{ re: RegExp; resolve: () => void }> = []
  const check = () => {
    for (const w of waiters.slice()) {
      if (w.re.test(output)) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve()
      }
    }
  }
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    output += chunk
    check()
  })
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    output += chunk
  })
  return {
    child,
    output: () => output,
    until: (re: RegExp, timeoutMs = 15_000) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${re} in output:\n${output}`)), timeoutMs)
        waiters.push({ re, resolve: () => (clearTimeout(timer), resolve()) })
        check()
      })
  }
}

it("the watcher prints sessions and their status changes", async () => {
  const client = await Client.connect({ url: server.wsUrl(), token: server.token })
  try {
    const before = await client.createSession({ provider: "sim", cwd: "/tmp/watched", prompt: "first" })
    await client.subscribeSession(before)
    await settled(client, before, "echo: first")
    const watcher = run("watch", { ORBITDOCK_URL: server.wsUrl(), ORBITDOCK_TOKEN: server.token })
    await watcher.until(new RegExp(`${before}  sim  waiting  first`))
    const id = await client.createSession({ provider: "sim", cwd: "/tmp/watched" })
    await watcher.until(new RegExp(`\\+ ${id}  sim  waiting`))
    await client.subscribeSession(id)
    await client.sendMessage(id, "/exec make test")
    await watcher.until(new RegExp(`${id}  waiting -> working\n.*${id}  needs you`))
    await client.approveTool(id, (await client.waitFor((m) => m.sessions.get(id)?.pending_approval != null)).sessions.get(id)!.pending_approval!.id, true)
    await watcher.until(new RegExp(`${id}  no longer needs you(.|\n)*${id}  working -> waiting`))
  } finally {
    await client.close()
  }
}, 60_000)

it("the approver answers an approval and a question from the terminal", async () => {
  const client = await Client.connect({ url: server.wsUrl(), token: server.token })
  try {
    const approver = run("approve", { ORBITDOCK_SOCKET: server.socketPath() })
    await approver.until(/waiting for approvals/)
    const id = await client.createSession({ provider: "sim", cwd: "/tmp/approved" })
    await client.subscribeSession(id)
    await client.sendMessage(id, "/exec npm publish")
    await approver.until(/\$ npm publish\nApprove\?/)
    approver.child.stdin!.write("y\n")
    await settled(client, id, "echo: done")
    await approver.until(/approved/)
    await client.sendMessage(id, "/ask which branch?")
    await approver.until(/asks: which branch\?\nAnswer: /)
    approver.child.stdin!.write("main\n")
    await settled(client, id, "answer: main")
    expect(client.session(id)!.messages.find((m) => m.role === "tool")?.tool?.output).toBe("ran: npm publish")
  } finally {
    await client.close()
  }
}, 60_000)
