/** Paths and readers for the real Claude Code samples in `test/fixtures/claude`. */
import * as fs from "node:fs"
import * as path from "node:path"

export const fixturesDir = path.resolve(import.meta.dirname, "../../fixtures/claude")

export const fixture = (relative: string): string => path.join(fixturesDir, relative)

/** Parses a JSONL file (every line must be JSON). */
export const readJsonl = (file: string): Array<unknown> =>
  fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as unknown)

/** The hook bodies Claude Code posted, in order, with the channel they came through. */
export const hookPayloads = (): Array<{ via: string; payload: Record<string, unknown> }> =>
  readJsonl(fixture("hooks.jsonl")) as Array<{ via: string; payload: Record<string, unknown> }>
