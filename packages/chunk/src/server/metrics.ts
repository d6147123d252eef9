/**
 * The chunk server's figures, rendered as Prometheus text (exposition format 0.0.4) on /metrics.
 * Counters with a fixed label set, one latency histogram; gauges are read from the store when
 * the page is rendered.
 */
import type { StoreUsage } from '../store/space.js'

type Labels = Readonly<Record<string, string>>

class LabelledCounter {
  private readonly values = new Map<string, { labels: Labels; value: number }>()

  constructor(readonly name: string, readonly help: string) {}

  inc(labels: Labels, by = 1): void {
    const id = JSON.stringify(labels)
    const entry = this.values.get(id)
    if (entry === undefined) this.values.set(id, { labels, value: by })
    else entry.value += by
  }

  get(labels: Labels): number {
    return this.values.get(JSON.stringify(labels))?.value ?? 0
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`)
    if (this.values.size === 0) out.push(`${this.name} 0`)
    for (const { labels, value } of this.values.values()) out.push(`${this.name}${formatLabels(labels)} ${value}`)
  }
}

class Histogram {
  private readonly counts: number[]
  private sum = 0
  private count = 0

  constructor(readonly name: string, readonly help: string, private readonly bounds: readonly number[]) {
    this.counts = bounds.map(() => 0)
  }

  observe(value: number): void {
    this.sum += value
    this.count += 1
    for (let i = 0; i < this.bounds.length; i++) if (value <= this.bounds[i]!) this.counts[i]! += 1
  }

  get observations(): number {
    return this.count
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`)
    this.bounds.forEach((bound, i) => out.push(`${this.name}_bucket{le="${bound}"} ${this.counts[i]}`))
    out.push(`${this.name}_bucket{le="+Inf"} ${this.count}`, `${this.name}_sum ${this.sum}`, `${this.name}_count ${this.count}`)
  }
}

function formatLabels(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
  return parts.length === 0 ? '' : `{${parts.join(',')}}`
}

function gauge(out: string[], name: string, help: string, value: number): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${value}`)
}

export class ChunkMetrics {
  readonly requests = new LabelledCounter('tessera_chunk_requests_total', 'Calls served, by method.')
  readonly errors = new LabelledCounter('tessera_chunk_errors_total', 'Calls answered with an error, by method and error code.')
  readonly bytesWritten = new LabelledCounter('tessera_chunk_bytes_written_total', 'Bytes of blocks committed to this server.')
  readonly bytesRead = new LabelledCounter('tessera_chunk_bytes_read_total', 'Bytes of blocks sent to readers.')
  readonly downstreamFailures = new LabelledCounter('tessera_chunk_downstream_failures_total', 'Chain hops after this server that failed, by error code.')
  /** Seconds from a chained write's request to its answer (this copy durable and the chain answered). */
  readonly chainLatency = new Histogram(
    'tessera_chunk_chain_latency_seconds',
    'Seconds from a chained block.write request to its answer upstream.',
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  )

  render(usage: StoreUsage): string {
    const out: string[] = []
    this.requests.render(out)
    this.errors.render(out)
    this.bytesWritten.render(out)
    this.bytesRead.render(out)
    this.downstreamFailures.render(out)
    this.chainLatency.render(out)
    gauge(out, 'tessera_chunk_blocks', 'Blocks stored.', usage.blockCount)
    gauge(out, 'tessera_chunk_used_bytes', 'Bytes of stored blocks and their checksum sidecars.', usage.usedBytes)
    gauge(out, 'tessera_chunk_capacity_bytes', 'Bytes the store may fill.', usage.capacityBytes)
    gauge(out, 'tessera_chunk_free_bytes', 'Bytes a new write may still take.', usage.freeBytes)
    gauge(out, 'tessera_chunk_reserved_bytes', 'Bytes held by writes in progress.', usage.reservedBytes)
    return out.join('\n') + '\n'
  }
}
