/**
 * QR codes of pairing links, drawn by `qrcode` (the most used QR encoder on npm, no native parts):
 * SVG for the page, Unicode half blocks for a terminal.
 */
import { internal, type ProtocolError } from "@orbitdock/domain"
import { Effect } from "effect"
import QRCode from "qrcode"

const encode = (text: string, options: QRCode.QRCodeToStringOptions): Effect.Effect<string, ProtocolError> =>
  Effect.tryPromise({
    try: () => QRCode.toString(text, { errorCorrectionLevel: "M", ...options }),
    catch: (cause) => internal(`cannot draw a QR code: ${cause instanceof Error ? cause.message : String(cause)}`)
  })

export const svg = (text: string): Effect.Effect<string, ProtocolError> => encode(text, { type: "svg", margin: 2 })

/** Two rows of modules per line of text: a code a phone reads from an ordinary terminal. */
export const terminal = (text: string): Effect.Effect<string, ProtocolError> => encode(text, { type: "terminal", small: true })
