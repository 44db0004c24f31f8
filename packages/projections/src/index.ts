export * as SessionMirror from "./SessionMirror.js"
export * as SessionProjection from "./SessionProjection.js"
export * as SessionSummaries from "./SessionSummaries.js"
