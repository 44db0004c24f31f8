/**
 * An approver: watches every session and, whenever one needs you, shows the pending approval or
 * question and answers it from the terminal. One prompt at a time; a request answered elsewhere
 * meanwhile is reported, not retried.
 *
 *   node packages/client-sdk/examples/dist/approve.js
 */
import { Errors } from "@orbitdock/client-sdk"
import type { Client } from "@orbitdock/client-sdk"
import * as readline from "node:readline/promises"
import { connectFromEnvironment } from "./connection.js"

type Mirror = Client.Client["mirror"]

const client = await connectFromEnvironment()
const terminal = readline.createInterface({ input: process.stdin, output: process.stdout })
const subscribed = new Set<string>()
const asked = new Set<string>()
let reviewing = false
let again = false

const answer = async (sessionId: string, mirror: Mirror) => {
  const session = mirror.sessions.get(sessionId as never)
  if (session === undefined) return
  const approval = session.pending_approval
  const question = session.pending_question
  if (approval !== null && !asked.has(approval.id)) {
    asked.add(approval.id)
    console.log(`\n${session.title ?? session.id} (${session.cwd}) asks to run:`)
    if (approval.command !== undefined) console.log(`  $ ${approval.command}`)
    if (approval.tool_name !== undefined) console.log(`  tool ${approval.tool_name} ${JSON.stringify(approval.input ?? {})}`)
    if (approval.diff !== undefined) console.log(approval.diff)
    if (approval.reason !== undefined) console.log(`  because: ${approval.reason}`)
    const reply = (await terminal.question("Approve? [y]es / [n]o / [a]lways in this session: ")).trim().toLowerCase()
    const approved = reply === "y" || reply === "a"
    await settle(client.approveTool(sessionId, approval.id, approved, { scope: reply === "a" ? "session" : "once" }), approved ? "approved" : "denied")
  }
  if (question !== null && !asked.has(question.id)) {
    asked.add(question.id)
    console.log(`\n${session.title ?? session.id} asks: ${question.question}`)
    if (question.options !== undefined) console.log(`  options: ${question.options.join(" | ")}`)
    const reply = await terminal.question("Answer: ")
    await settle(client.answerQuestion(sessionId, question.id, reply), "answered")
  }
}

const settle = (command: Promise<void>, done: string) =>
  command.then(
    () => console.log(done),
    (error: unknown) => {
      if (error instanceof Errors.ProtocolError && error.code === "conflict") console.log("already answered elsewhere")
      else console.log(`could not answer: ${error instanceof Error ? error.message : String(error)}`)
    }
  )

const review = (mirror: Mirror) => {
  for (const s of mirror.list?.values() ?? []) {
    // Subscribe to a session when it needs attention, to see the request itself.
    if (s.attention && !subscribed.has(s.id)) {
      subscribed.add(s.id)
      client.subscribeSession(s.id).catch(() => subscribed.delete(s.id))
    }
  }
  void prompt()
}

/** Answers what is pending, one prompt at a time; changes during a prompt trigger another pass. */
const prompt = async () => {
  if (reviewing) {
    again = true
    return
  }
  reviewing = true
  do {
    again = false
    for (const id of client.mirror.sessions.keys()) await answer(id, client.mirror)
  } while (again)
  reviewing = false
}

client.on("change", review)
await client.subscribeList()
review(client.mirror)
console.log("waiting for approvals (Ctrl-C to stop)")

const stop = () => {
  terminal.close()
  void client.close().then(() => process.exit(0))
}
process.on("SIGINT", stop)
terminal.on("close", stop)
