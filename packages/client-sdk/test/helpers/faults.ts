/**
 * Fault injection on real sockets: a transport that wraps the real `ws` transport and can drop a
 * chosen server message out of a frame (a forced revision gap) or cut the connection abruptly.
 * Everything else passes through untouched.
 */
import { Packr } from "msgpackr"
import type WebSocket from "ws"
import { NodeTransport, type Transport } from "../../src/node.js"

type WebSocketLike = Transport.WebSocketLike
const packr = new Packr({ useRecords: false, mapsAsObjects: true })

export interface Faults {
  readonly transport: Transport.Transport
  /** Drops the next server message matching `predicate`; resolves with it once dropped. */
  readonly dropNext: (predicate: (message: any) => boolean, atDrop?: (message: any) => void) => Promise<any>
  /** Terminates every open socket (no close handshake), as a network failure would. */
  readonly cut: () => void
  /** How many sockets were opened so far. */
  readonly opened: () => number
}

export const make = (inner: Transport.Transport = NodeTransport.transport): Faults => {
  const sockets = new Set<WebSocket>()
  const drops: Array<{ predicate: (m: any) => boolean; resolve: (m: any) => void }> = []
  // `atDrop` runs synchronously, before the client sees the rest of the frame.
  let opened = 0

  const filter = (data: unknown): unknown => {
    if (drops.length === 0) return data
    const binary = typeof data !== "string"
    const value = binary ? packr.unpack(new Uint8Array(data as ArrayBuffer)) : JSON.parse(data as string)
    const list: Array<any> = Array.isArray(value) ? value : [value]
    const kept = list.filter((m) => {
      const at = drops.findIndex((d) => d.predicate(m))
      if (at < 0) return true
      drops.splice(at, 1)[0]!.resolve(m)
      return false
    })
    if (kept.length === list.length) return data
    if (kept.length === 0) return undefined
    const out = Array.isArray(value) ? kept : kept[0]
    return binary ? new Uint8Array(packr.pack(out)).buffer : JSON.stringify(out)
  }

  const transport: Transport.Transport = {
    ...inner,
    name: `faulty(${inner.name})`,
    open: (request) => {
      opened++
      const socket = inner.open(request)
      sockets.add(socket as unknown as WebSocket)
      const outer: WebSocketLike = {
        get protocol() {
          return socket.protocol
        },
        get readyState() {
          return socket.readyState
        },
        get binaryType() {
          return socket.binaryType
        },
        set binaryType(value) {
          socket.binaryType = value
        },
        send: (data) => socket.send(data),
        close: (code, reason) => socket.close(code, reason),
        onopen: null,
        onmessage: null,
        onclose: null,
        onerror: null
      }
      socket.onopen = (e) => outer.onopen?.(e)
      socket.onerror = (e) => outer.onerror?.(e)
      socket.onclose = (e) => {
        sockets.delete(socket as unknown as WebSocket)
        outer.onclose?.(e)
      }
      socket.onmessage = (e) => {
        const data = filter(e.data)
        if (data !== undefined) outer.onmessage?.({ data })
      }
      return outer
    }
  }

  return {
    transport,
    dropNext: (predicate, atDrop) =>
      new Promise((resolve) =>
        drops.push({
          predicate,
          resolve: (m) => {
            atDrop?.(m)
            resolve(m)
          }
        })
      ),
    cut: () => {
      for (const socket of sockets) socket.terminate()
    },
    opened: () => opened
  }
}
