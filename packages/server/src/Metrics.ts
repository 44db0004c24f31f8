/**
 * The server's metrics, as Effect `Metric`s so every module records them the same way;
 * `http/Prometheus.ts` renders them for `GET /metrics`.
 */
import { Metric, MetricBoundaries } from "effect"

/** Events made durable by the writer. */
export const eventsAppended = Metric.counter("orbitdock_events_appended_total", {
  description: "Domain events committed to the event log",
  incremental: true
})
/** Events dropped at ingestion because their source key was seen before. */
export const eventsDeduplicated = Metric.counter("orbitdock_events_deduplicated_total", {
  description: "Re-delivered connector events dropped by source key",
  incremental: true
})
/** Events per committed batch. */
export const batchSize = Metric.histogram(
  "orbitdock_batch_size",
  MetricBoundaries.exponential({ start: 1, factor: 2, count: 14 }),
  "Events per committed batch"
)
/** Time from a batch's first event being queued until its commit, in milliseconds. */
export const appendLatencyMs = Metric.histogram(
  "orbitdock_append_latency_ms",
  MetricBoundaries.exponential({ start: 0.25, factor: 2, count: 14 }),
  "Milliseconds from enqueue to durable commit"
)
/** Failed commit attempts (each is retried: a batch is never dropped). */
export const appendRetries = Metric.counter("orbitdock_append_retries_total", {
  description: "Failed event log commit attempts (each is retried)",
  incremental: true
})
/** Sessions known to the server (ended included). */
export const sessions = Metric.gauge("orbitdock_sessions", { description: "Sessions known to the server" })
/** Sessions whose projection is in memory. */
export const sessionsLoaded = Metric.gauge("orbitdock_sessions_loaded", { description: "Sessions hydrated in memory" })
/** Open WebSocket connections. */
export const connections = Metric.gauge("orbitdock_connections", { description: "Open WebSocket connections" })
/** Live session and list subscriptions. */
export const subscribers = Metric.gauge("orbitdock_subscribers", { description: "Live subscriptions" })
/** Claude transcript files followed now (one follower each while its session lives). */
export const claudeTranscriptsFollowed = Metric.gauge("orbitdock_claude_transcripts_followed", {
  description: "Claude Code transcript files being followed"
})
/** Subscribers that fell behind and were resynced with a snapshot. */
export const subscribersResynced = Metric.counter("orbitdock_subscribers_resynced_total", {
  description: "Subscribers resynced with a snapshot after falling behind",
  incremental: true
})
/** Connections dropped (unresponsive, or too far behind). */
export const subscribersDropped = Metric.counter("orbitdock_subscribers_dropped_total", {
  description: "Connections dropped by the server",
  incremental: true
})
/** Client messages refused with an error, by nothing finer (codes are in the logs). */
export const clientErrors = Metric.counter("orbitdock_client_errors_total", {
  description: "Client messages answered with an error",
  incremental: true
})
/** Frames sent to WebSocket clients, and the messages they held. */
export const framesSent = Metric.counter("orbitdock_frames_sent_total", { incremental: true })
export const messagesSent = Metric.counter("orbitdock_messages_sent_total", { incremental: true })
/** Events appended to the event log and not yet committed (queued or in the batch being committed). */
export const eventLogQueueDepth = Metric.gauge("orbitdock_event_log_queue_depth", {
  description: "Events waiting for the event log writer"
})
/** 1 while the event log cannot commit (commits are failing and being retried), 0 otherwise. */
export const eventLogDegraded = Metric.gauge("orbitdock_event_log_degraded", {
  description: "1 while event log commits fail and are retried"
})
/** How long the oldest entry not yet committed has waited (0: none). */
export const eventLogOldestUncommittedSeconds = Metric.gauge("orbitdock_event_log_oldest_uncommitted_seconds", {
  description: "Age of the oldest event log entry not yet committed"
})
