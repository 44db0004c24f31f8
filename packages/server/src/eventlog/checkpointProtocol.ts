/** The messages between the writer worker and its checkpointer thread (`checkpointWorker.ts`). */

export interface CheckpointerData {
  readonly dbPath: string
  /** At most one checkpoint per this many ms while commits arrive. */
  readonly everyMs: number
}

/** To the checkpointer: something was committed to the WAL (a batch, a snapshot), or stop. */
export type CheckpointerCommand = "committed" | "close"

/** From the checkpointer: a checkpoint failed (reported once until one succeeds again), or succeeds again. */
export type CheckpointerReport =
  | { readonly _tag: "Failed"; readonly message: string }
  | { readonly _tag: "Recovered" }
