/**
 * A scripted mock of the OpenAI Responses API (`POST /v1/responses`, streamed as SSE) on 127.0.0.1,
 * for running the real `codex` binary offline. It owns only the model side: each reply is decided
 * from the request alone, so one mock serves every test of a file, concurrently.
 *
 * The latest user message picks the scenario with a marker `SCENARIO:<name> <argument>`:
 * - `text ARG` (also: no marker): a reasoning summary, then `Hello! You said: ARG` streamed in chunks.
 * - `shell CMD`: an `exec_command` call running CMD; the follow-up reports the tool output.
 * - `patch PATH`: an `apply_patch` call adding the file PATH; the follow-up reports the tool output.
 * - `fail`: the response fails upstream (`response.failed`).
 * - `slow`: a long answer, one chunk every 100 ms, until the client goes away (interrupt, kill);
 *   `slow N`: N chunks, then the answer completes.
 * A request whose last input item is a tool output is a follow-up: `Done. The tool reported:\n<output>`.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"

/** What the mock saw of one request (for assertions on what Codex sent). */
export interface RecordedRequest {
  readonly scenario: string
  readonly followUp: boolean
  readonly inputLength: number
  readonly promptCacheKey: string | undefined
  readonly lastUserText: string
  readonly toolOutput: string | undefined
}

export interface MockModel {
  /** The provider `base_url` (Codex appends `/responses`). */
  readonly baseUrl: string
  readonly requests: ReadonlyArray<RecordedRequest>
  readonly close: () => Promise<void>
}

interface InputItem {
  readonly type?: string
  readonly role?: string
  readonly content?: ReadonlyArray<{ readonly type?: string; readonly text?: string }> | string
  readonly output?: unknown
}

const textOf = (item: InputItem): string =>
  typeof item.content === "string"
    ? item.content
    : (item.content ?? []).map((part) => part.text ?? "").join("")

const outputText = (output: unknown): string => {
  if (typeof output === "string") return output
  if (Array.isArray(output)) return output.map((part: { text?: string }) => part.text ?? "").join("")
  return JSON.stringify(output)
}

const chunks = (text: string, size: number): Array<string> => {
  const out: Array<string> = []
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size))
  return out
}

const usage = (input: number, output: number) => ({
  input_tokens: input,
  input_tokens_details: { cached_tokens: 0 },
  output_tokens: output,
  output_tokens_details: { reasoning_tokens: 3 },
  total_tokens: input + output
})

