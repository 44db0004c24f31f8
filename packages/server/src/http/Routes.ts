/**
 * Routes that services other than connectors bring (the notifier's `/api/notify/…`), added once
 * their service is built: the transport is built before them and looks them up per request.
 */
import { Context, Layer } from "effect"
import type { ConnectorRoute } from "../connectors/Connector.js"

export interface RoutesShape {
  readonly add: (routes: ReadonlyArray<ConnectorRoute>) => void
  /** The routes of a path, by method. */
  readonly get: (path: string) => ReadonlyMap<string, ConnectorRoute> | undefined
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
    get: (path) => byPath.get(path)
  }
}

export const layer: Layer.Layer<Routes> = Layer.sync(Routes, make)
