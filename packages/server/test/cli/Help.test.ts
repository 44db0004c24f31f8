/**
 * `orbitdock <cmd> --help`: every option and argument of every command has a description of its
 * own, and @effect/cli's generic type lines ("A user-defined piece of text.") are not printed.
 */
import { execFileSync } from "node:child_process"
import * as path from "node:path"
import { describe, expect, it } from "vitest"

// The bundle (what `npm start` and the `orbitdock` launcher run) starts in a third of the time.
const bundle = path.resolve(import.meta.dirname, "../../dist/bundle/bin.js")

const COMMANDS = [
  ["serve"],
  ["sessions"],
  ["status"],
  ["replay"],
  ["tail"],
  ["approve"],
  ["open"],
  ["hooks", "install"],
  ["hooks", "uninstall"],
  ["hooks", "status"],
  ["inbox"],
  ["inbox", "seen"],
  ["inbox", "snooze"],
  ["inbox", "wake"],
  ["inbox", "approve"],
  ["notify", "add", "webhook"],
  ["notify", "add", "ntfy"],
  ["notify", "add", "slack"],
  ["notify", "add", "desktop"],
  ["notify", "list"],
  ["notify", "remove"],
  ["notify", "test"],
  ["notify", "quiet"],
  ["notify", "deliveries"],
  ["rules", "list"],
  ["rules", "add"],
  ["rules", "remove"],
  ["rules", "test"],
  ["rules", "import-claude"],
  ["pair"],
  ["devices"],
  ["devices", "revoke"]
] as const

const plain = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, "")

/** Each `--flag …` / `<arg>` heading of the help page with the paragraphs under it. */
const entries = (help: string): Array<{ heading: string; paragraphs: Array<string> }> => {
  const out: Array<{ heading: string; paragraphs: Array<string> }> = []
  for (const line of plain(help).split("\n")) {
    if (/^(--|\(-|<)/.test(line)) out.push({ heading: line, paragraphs: [] })
    else if (/^[A-Z]+$/.test(line)) out.push({ heading: line, paragraphs: [] })
    else if (line.startsWith("  ") && out.length > 0) out.at(-1)!.paragraphs.push(line.trim())
  }
  return out.filter((e) => !/^[A-Z]+$/.test(e.heading))
}

const generic = (p: string) => p === "This setting is optional." || p.startsWith("One of the following:")

describe("orbitdock --help", () => {
  it.each(COMMANDS.map((c) => [c.join(" "), c] as const))("%s: a description for every option, no type filler", (_, command) => {
    const help = execFileSync(process.execPath, [bundle, ...command, "--help"], { encoding: "utf8" })
    expect(help).not.toContain("A user-defined piece of text")
    expect(help).not.toContain("An integer.")
    expect(help).not.toContain("A true or false value.")
    const found = entries(help)
    expect(found.length).toBeGreaterThan(3)
    for (const entry of found) {
      expect({ option: entry.heading, described: entry.paragraphs.some((p) => !generic(p)) }).toEqual({
        option: entry.heading,
        described: true
      })
    }
  })
})
