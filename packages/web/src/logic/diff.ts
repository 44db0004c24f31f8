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

const HUNK = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/

/** Whether a text looks like a unified diff (worth rendering as one). */
export const looksLikeDiff = (text: string): boolean =>
  /^diff --git /m.test(text) || /^@@ -\d+(,\d+)? \+\d+(,\d+)? @@/m.test(text) || (/^--- \S/m.test(text) && /^\+\+\+ \S/m.test(text))

const stripPrefix = (name: string): string => {
  const trimmed = name.replace(/\t.*$/, "").trim()
  return /^[ab]\//.test(trimmed) ? trimmed.slice(2) : trimmed
}

/** Splits a unified diff into files and classified, numbered lines. */
export const parse = (text: string): ReadonlyArray<DiffFile> => {
  const files: Array<{ path: string; added: number; removed: number; lines: Array<DiffLine> }> = []
  let file: (typeof files)[number] | undefined
  let oldNo = 0
  let newNo = 0
  let inHunk = false
  const open = (path: string) => {
    file = { path, added: 0, removed: 0, lines: [] }
    files.push(file)
    inHunk = false
  }
  const lines = text.replace(/\r\n/g, "\n").split("\n")
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop()
  for (const line of lines) {
    if (line.startsWith("diff --git ")) {
      const match = / b\/(.+)$/.exec(line)
      open(match === null ? "" : match[1])
      file!.lines.push({ kind: "file", text: line })
      continue
    }
    if (!inHunk || line.startsWith("--- ") || line.startsWith("+++ ")) {
      if (line.startsWith("--- ")) {
        // A `---` outside a hunk starts a file when no `diff --git` line did.
        if (file === undefined || file.lines.some((l) => l.text.startsWith("--- ")) || inHunk) open("")
        const name = stripPrefix(line.slice(4))
        if (file!.path === "" && name !== "/dev/null") file!.path = name
        file!.lines.push({ kind: "file", text: line })
        inHunk = false
        continue
      }
      if (line.startsWith("+++ ")) {
        if (file === undefined) open("")
        const name = stripPrefix(line.slice(4))
        if (name !== "/dev/null") file!.path = name
        file!.lines.push({ kind: "file", text: line })
        inHunk = false
        continue
      }
    }
    const hunk = HUNK.exec(line)
    if (hunk !== null) {
      if (file === undefined) open("")
      oldNo = Number(hunk[1])
      newNo = Number(hunk[2])
      inHunk = true
      file!.lines.push({ kind: "hunk", text: line })
      continue
    }
    if (file === undefined) open("")
    const target = file!
    if (!inHunk) {
      target.lines.push({ kind: "meta", text: line })
    } else if (line.startsWith("+")) {
      target.added++
      target.lines.push({ kind: "add", text: line.slice(1), newNo: newNo++ })
    } else if (line.startsWith("-")) {
      target.removed++
      target.lines.push({ kind: "del", text: line.slice(1), oldNo: oldNo++ })
    } else if (line.startsWith("\\")) {
      target.lines.push({ kind: "meta", text: line })
    } else {
      target.lines.push({ kind: "context", text: line.startsWith(" ") ? line.slice(1) : line, oldNo: oldNo++, newNo: newNo++ })
    }
  }
  return files
}
