/**
 * Replay decode speed: how fast a log's payloads turn back into objects, JSON.parse versus msgpackr
 * plain maps versus msgpackr records, over a large number of realistic events.
 */
import { codec, eventAt, sessionIdOf, type Encoding } from "../lib/events.js"
import { nowMs } from "../lib/stats.js"

/** Encodes `total` events (in sessions of 5,000) into one buffer, then times decoding them all, `runs` times. */
export const decodeSpeed = (encoding: Encoding, total: number, runs: number): Array<number> => {
  const c = codec(encoding)
  const parts: Array<Buffer> = []
  const offsets = new Uint32Array(total + 1)
  let at = 0
  for (let i = 0; i < total; i++) {
    const stored = eventAt(sessionIdOf(Math.floor(i / 5000)), (i % 5000) + 1)
    const b = c.encode(stored.event)
    parts.push(b)
    offsets[i] = at
    at += b.length
  }
  offsets[total] = at
  const all = Buffer.concat(parts)
  parts.length = 0
  const speeds: Array<number> = []
  for (let run = 0; run < runs; run++) {
    let sink = 0
    const start = nowMs()
    for (let i = 0; i < total; i++) {
      const decoded = c.decode(all.subarray(offsets[i]!, offsets[i + 1]!)) as { type: string }
      sink += decoded.type.length
    }
    const elapsed = nowMs() - start
    if (sink === 0) throw new Error("nothing decoded")
    speeds.push(total / (elapsed / 1000))
  }
  return speeds
}
