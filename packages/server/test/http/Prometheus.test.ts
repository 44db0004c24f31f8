/**
 * Prometheus rendering of real Effect metrics (fresh names so tests do not see each other's values).
 */
import { Effect, Metric, MetricBoundaries } from "effect"
import { describe, expect, it } from "vitest"
import * as Prometheus from "../../src/http/Prometheus.js"

describe("Prometheus", () => {
  it("renders counters, gauges and histograms in text format 0.0.4", async () => {
    const counter = Metric.counter("test_prom_requests_total", { description: "Requests\nserved", incremental: true })
    const gauge = Metric.gauge("test_prom_open")
    const histogram = Metric.histogram("test_prom_latency_ms", MetricBoundaries.fromIterable([1, 5, 10]), "Latency")
    const tagged = Metric.counter("test_prom_tagged_total").pipe(Metric.tagged("kind", 'a"b'))
    await Effect.runPromise(
      Effect.gen(function* () {
        yield* Metric.incrementBy(counter, 3)
        yield* Metric.set(gauge, 7)
        for (const value of [0.5, 3, 3, 8, 50]) yield* Metric.update(histogram, value)
        yield* Metric.increment(tagged)
      })
    )
    const text = await Effect.runPromise(Prometheus.scrape)
    const lines = text.split("\n")
    expect(lines).toContain("# HELP test_prom_requests_total Requests\\nserved")
    expect(lines).toContain("# TYPE test_prom_requests_total counter")
    expect(lines).toContain("test_prom_requests_total 3")
    expect(lines).toContain("# TYPE test_prom_open gauge")
    expect(lines).toContain("test_prom_open 7")
    expect(lines).toContain("# TYPE test_prom_latency_ms histogram")
    expect(lines).toContain('test_prom_latency_ms_bucket{le="1"} 1')
    expect(lines).toContain('test_prom_latency_ms_bucket{le="5"} 3')
    expect(lines).toContain('test_prom_latency_ms_bucket{le="10"} 4')
    expect(lines).toContain('test_prom_latency_ms_bucket{le="+Inf"} 5')
    expect(lines).toContain("test_prom_latency_ms_sum 64.5")
    expect(lines).toContain("test_prom_latency_ms_count 5")
    expect(lines).toContain('test_prom_tagged_total{kind="a\\"b"} 1')
    // One TYPE line per family.
    expect(lines.filter((l) => l === "# TYPE test_prom_latency_ms histogram")).toHaveLength(1)
  })

  it("registers metrics that were never updated, so they scrape as 0", async () => {
    const untouched = Metric.counter("test_prom_untouched_total")
    Prometheus.registerAll({ untouched, other: 42 })
    const text = await Effect.runPromise(Prometheus.scrape)
    expect(text.split("\n")).toContain("test_prom_untouched_total 0")
  })
})
