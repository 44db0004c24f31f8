/** Small display formatters (token counts, times). Pure; unit-tested in `test/format.test.ts`. */

/** 950 → "950", 12_345 → "12.3k", 4_200_000 → "4.2M". */
export const tokens = (n: number): string => {
  if (!Number.isFinite(n)) return "–"
  const abs = Math.abs(n)
  if (abs < 1000) return String(Math.round(n))
  if (abs < 1_000_000) return `${trim(n / 1000)}k`
  return `${trim(n / 1_000_000)}M`
}

const trim = (x: number): string => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(1).replace(/\.0$/, ""))

/** How long ago `iso` was, relative to `nowMs`: "now", "42s", "5m", "3h", "2d". */
export const ago = (iso: string | undefined, nowMs: number): string => {
  if (iso === undefined) return "–"
  const then = Date.parse(iso)
  if (Number.isNaN(then)) return "–"
  const s = Math.max(0, Math.round((nowMs - then) / 1000))
  if (s < 5) return "now"
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m`
  if (s < 86_400) return `${Math.floor(s / 3600)}h`
  return `${Math.floor(s / 86_400)}d`
}

const twoDigits = (n: number): string => (n < 10 ? `0${n}` : String(n))

/**
 * A local wall-clock time with seconds, 24-hour, e.g. "14:02:07". Built by hand: every message row
 * renders one, and `Intl.DateTimeFormat` (even one kept for every call) showed in the page's long
 * tasks at fleet scale.
 */
export const clock = (iso: string | undefined): string => {
  if (iso === undefined) return ""
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return ""
  return `${twoDigits(date.getHours())}:${twoDigits(date.getMinutes())}:${twoDigits(date.getSeconds())}`
}

/** The last path segment of a cwd (the project's name), for compact rows. */
export const basename = (cwd: string): string => {
  const parts = cwd.replace(/\/+$/, "").split("/")
  return parts[parts.length - 1] || cwd
}
