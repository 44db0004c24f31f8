/**
 * `GET /metrics`: every Effect metric in the process, rendered in the Prometheus text exposition
 * format 0.0.4 (counters, gauges, histograms with cumulative `_bucket{le=…}`, `_sum`, `_count`,
 * summaries with `quantile` labels, frequencies as one counter per key).
 */
import { Effect, Metric, type MetricLabel, type MetricPair, MetricState } from "effect"

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

const metricName = (name: string): string => {
  const cleaned = name.replace(/[^a-zA-Z0-9_:]/g, "_")
  return /^[a-zA-Z_:]/.test(cleaned) ? cleaned : `_${cleaned}`
}
const labelName = (name: string): string => {
  const cleaned = name.replace(/[^a-zA-Z0-9_]/g, "_")
  return /^[a-zA-Z_]/.test(cleaned) ? cleaned : `_${cleaned}`
}
const escapeLabel = (value: string): string => value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")
const escapeHelp = (value: string): string => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")

const formatNumber = (value: number | bigint): string => {
  if (typeof value === "bigint") return value.toString()
  if (Number.isNaN(value)) return "NaN"
  if (value === Infinity) return "+Inf"
  if (value === -Infinity) return "-Inf"
  return String(value)
}

const labels = (tags: ReadonlyArray<MetricLabel.MetricLabel>, extra?: readonly [string, string]): string => {
  const parts = tags.map((tag) => `${labelName(tag.key)}="${escapeLabel(tag.value)}"`)
  if (extra !== undefined) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`)
  return parts.length === 0 ? "" : `{${parts.join(",")}}`
}

interface Family {
  type: "counter" | "gauge" | "histogram" | "summary"
  help: string | undefined
  readonly lines: Array<string>
}

/** Renders metric pairs (as `Metric.snapshot` gives them) as Prometheus text. */
export const render = (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>): string => {
  const families = new Map<string, Family>()
  const family = (name: string, type: Family["type"], help: string | undefined): Family => {
    let existing = families.get(name)
    if (existing === undefined) {
      existing = { type, help, lines: [] }
      families.set(name, existing)
    }
    if (existing.help === undefined) existing.help = help
    return existing
  }
  for (const pair of pairs) {
    const key = pair.metricKey
    const state: unknown = pair.metricState
    const name = metricName(key.name)
    const help = key.description._tag === "Some" ? key.description.value : undefined
    const tags = key.tags
    if (MetricState.isCounterState(state)) {
      family(name, "counter", help).lines.push(`${name}${labels(tags)} ${formatNumber(state.count)}`)
    } else if (MetricState.isGaugeState(state)) {
      family(name, "gauge", help).lines.push(`${name}${labels(tags)} ${formatNumber(state.value)}`)
    } else if (MetricState.isHistogramState(state)) {
      const lines = family(name, "histogram", help).lines
      let sawInfinity = false
      // Effect's histogram buckets are already cumulative.
      for (const [bound, count] of state.buckets) {
        if (bound === Infinity) sawInfinity = true
        lines.push(`${name}_bucket${labels(tags, ["le", formatNumber(bound)])} ${count}`)
      }
      if (!sawInfinity) lines.push(`${name}_bucket${labels(tags, ["le", "+Inf"])} ${state.count}`)
      lines.push(`${name}_sum${labels(tags)} ${formatNumber(state.sum)}`)
      lines.push(`${name}_count${labels(tags)} ${state.count}`)
    } else if (MetricState.isSummaryState(state)) {
      const lines = family(name, "summary", help).lines
      for (const [quantile, value] of state.quantiles) {
        const v = value._tag === "Some" ? formatNumber(value.value) : "NaN"
        lines.push(`${name}${labels(tags, ["quantile", String(quantile)])} ${v}`)
      }
      lines.push(`${name}_sum${labels(tags)} ${formatNumber(state.sum)}`)
      lines.push(`${name}_count${labels(tags)} ${state.count}`)
    } else if (MetricState.isFrequencyState(state)) {
      const lines = family(name, "counter", help).lines
      for (const [occurrence, count] of state.occurrences) {
        lines.push(`${name}${labels(tags, ["key", occurrence])} ${count}`)
      }
    }
  }
  let text = ""
  for (const [name, { type, help, lines }] of [...families].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (help !== undefined && help !== "") text += `# HELP ${name} ${escapeHelp(help)}\n`
    text += `# TYPE ${name} ${type}\n`
    for (const line of lines) text += line + "\n"
  }
  return text
}

/** The current value of every metric, as Prometheus text. */
export const scrape: Effect.Effect<string> = Effect.map(Metric.snapshot, render)

/**
 * Registers metrics that were never updated, so that they are scraped (as 0) from the start
 * instead of appearing only once something happened.
 */
export const registerAll = (module: Record<string, unknown>): void => {
  for (const value of Object.values(module)) {
    // Metrics are functions (they can wrap an effect) carrying `unsafeValue`.
    if ((typeof value === "function" || typeof value === "object") && value !== null && "unsafeValue" in value) {
      ;(value as Metric.Metric<unknown, unknown, unknown>).unsafeValue([])
    }
  }
}
