/**
 * Reusable buffers for the large answers written from message-page text (a session's whole state:
 * megabytes of JSON). Owns the pool (which buffers are free, how many are kept) and the copy into it.
 *
 * Why: the state an answer is made of stays referenced for a while after the answer is written,
 * and what V8's old generation references survives young-generation collections: the pages' text
 * reachable from it was promoted on every read (bench/FINDINGS.md, finding 9). Copied out as soon
 * as the route has the state, the text dies young; the buffer is taken back once the socket is done
 * with it, so reads in a row reuse the same native memory.
 */

// Kept free at most: a handful of concurrent reads. Larger answers are allocated and let go.
const MAX_SPARE = 4
const MAX_POOLED_BYTES = 16 * 1024 * 1024
const MIN_BYTES = 64 * 1024

const spare: Array<Buffer> = []

/** JSON text copied into a pooled buffer: `length` bytes at its start. */
export interface PooledJson {
  readonly buffer: Buffer
  readonly length: number
}

const capacityFor = (length: number): number => {
  let capacity = MIN_BYTES
  while (capacity < length) capacity *= 2
  return capacity
}

/** A buffer of at least `length` bytes: the smallest free one that is large enough, else a new one. */
const take = (length: number): Buffer => {
  let best = -1
  for (let i = 0; i < spare.length; i++) {
    const candidate = spare[i]!
    if (candidate.length >= length && (best < 0 || candidate.length < spare[best]!.length)) best = i
  }
  if (best >= 0) return spare.splice(best, 1)[0]!
  return Buffer.allocUnsafeSlow(length > MAX_POOLED_BYTES ? length : capacityFor(length))
}

/** Copies the concatenation of `chunks` (as UTF-8) into a pooled buffer. */
export const copy = (chunks: ReadonlyArray<string>): PooledJson => {
  let length = 0
  for (const chunk of chunks) length += Buffer.byteLength(chunk)
  const buffer = take(length)
  let offset = 0
  for (const chunk of chunks) offset += buffer.write(chunk, offset)
  return { buffer, length }
}

/**
 * Gives a buffer back once nothing reads it any more (its answer has been handed to the operating
 * system). When the pool is full, the smallest buffer is let go.
 */
export const give = ({ buffer }: PooledJson): void => {
  if (buffer.length > MAX_POOLED_BYTES) return
  if (spare.length < MAX_SPARE) {
    spare.push(buffer)
    return
  }
  let smallest = 0
  for (let i = 1; i < spare.length; i++) if (spare[i]!.length < spare[smallest]!.length) smallest = i
  if (spare[smallest]!.length < buffer.length) spare[smallest] = buffer
}
