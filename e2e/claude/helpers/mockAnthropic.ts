/**
 * A scripted mock of the Anthropic Messages API (`POST /v1/messages`, streaming SSE) on 127.0.0.1,
 * good enough for the real `claude` CLI (see the shared FORMATS.md §5 for what it must accept).
 *
 * The reply is chosen from the request: the latest user prompt that carries a marker
 * `[[script:NAME]]` or `[[script:NAME:ARG]]` selects a script, and each `tool_result` after that
 * prompt moves it one step further. Any other request (e.g. compaction) gets a plain text answer.
 * Every reply's usage is recorded so tests can compute the token totals OrbitDock must show.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"

export type Block =
  | { readonly type: "text"; readonly text: string }
  | { readonly type: "thinking"; readonly thinking: string }
  | { readonly type: "tool_use"; readonly name: string; readonly input: Record<string, unknown> }

export interface Reply {
  readonly blocks: ReadonlyArray<Block>
  /** Milliseconds to wait before streaming (to keep a turn running). */
  readonly delayMs?: number
}

/** A script: the reply for step `n` (the number of tool results since the prompt). */
export type Script = (step: number, arg: string, lastToolResult: string) => Reply

export interface ServedReply {
  readonly script: string
  readonly step: number
  readonly usage: { readonly input_tokens: number; readonly output_tokens: number }
  readonly sessionId: string | undefined
}

const text = (t: string): Block => ({ type: "text", text: t })

/** The scripts the end-to-end tests use. */
export const scripts: Record<string, Script> = {
  text: (_step, arg) => ({ blocks: [text(arg.length > 0 ? arg : "Hello from the mock model.")] }),
  /** A Bash call (ARG is the command), then a text that repeats its output. */
  bash: (step, arg, result) =>
    step === 0
      ? { blocks: [text("I will run a command."), { type: "tool_use", name: "Bash", input: { command: arg, description: "Run it" } }] }
      : { blocks: [text(`The command printed: ${result}`)] },
  /** `MS|COMMAND`: like `bash`, but the first reply waits MS milliseconds. */
  slowbash: (step, arg, result) => {
    const bar = arg.indexOf("|")
    const reply = scripts.bash!(step, arg.slice(bar + 1), result)
    return step === 0 ? { ...reply, delayMs: Number(arg.slice(0, bar)) } : reply
  },
  /** A foreground subagent (ARG is its answer), then a text that quotes the subagent's result. */
  agent: (step, arg, result) =>
    step === 0
      ? {
          blocks: [
            {
              type: "tool_use",
              name: "Agent",
              input: {
                description: "Say hi",
                prompt: `[[script:text:${arg.length > 0 ? arg : "Hi from the subagent."}]] Reply with a greeting.`,
                subagent_type: "general-purpose",
                run_in_background: false
              }
            }
          ]
        }
      : { blocks: [text(`Subagent said: ${result.split("\n")[0]}`)] },
  /** A slow answer: keeps the turn running for ARG milliseconds. */
  slow: (_step, arg) => ({ blocks: [text("Finally done.")], delayMs: Number(arg) || 30_000 })
}

const MARKER = /\[\[script:([a-z]+)(?::([^\]]*))?\]\]/g

type Json = Record<string, unknown>

const textOf = (content: unknown): string => {
  if (typeof content === "string") return content
  if (!Array.isArray(content)) return ""
  return content
    .map((b: Json) => (b?.type === "text" && typeof b.text === "string" ? b.text : ""))
    .join("\n")
}

const toolResultText = (block: Json): string => {
  const c = block.content
  if (typeof c === "string") return c
  return textOf(c)
}

