/**
 * Routes that services other than connectors bring (the notifier's `/api/notify/…`), added once
 * their service is built: the transport is built before them and looks them up per request.
 */
import { Context, Layer } from "effect"
import type { ConnectorRoute } from "../connectors/Connector.js"

export interface RoutesShape {
  readonly add: (routes: ReadonlyArray<ConnectorRoute>) => void
  /** The routes of a path, by method: its exact ones, else those of the longest `/*` prefix holding it. */
  readonly get: (path: string) => ReadonlyMap<string, ConnectorRoute> | undefined
}

/** The part of `path` under a `/*` route's prefix, or undefined when the route is not a prefix one or does not hold it. */
export const restOf = (route: ConnectorRoute, path: string): string | undefined => {
  if (!route.path.endsWith("/*")) return undefined
  const prefix = route.path.slice(0, -1)
  return path.startsWith(prefix) && path.length > prefix.length ? path.slice(prefix.length) : undefined
}

export class Routes extends Context.Tag("@orbitdock/server/Routes")<Routes, RoutesShape>() {}

export const make = (): RoutesShape => {
  const byPath = new Map<string, Map<string, ConnectorRoute>>()
  return {
    add: (routes) => {
      for (const route of routes) {
        const byMethod = byPath.get(route.path) ?? new Map<string, ConnectorRoute>()
        byMethod.set(route.method, route)
        byPath.set(route.path, byMethod)
      }
    },
    get: (path) => {
      const exact = byPath.get(path)
      if (exact !== undefined) return exact
      for (let cut = path.lastIndexOf("/"); cut > 0; cut = path.lastIndexOf("/", cut - 1)) {
        const under = byPath.get(`${path.slice(0, cut)}/*`)
        if (under !== undefined) return under
      }
      return undefined
    }
  }
}

export const layer: Layer.Layer<Routes> = Layer.sync(Routes, make)