export const startMockModel = async (): Promise<MockModel> => {
  const requests: Array<RecordedRequest> = []
  const sockets = new Set<import("node:net").Socket>()
  let counter = 0
  const nextId = (prefix: string) => `${prefix}_mock_${process.pid}_${++counter}`

  const server = http.createServer((req, res) => {
    const body: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => body.push(chunk))
    req.on("end", () => {
      if (req.method !== "POST" || !req.url?.endsWith("/responses")) {
        res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: "not found" }))
        return
      }
      let parsed: { input?: ReadonlyArray<InputItem>; prompt_cache_key?: string }
      try {
        parsed = JSON.parse(Buffer.concat(body).toString("utf8"))
      } catch {
        res.writeHead(400).end()
        return
      }
      respond(parsed, res)
    })
  })
  server.on("connection", (socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
  })

  const respond = (
    body: { input?: ReadonlyArray<InputItem>; prompt_cache_key?: string },
    res: http.ServerResponse
  ) => {
    const input = body.input ?? []
    const last = input[input.length - 1]
    const followUp = last?.type === "function_call_output" || last?.type === "custom_tool_call_output"
    const users = input.filter((item) => item.type === "message" && item.role === "user")
    const lastUserText = users.length > 0 ? textOf(users[users.length - 1]!) : ""
    const match = /SCENARIO:(\w+)\s*([\s\S]*)$/.exec(lastUserText)
    const scenario = match?.[1] ?? "text"
    const argument = (match?.[2] ?? lastUserText).trim()
    const toolOutput = followUp ? outputText(last?.output) : undefined
    requests.push({
      scenario,
      followUp,
      inputLength: input.length,
      promptCacheKey: body.prompt_cache_key,
      lastUserText,
      toolOutput
    })

    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" })
    const responseId = nextId("resp")
    let closed = false
    res.on("close", () => {
      closed = true
    })
    const send = (event: Record<string, unknown> & { type: string }) => {
      if (!closed) res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`)
    }
    send({ type: "response.created", response: { id: responseId } })

    const message = (text: string, index: number) => {
      const id = nextId("msg")
      send({ type: "response.output_item.added", output_index: index, item: { type: "message", id, role: "assistant", status: "in_progress", content: [] } })
      for (const delta of chunks(text, 8)) {
        send({ type: "response.output_text.delta", item_id: id, output_index: index, content_index: 0, delta })
      }
      send({
        type: "response.output_item.done",
        output_index: index,
        item: { type: "message", id, role: "assistant", status: "completed", content: [{ type: "output_text", text, annotations: [] }] }
      })
    }
    const reasoning = (summary: string, index: number) => {
      const id = nextId("rs")
      send({ type: "response.output_item.added", output_index: index, item: { type: "reasoning", id, summary: [] } })
      send({ type: "response.reasoning_summary_part.added", item_id: id, output_index: index, summary_index: 0, part: { type: "summary_text", text: "" } })
      for (const delta of chunks(summary, 12)) {
        send({ type: "response.reasoning_summary_text.delta", item_id: id, output_index: index, summary_index: 0, delta })
      }
      send({ type: "response.output_item.done", output_index: index, item: { type: "reasoning", id, summary: [{ type: "summary_text", text: summary }] } })
    }
    const complete = () => {
      send({ type: "response.completed", response: { id: responseId, usage: usage(100 + input.length * 10, 25) } })
      res.end()
    }

    if (followUp) {
      message(`Done. The tool reported:\n${toolOutput ?? ""}`, 0)
      return complete()
    }
    switch (scenario) {
      case "shell": {
        const callId = nextId("call")
        const item = { type: "function_call", id: nextId("fc"), call_id: callId, name: "exec_command", arguments: JSON.stringify({ cmd: argument }) }
        message("I will run a shell command.", 0)
        send({ type: "response.output_item.added", output_index: 1, item: { ...item, arguments: "" } })
        send({ type: "response.output_item.done", output_index: 1, item })
        return complete()
      }
      case "patch": {
        const callId = nextId("call")
        const patch = `*** Begin Patch\n*** Add File: ${argument}\n+# Hello\n+\n+Written by the mock model through apply_patch.\n*** End Patch`
        const item = { type: "custom_tool_call", id: nextId("ctc"), call_id: callId, name: "apply_patch", input: patch }
        send({ type: "response.output_item.added", output_index: 0, item: { ...item, input: "" } })
        send({ type: "response.output_item.done", output_index: 0, item })
        return complete()
      }
      case "fail": {
        send({
          type: "response.failed",
          response: { id: responseId, error: { code: "server_error", message: "mock: the upstream model refused this request" } }
        })
        res.end()
        return
      }
      case "slow": {
        // `slow N`: N chunks, then a normal completion; plain `slow`: until the client goes away.
        const limit = /^\d+$/.test(argument) ? Number(argument) : undefined
        const id = nextId("msg")
        send({ type: "response.output_item.added", output_index: 0, item: { type: "message", id, role: "assistant", status: "in_progress", content: [] } })
        let n = 0
        let text = ""
        const timer = setInterval(() => {
          if (closed || n >= (limit ?? 600)) {
            clearInterval(timer)
            if (closed) return
            if (limit === undefined) return void res.end()
            send({
              type: "response.output_item.done",
              output_index: 0,
              item: { type: "message", id, role: "assistant", status: "completed", content: [{ type: "output_text", text, annotations: [] }] }
            })
            return complete()
          }
          const delta = `word${++n} `
          text += delta
          send({ type: "response.output_text.delta", item_id: id, output_index: 0, content_index: 0, delta })
        }, 100)
        res.on("close", () => clearInterval(timer))
        return
      }
      default: {
        reasoning("**Thinking** about a friendly reply.", 0)
        message(`Hello! You said: ${argument}`, 1)
        return complete()
      }
    }
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
  }
}