/** Picks the script and step for a request body. */
export const choose = (body: Json): { script: string; arg: string; step: number; last: string } => {
  const messages = Array.isArray(body.messages) ? (body.messages as Array<Json>) : []
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!
    if (m.role !== "user") continue
    // Claude merges consecutive user entries (e.g. after an interrupt): the last marker counts.
    const match = [...textOf(m.content).matchAll(MARKER)].at(-1)
    if (match === undefined) continue
    let step = 0
    let last = ""
    for (const later of messages.slice(i + 1)) {
      if (later.role !== "user" || !Array.isArray(later.content)) continue
      for (const block of later.content as Array<Json>) {
        if (block?.type === "tool_result") {
          step++
          last = toolResultText(block)
        }
      }
    }
    return { script: match[1]!, arg: match[2] ?? "", step, last }
  }
  return { script: "text", arg: "Summary of the conversation.", step: 0, last: "" }
}

let counter = 0
const nextId = (prefix: string) => `${prefix}_mock_${process.pid}_${++counter}`

const sse = (res: http.ServerResponse, event: string, data: Json) => {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
}

export interface MockAnthropic {
  readonly url: string
  /** Every reply served, in order. */
  readonly served: ReadonlyArray<ServedReply>
  readonly close: () => Promise<void>
}

/** Starts the mock on 127.0.0.1 with an ephemeral port. */
export const startMockAnthropic = async (extra: Record<string, Script> = {}): Promise<MockAnthropic> => {
  const all = { ...scripts, ...extra }
  const served: Array<ServedReply> = []
  const server = http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      if (req.method !== "POST" || !(req.url ?? "").startsWith("/v1/messages")) {
        res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ type: "error" }))
        return
      }
      let body: Json = {}
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Json
      } catch {
        // An unparsable body still gets an answer.
      }
      const chosen = choose(body)
      const script = all[chosen.script] ?? all.text!
      const reply = script(chosen.step, chosen.arg, chosen.last)
      const model = typeof body.model === "string" ? body.model : "claude-mock"
      const input_tokens = 1000 + 100 * chosen.step
      const output_tokens = 10 * reply.blocks.length + 7
      const header = req.headers["x-claude-code-session-id"]
      served.push({
        script: chosen.script,
        step: chosen.step,
        usage: { input_tokens, output_tokens },
        sessionId: typeof header === "string" ? header : undefined
      })
      const stream = () => {
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" })
        const id = nextId("msg")
        const usage = { input_tokens, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 }
        sse(res, "message_start", {
          type: "message_start",
          message: { id, type: "message", role: "assistant", model, content: [], stop_reason: null, stop_sequence: null, usage }
        })
        sse(res, "ping", { type: "ping" })
        let stop = "end_turn"
        reply.blocks.forEach((block, index) => {
          if (block.type === "text") {
            sse(res, "content_block_start", { type: "content_block_start", index, content_block: { type: "text", text: "" } })
            sse(res, "content_block_delta", { type: "content_block_delta", index, delta: { type: "text_delta", text: block.text } })
          } else if (block.type === "thinking") {
            sse(res, "content_block_start", { type: "content_block_start", index, content_block: { type: "thinking", thinking: "", signature: "" } })
            sse(res, "content_block_delta", { type: "content_block_delta", index, delta: { type: "thinking_delta", thinking: block.thinking } })
            sse(res, "content_block_delta", { type: "content_block_delta", index, delta: { type: "signature_delta", signature: "mock-signature" } })
          } else {
            stop = "tool_use"
            sse(res, "content_block_start", {
              type: "content_block_start",
              index,
              content_block: { type: "tool_use", id: nextId("toolu"), name: block.name, input: {} }
            })
            sse(res, "content_block_delta", {
              type: "content_block_delta",
              index,
              delta: { type: "input_json_delta", partial_json: JSON.stringify(block.input) }
            })
          }
          sse(res, "content_block_stop", { type: "content_block_stop", index })
        })
        sse(res, "message_delta", { type: "message_delta", delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens } })
        sse(res, "message_stop", { type: "message_stop" })
        res.end()
      }
      if (reply.delayMs !== undefined && reply.delayMs > 0) {
        const timer = setTimeout(stream, reply.delayMs)
        res.on("close", () => clearTimeout(timer))
      } else stream()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    served,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
