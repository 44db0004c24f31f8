/**
 * How many urgent entries (someone waits for their ack) the main thread has queued for the writer
 * worker and not sent yet, shared through memory so the worker can read it while it has no message
 * yet: the worker does not start a projection snapshot, a synchronous transaction of several ms,
 * while a command's entry is on its way.
 */

/** The memory both threads share (given to the worker in its `workerData`). */
export const makeDemandBuffer = (): SharedArrayBuffer => new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT)

/** The main thread's side: called whenever its count of queued urgent entries changes. */
export const demandPublisher = (buffer: SharedArrayBuffer) => {
  const view = new Int32Array(buffer)
  return (urgent: number): void => {
    Atomics.store(view, 0, urgent)
  }
}

/** The worker's side: the urgent entries queued on the main thread. */
export const demandReader = (buffer: SharedArrayBuffer) => {
  const view = new Int32Array(buffer)
  return (): number => Atomics.load(view, 0)
}
