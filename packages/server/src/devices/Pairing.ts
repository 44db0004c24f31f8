/**
 * Pairing codes: what a phone scans (or a person types) to get a token of its own. Short enough to
 * type, shown as `ABCD-EFGH`, from an alphabet without look-alikes (no 0/O, 1/I/L), valid for a few
 * minutes and once. Guessing is bounded by the book (`Devices.ts`): a burst of wrong codes voids
 * every pending one.
 */
import * as crypto from "node:crypto"

const ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
export const CODE_LENGTH = 8
/** How long a code may be exchanged. */
export const CODE_TTL_MS = 5 * 60_000
/** Wrong codes tried while codes are pending before all of them are voided. */
export const MAX_WRONG_CODES = 10
/** Codes pending at once (each `orbitdock pair` makes one). */
export const MAX_PENDING = 8

/** A new code, its characters drawn uniformly (rejection sampling: 31 does not divide 256). */
export const newCode = (): string => {
  let code = ""
  while (code.length < CODE_LENGTH) {
    for (const byte of crypto.randomBytes(CODE_LENGTH * 2)) {
      if (byte < 248 && code.length < CODE_LENGTH) code += ALPHABET[byte % ALPHABET.length]
    }
  }
  return code
}

/** `ABCDEFGH` as a person reads it. */
export const display = (code: string): string => `${code.slice(0, 4)}-${code.slice(4)}`

/**
 * What a person typed or a link carried, as a code: case, spaces and dashes ignored, the look-alikes
 * read as what they look like (O → 0 is not in the alphabet, so O, I and L are refused, not guessed).
 */
export const normalize = (input: string): string | null => {
  const code = input.toUpperCase().replace(/[\s-]/g, "")
  if (code.length !== CODE_LENGTH) return null
  for (const char of code) if (!ALPHABET.includes(char)) return null
  return code
}

/** The page's link that pairs the device that opens it: the code in the fragment, never sent to a server by the browser. */
export const linkFor = (baseUrl: string, code: string): string => `${baseUrl.replace(/\/+$/, "")}/#pair=${display(code)}`
