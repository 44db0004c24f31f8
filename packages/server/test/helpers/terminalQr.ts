/**
 * Reads a QR code drawn in a terminal the way a phone's camera would: the half-block characters
 * (and the ANSI colours they are drawn in) become pixels, decoded by jsQR. Dark is what is drawn in
 * the black foreground; everything else (spaces, white, the terminal's default) is light.
 */
import jsQR from "jsqr"

const SCALE = 6
const BORDER = 4

export const decodeTerminalQr = (text: string): string | null => {
  const rows: Array<Array<boolean>> = []
  for (const line of text.split("\n")) {
    if (!/[▀▄█]/.test(line)) continue
    const top: Array<boolean> = []
    const bottom: Array<boolean> = []
    let foregroundDark = false
    for (let i = 0; i < line.length; i++) {
      if (line[i] === "\x1b") {
        const end = line.indexOf("m", i)
        for (const code of line.slice(i + 2, end).split(";")) {
          if (code === "30") foregroundDark = true
          else if (code === "37" || code === "0") foregroundDark = false
        }
        i = end
        continue
      }
      const char = line[i]
      top.push(foregroundDark && (char === "█" || char === "▀"))
      bottom.push(foregroundDark && (char === "█" || char === "▄"))
    }
    rows.push(top, bottom)
  }
  if (rows.length === 0) return null
  const modules = Math.max(...rows.map((row) => row.length))
  const size = (modules + BORDER * 2) * SCALE
  const height = (rows.length + BORDER * 2) * SCALE
  const pixels = new Uint8ClampedArray(size * height * 4).fill(255)
  rows.forEach((row, y) =>
    row.forEach((dark, x) => {
      if (!dark) return
      for (let dy = 0; dy < SCALE; dy++) {
        for (let dx = 0; dx < SCALE; dx++) {
          const offset = (((y + BORDER) * SCALE + dy) * size + (x + BORDER) * SCALE + dx) * 4
          pixels[offset] = pixels[offset + 1] = pixels[offset + 2] = 0
        }
      }
    })
  )
  return jsQR(pixels, size, height)?.data ?? null
}
