/**
 * Figures and their report: each figure is measured in several runs and reported as the median and
 * the min–max, next to its target where the issue sets one. Prints a table and renders BENCHMARKS.md.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { summarize, type Summary } from "./stats.js"

export interface Target {
  readonly op: ">=" | "<="
  readonly value: number
  /** How the target reads in the report, e.g. "≥ 0.7× raw". */
  readonly label: string
}

export interface Figure {
  readonly scenario: string
  readonly name: string
  readonly unit: string
  readonly values: Array<number>
  readonly target?: Target
}

export class Figures {
  readonly all: Array<Figure> = []
  readonly notes = new Map<string, Array<string>>()

  /** The figure `scenario / name`, created on first use. */
  figure(scenario: string, name: string, unit: string, target?: Target): Figure {
    let f = this.all.find((x) => x.scenario === scenario && x.name === name)
    if (!f) {
      f = target ? { scenario, name, unit, values: [], target } : { scenario, name, unit, values: [] }
      this.all.push(f)
    }
    return f
  }

  add(scenario: string, name: string, unit: string, value: number, target?: Target): void {
    this.figure(scenario, name, unit, target).values.push(value)
  }

  note(scenario: string, text: string): void {
    const list = this.notes.get(scenario) ?? []
    list.push(text)
    this.notes.set(scenario, list)
  }

  median(scenario: string, name: string): number {
    const f = this.all.find((x) => x.scenario === scenario && x.name === name)
    return f ? summarize(f.values).median : Number.NaN
  }
}

export const fmt = (v: number): string => {
  if (!Number.isFinite(v)) return "n/a"
  const a = Math.abs(v)
  if (a >= 100_000) return `${(v / 1000).toFixed(0)}k`
  if (a >= 10_000) return `${(v / 1000).toFixed(1)}k`
  if (a >= 100) return v.toFixed(0)
  if (a >= 10) return v.toFixed(1)
  if (a >= 1) return v.toFixed(2)
  return v.toFixed(3)
}

export const verdict = (s: Summary, t: Target | undefined): string => {
  if (!t) return ""
  if (!Number.isFinite(s.median)) return "not measured"
  const ok = t.op === ">=" ? s.median >= t.value : s.median <= t.value
  return ok ? "met" : "MISSED"
}

const row = (f: Figure) => {
  const s = summarize(f.values)
  const range = s.runs > 1 ? `${fmt(s.min)}–${fmt(s.max)}` : ""
  return [f.name, fmt(s.median), range, f.unit, f.target?.label ?? "", verdict(s, f.target)]
}

const scenarios = (figures: Figures) => [...new Set(figures.all.map((f) => f.scenario))]

/** A plain-text table for stdout. */
export const textTable = (figures: Figures): string => {
  const lines: Array<string> = []
  const header = ["figure", "median", "min–max", "unit", "target", ""]
  for (const scenario of scenarios(figures)) {
    const rows = [header, ...figures.all.filter((f) => f.scenario === scenario).map(row)]
    const widths = header.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
    lines.push("", `== ${scenario}`)
    for (const r of rows) lines.push(r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd())
  }
  return lines.join("\n")
}

/** Markdown tables, one per scenario, with the scenario's notes under it. */
export const markdownTables = (figures: Figures): string => {
  const out: Array<string> = []
  for (const scenario of scenarios(figures)) {
    out.push(`### ${scenario}`, "", "| figure | median | min–max | unit | target | |", "|---|---:|---:|---|---|---|")
    for (const f of figures.all.filter((x) => x.scenario === scenario)) out.push(`| ${row(f).join(" | ")} |`)
    for (const n of figures.notes.get(scenario) ?? []) out.push("", n)
    out.push("")
  }
  return out.join("\n")
}

export const repoRoot = (): string => path.resolve(new URL(".", import.meta.url).pathname, "../../..")

const packageVersion = (name: string): string => {
  try {
    const file = path.join(repoRoot(), "node_modules", name, "package.json")
    return (JSON.parse(fs.readFileSync(file, "utf8")) as { version: string }).version
  } catch {
    return "?"
  }
}

/** The machine and software the figures were measured on. */
export const machine = (): Record<string, string> => {
  const cpus = os.cpus()
  let osName = `${os.type()} ${os.release()}`
  try {
    const pretty = /PRETTY_NAME="([^"]+)"/.exec(fs.readFileSync("/etc/os-release", "utf8"))
    if (pretty) osName = `${pretty[1]} (${os.type()} ${os.release()})`
  } catch {
    // not Linux: keep the kernel name
  }
  return {
    CPU: `${cpus[0]?.model ?? "?"}`,
    cores: String(cpus.length),
    RAM: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    Node: process.version,
    OS: osName,
    packages: ["better-sqlite3", "ws", "msgpackr", "effect", "@effect/platform", "@effect/platform-node", "@effect/sql-sqlite-node"]
      .map((p) => `${p} ${packageVersion(p)}`)
      .join(", ")
  }
}
