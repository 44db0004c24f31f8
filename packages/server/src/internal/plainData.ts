/**
 * What the server accepts as data from outside: plain JSON values (null, booleans, finite numbers,
 * strings, arrays, objects with string keys) nested at most a given depth. Checked before anything
 * acts on a value, so that nothing downstream (schemas, the event log, re-encoding a reply) meets a
 * value it cannot handle: a BigInt or a Date from a MessagePack extension, bytes, a non-finite
 * number, or nesting deep enough to overflow the stack of a recursive encoder.
 *
 * Both checks are iterative: their cost is one pass, however deep the input.
 */

/**
 * Checks MessagePack bytes before they are decoded: exactly one value, JSON types only (no bin, no
 * extension types, no non-finite floats, string map keys), containers nested at most `maxDepth`.
 * Returns why the bytes are refused, or `undefined`. Scanning first means the decoder never builds
 * a value we would refuse, nor recurses deeper than `maxDepth`.
 */
export const checkMsgpack = (bytes: Buffer, maxDepth: number): string | undefined => {
  const end = bytes.length
  let pos = 0
  // Per open container: values still to read (a map counts keys and values, a key is expected when
  // the count is even), and whether it is a map.
  const remaining: Array<number> = []
  const isMap: Array<boolean> = []
  while (true) {
    if (pos >= end) return "truncated MessagePack data"
    const top = remaining.length - 1
    const keyExpected = top >= 0 && isMap[top] && remaining[top] % 2 === 0
    const token = bytes[pos++]
    let isString = false
    let opens = -1
    let opensMap = false
    if (token <= 0x7f || token >= 0xe0) {
      // fixint
    } else if (token >= 0xa0 && token <= 0xbf) {
      isString = true
      pos += token & 0x1f
    } else if (token <= 0x8f) {
      opens = token & 0x0f
      opensMap = true
    } else if (token <= 0x9f) {
      opens = token & 0x0f
    } else {
      if (pos + lengthBytes(token) > end) return "truncated MessagePack data"
      switch (token) {
        case 0xc0:
        case 0xc2:
        case 0xc3:
          break
        case 0xca:
          if (!Number.isFinite(bytes.readFloatBE(pos))) return "a number is not finite"
          pos += 4
          break
        case 0xcb:
          if (!Number.isFinite(bytes.readDoubleBE(pos))) return "a number is not finite"
          pos += 8
          break
        case 0xcc:
        case 0xd0:
          pos += 1
          break
        case 0xcd:
        case 0xd1:
          pos += 2
          break
        case 0xce:
        case 0xd2:
          pos += 4
          break
        case 0xcf:
        case 0xd3:
          pos += 8
          break
        case 0xd9:
          isString = true
          pos += 1 + bytes[pos]
          break
        case 0xda:
          isString = true
          pos += 2 + bytes.readUInt16BE(pos)
          break
        case 0xdb:
          isString = true
          pos += 4 + bytes.readUInt32BE(pos)
          break
        case 0xdc:
          opens = bytes.readUInt16BE(pos)
          pos += 2
          break
        case 0xdd:
          opens = bytes.readUInt32BE(pos)
          pos += 4
          break
        case 0xde:
          opens = bytes.readUInt16BE(pos)
          opensMap = true
          pos += 2
          break
        case 0xdf:
          opens = bytes.readUInt32BE(pos)
          opensMap = true
          pos += 4
          break
        case 0xc4:
        case 0xc5:
        case 0xc6:
          return "binary data is not a JSON value"
        case 0xc1:
          return "not valid MessagePack: byte 0xc1"
        default:
          // 0xc7-0xc9, 0xd4-0xd8
          return "MessagePack extension types (timestamps, BigInts, …) are not JSON values"
      }
    }
    if (pos > end) return "truncated MessagePack data"
    if (keyExpected && !isString) return "map keys must be strings"
    if (top >= 0) remaining[top]--
    if (opens >= 0) {
      if (remaining.length >= maxDepth) return `nested more than ${maxDepth} levels deep`
      remaining.push(opensMap ? opens * 2 : opens)
      isMap.push(opensMap)
    }
    while (remaining.length > 0 && remaining[remaining.length - 1] === 0) {
      remaining.pop()
      isMap.pop()
    }
    if (remaining.length === 0) return pos === end ? undefined : "more than one MessagePack value"
  }
}

/** Bytes between a non-fix token and its payload (or the value itself, for fixed-size ones). */
const lengthBytes = (token: number): number => {
  switch (token) {
    case 0xcc:
    case 0xd0:
    case 0xd9:
      return 1
    case 0xcd:
    case 0xd1:
    case 0xda:
    case 0xdc:
    case 0xde:
      return 2
    case 0xca:
    case 0xce:
    case 0xd2:
    case 0xdb:
    case 0xdd:
    case 0xdf:
      return 4
    case 0xcb:
    case 0xcf:
    case 0xd3:
      return 8
    default:
      return 0
  }
}

/**
 * Checks a value from `JSON.parse`: nested at most `maxDepth`, every number finite (`1e999` parses
 * as `Infinity`, which JSON cannot carry back out). Returns why it is refused, or `undefined`.
 */
export const checkJson = (value: unknown, maxDepth: number): string | undefined => {
  const values: Array<unknown> = [value]
  const depths: Array<number> = [0]
  while (values.length > 0) {
    const next = values.pop()
    const depth = depths.pop()!
    if (typeof next === "number") {
      if (!Number.isFinite(next)) return "a number is not finite"
    } else if (typeof next === "object" && next !== null) {
      if (depth >= maxDepth) return `nested more than ${maxDepth} levels deep`
      const children = Array.isArray(next) ? next : Object.values(next)
      for (const child of children) {
        if (typeof child === "object" ? child !== null : typeof child === "number") {
          values.push(child)
          depths.push(depth + 1)
        }
      }
    }
  }
  return undefined
}
