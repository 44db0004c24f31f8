/**
 * Low-level HTTP I/O shared by the routes and the upgrade path: JSON answers, `{code, message}`
 * errors (also written raw on a socket whose upgrade is refused), and reading a request body with
 * the 1 MiB limit.
 */
import type * as http from "node:http"
import type * as stream from "node:stream"
import { type ErrorCode, httpStatus, MAX_FRAME_BYTES } from "@orbitdock/domain"
import * as AnswerBuffers from "./AnswerBuffers.js"

export type Headers = Readonly<Record<string, string>>

/** Writes a JSON answer. */
export const sendJson = (res: http.ServerResponse, status: number, body: unknown, headers: Headers = {}): void => {
  if (res.headersSent) {
    res.end()
    return
  }
  const text = body === undefined ? "" : JSON.stringify(body)
  const length = Buffer.byteLength(text)
  res.writeHead(status, {
    ...headers,
    ...(text === "" ? {} : { "content-type": "application/json; charset=utf-8" }),
    "content-length": length
  })
  // As many bytes as characters: all ASCII, whose UTF-8 is its latin1, a plain copy (~0.1 ms for a
  // 2 MB session state, against ~0.8 ms to encode it as UTF-8).
  res.end(text, length === text.length ? "latin1" : "utf8")
}

/** Writes JSON already copied into a pooled buffer, and gives the buffer back once it is sent. */
export const sendPooledJson = (res: http.ServerResponse, status: number, json: AnswerBuffers.PooledJson, headers: Headers = {}): void => {
  res.writeHead(status, { ...headers, "content-type": "application/json; charset=utf-8", "content-length": json.length })
  // Called on 'finish', once the last byte is handed to the OS; a connection cut before that
  // never calls it, and the buffer is then simply not reused.
  res.end(json.buffer.subarray(0, json.length), () => AnswerBuffers.give(json))
}

/** Writes a text answer. */
export const sendText = (res: http.ServerResponse, status: number, contentType: string, text: string | Buffer, headers: Headers = {}): void => {
  res.writeHead(status, { ...headers, "content-type": contentType, "content-length": Buffer.byteLength(text) })
  res.end(text)
}

/** Writes a `{code, message}` error with the status that goes with its code (or the one given). */
export const sendError = (
  res: http.ServerResponse,
  code: ErrorCode,
  message: string,
  headers: Headers = {},
  status: number = httpStatus(code)
): void => sendJson(res, status, { code, message }, headers)

const reasons: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  413: "Payload Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable"
}

/** Refuses a WebSocket upgrade: a complete HTTP answer written on the raw socket, then closed. */
export const refuseUpgrade = (socket: stream.Duplex, status: number, code: ErrorCode, message: string): void => {
  const body = JSON.stringify({ code, message })
  const head =
    `HTTP/1.1 ${status} ${reasons[status] ?? "Error"}\r\n` +
    "Connection: close\r\n" +
    "Content-Type: application/json; charset=utf-8\r\n" +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`
  if (socket.writable) socket.end(head + body)
  else socket.destroy()
}

export type Body = { readonly ok: true; readonly bytes: Buffer } | { readonly ok: false; readonly tooLarge: true }

// Past this much, an oversized body is not drained any further: the connection is cut instead.
const DRAIN_LIMIT = 16 * MAX_FRAME_BYTES

/**
 * Reads a request body of at most 1 MiB. A larger one is drained (so the client can read the 413)
 * and reported as too large; a very large one is cut off.
 */
export const readBody = (req: http.IncomingMessage): Promise<Body> =>
  new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"])
    if (Number.isFinite(declared) && declared > DRAIN_LIMIT) {
      resolve({ ok: false, tooLarge: true })
      return
    }
    const chunks: Array<Buffer> = []
    let total = 0
    let tooLarge = Number.isFinite(declared) && declared > MAX_FRAME_BYTES
    req.on("data", (chunk: Buffer) => {
      total += chunk.length
      if (total > MAX_FRAME_BYTES) tooLarge = true
      if (tooLarge) {
        chunks.length = 0
        if (total > DRAIN_LIMIT) {
          req.destroy()
          resolve({ ok: false, tooLarge: true })
        }
        return
      }
      chunks.push(chunk)
    })
    req.on("end", () => resolve(tooLarge ? { ok: false, tooLarge: true } : { ok: true, bytes: Buffer.concat(chunks) }))
    req.on("error", reject)
  })
