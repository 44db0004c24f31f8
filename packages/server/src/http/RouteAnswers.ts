/** How service routes (`/api/notify/…`, `/api/devices/…`) read their bodies and answer. */
import { httpStatus, invalid, type ProtocolError } from "@orbitdock/domain"
import { Effect, Either, Schema } from "effect"
import type { RouteResponse } from "../connectors/Connector.js"

/** The effect's value as the answer's body (`status` on success), a refusal as `{ code, message }` with its status. */
export const respond = (effect: Effect.Effect<unknown, ProtocolError>, status = 200): Effect.Effect<RouteResponse> =>
  effect.pipe(
    Effect.map((body): RouteResponse => ({ status, body: body ?? {} })),
    Effect.catchAll((error) =>
      Effect.succeed<RouteResponse>({
        status: httpStatus(error.code),
        body: { code: error.code, message: error.message }
      })
    )
  )

/** Decodes a body against its schema (refused as `invalid_message`), then `use`s it. */
export const withBody = <A, I, B>(
  schema: Schema.Schema<A, I>,
  body: unknown,
  use: (value: A) => Effect.Effect<B, ProtocolError>
): Effect.Effect<B, ProtocolError> => {
  const decoded = Schema.decodeUnknownEither(schema)(body)
  return Either.isLeft(decoded) ? Effect.fail(invalid(decoded.left.message.slice(0, 300))) : use(decoded.right)
}
