/**
 * A map that forgets its least recently used entry once it holds `capacity` entries: for caches
 * whose keys come from outside (any hook may name a new Claude session id), so they cannot grow
 * without bound. Only for values that can be looked up again when forgotten.
 */
export class BoundedCache<K, V> {
  private readonly entries = new Map<K, V>()

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.entries.size
  }

  get(key: K): V | undefined {
    const value = this.entries.get(key)
    if (value !== undefined) {
      // Most recently used last: a Map iterates in insertion order.
      this.entries.delete(key)
      this.entries.set(key, value)
    }
    return value
  }

  set(key: K, value: V): void {
    this.entries.delete(key)
    if (this.entries.size >= this.capacity) this.entries.delete(this.entries.keys().next().value as K)
    this.entries.set(key, value)
  }

  delete(key: K): void {
    this.entries.delete(key)
  }
}
