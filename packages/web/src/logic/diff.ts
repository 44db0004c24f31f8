/**
 * Unified-diff parsing for display: each line classified (file header, hunk, added, removed,
 * context, meta) with its old and new line numbers. Pure; unit-tested in `test/diff.test.ts`.
 */

export type DiffLineKind = "file" | "meta" | "hunk" | "add" | "del" | "context"

export interface DiffLine {
  readonly kind: DiffLineKind
  readonly text: string
  /** Line number in the old file (removed and context lines). */
  readonly oldNo?: number
  /** Line number in the new file (added and context lines). */
  readonly newNo?: number
}

export interface DiffFile {
  /** The new path (or the old one for a deletion); "" when the diff names none. */
  readonly path: string
  readonly added: number
  readonly removed: number
  readonly lines: ReadonlyArray<DiffLine>
}

const HUNK = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/

/** Whether a text looks like a unified diff (worth rendering as one). */
export const looksLikeDiff = (text: string): boolean =>
  /^diff --git /m.test(text) || /^@@ -\d+(,\d+)? \+\d+(,\d+)? @@/m.test(text) || (/^--- \S/m.test(text) && /^\+\+\+ \S/m.test(text))

const stripPrefix = (name: string): string => {
  const trimmed = name.replace(/\t.*$/, "").trim()
  return /^[ab]\//.test(trimmed) ? trimmed.slice(2) : trimmed
}

/**
 * Splits a unified diff into files and classified, numbered lines. Hunk bodies are read by the
 * counts in their `@@` header, so a removed line that starts with `--` is not taken for a header.
 */
export const parse = (text: string): ReadonlyArray<DiffFile> => {
  const files: Array<{ path: string; added: number; removed: number; lines: Array<DiffLine> }> = []
  let file: (typeof files)[number] | undefined
  let oldNo = 0
  let newNo = 0
  // Lines of the current hunk still expected on each side (a header without counts means 1).
  let oldLeft = 0
  let newLeft = 0
  const current = () => file ?? open("")
  const open = (path: string) => {
    file = { path, added: 0, removed: 0, lines: [] }
    files.push(file)
    return file
  }
  const lines = text.replace(/\r\n/g, "\n").split("\n")
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop()
  for (const line of lines) {
    if (oldLeft > 0 || newLeft > 0) {
      const target = current()
      if (line.startsWith("+")) {
        target.added++
        newLeft--
        target.lines.push({ kind: "add", text: line.slice(1), newNo: newNo++ })
        continue
      }
      if (line.startsWith("-")) {
        target.removed++
        oldLeft--
        target.lines.push({ kind: "del", text: line.slice(1), oldNo: oldNo++ })
        continue
      }
      if (line.startsWith(" ") || line === "") {
        oldLeft--
        newLeft--
        target.lines.push({ kind: "context", text: line.slice(1), oldNo: oldNo++, newNo: newNo++ })
        continue
      }
      if (line.startsWith("\\")) {
        target.lines.push({ kind: "meta", text: line })
        continue
      }
      // Anything else ends a hunk whose counts were wrong; read it as a header line below.
      oldLeft = 0
      newLeft = 0
    }
    if (line.startsWith("\\")) {
      current().lines.push({ kind: "meta", text: line })
      continue
    }
    if (line.startsWith("diff --git ")) {
      const match = / b\/(.+)$/.exec(line)
      open(match === null ? "" : match[1]).lines.push({ kind: "file", text: line })
      continue
    }
    if (line.startsWith("--- ")) {
      // Starts a file unless a `diff --git` line just did (and no `---` was seen for it yet).
      const fresh = file !== undefined && !file.lines.some((l) => l.text.startsWith("--- ") || l.kind === "hunk") ? file : open("")
      const name = stripPrefix(line.slice(4))
      if (fresh.path === "" && name !== "/dev/null") fresh.path = name
      fresh.lines.push({ kind: "file", text: line })
      continue
    }
    if (line.startsWith("+++ ")) {
      const target = current()
      const name = stripPrefix(line.slice(4))
      if (name !== "/dev/null") target.path = name
      target.lines.push({ kind: "file", text: line })
      continue
    }
    const hunk = HUNK.exec(line)
    if (hunk !== null) {
      oldNo = Number(hunk[1])
      oldLeft = hunk[2] === undefined ? 1 : Number(hunk[2])
      newNo = Number(hunk[3])
      newLeft = hunk[4] === undefined ? 1 : Number(hunk[4])
      current().lines.push({ kind: "hunk", text: line })
      continue
    }
    current().lines.push({ kind: "meta", text: line })
  }
  return files
}
