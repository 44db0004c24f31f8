/**
 * What an actor keeps in memory to recognise a source key it has seen: a 32-bit digest, not the
 * key. Owns the digest function only.
 *
 * Why: an actor must know every source key of its session (a connector re-reading a transcript
 * after a restart must not record anything twice), and the keys themselves cost a hundred bytes
 * or more each; a digest is a small integer (a Smi in V8; bench/FINDINGS.md, finding 8). A digest
 * seen before is only a suspicion: the actor then asks the log (`EventLog.hasSourceKey`).
 */

/** FNV-1a over the key's UTF-16 code units, as a signed 32-bit integer. */
export const digest = (key: string): number => {
  let hash = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash | 0
}
