/** A map whose entries expire `ttlMs` after they were set (0 disables caching). Bounded in size. */
export class TtlCache<K, V> {
  private readonly entries = new Map<K, { value: V; expires: number }>()

  constructor(private readonly ttlMs: number, private readonly maxEntries = 100_000, private readonly now: () => number = Date.now) {}

  get(key: K): V | undefined {
    const entry = this.entries.get(key)
    if (entry === undefined) return undefined
    if (entry.expires <= this.now()) {
      this.entries.delete(key)
      return undefined
    }
    return entry.value
  }

  set(key: K, value: V): void {
    if (this.ttlMs <= 0) return
    this.entries.delete(key)
    if (this.entries.size >= this.maxEntries) {
      // Maps iterate in insertion order: the first key is the oldest.
      const oldest = this.entries.keys().next()
      if (oldest.done !== true) this.entries.delete(oldest.value)
    }
    this.entries.set(key, { value, expires: this.now() + this.ttlMs })
  }

  delete(key: K): void {
    this.entries.delete(key)
  }

  clear(): void {
    this.entries.clear()
  }
}
