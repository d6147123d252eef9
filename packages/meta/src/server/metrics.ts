/**
 * A minimal Prometheus text exposition: counters, gauges read when scraped, and histograms.
 * Enough for a daemon's /metrics; no labels beyond those a gauge function returns.
 */

type Sample = { labels?: Record<string, string>; value: number }

interface Family {
  name: string
  help: string
  type: 'counter' | 'gauge' | 'histogram'
  samples(): Sample[] | string[]
}

export class Counter {
  private value = 0
  inc(by = 1): void {
    this.value += by
  }
  get(): number {
    return this.value
  }
}

/** Default buckets for apply and request latencies, in seconds. */
export const LATENCY_BUCKETS = [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5]

export class Histogram {
  private readonly counts: number[]
  private sum = 0
  private count = 0

  constructor(readonly buckets: readonly number[] = LATENCY_BUCKETS) {
    this.counts = buckets.map(() => 0)
  }

  observe(value: number): void {
    this.sum += value
    this.count++
    for (let i = 0; i < this.buckets.length; i++) {
      if (value <= this.buckets[i]!) this.counts[i]!++
    }
  }

  lines(name: string): string[] {
    const out = this.buckets.map((le, i) => `${name}_bucket{le="${le}"} ${this.counts[i]}`)
    out.push(`${name}_bucket{le="+Inf"} ${this.count}`, `${name}_sum ${this.sum}`, `${name}_count ${this.count}`)
    return out
  }
}

export class MetricsRegistry {
  private readonly families: Family[] = []

  counter(name: string, help: string): Counter {
    const counter = new Counter()
    this.families.push({ name, help, type: 'counter', samples: () => [{ value: counter.get() }] })
    return counter
  }

  gauge(name: string, help: string, read: () => number | Sample[]): void {
    this.families.push({
      name, help, type: 'gauge',
      samples: () => {
        const value = read()
        return typeof value === 'number' ? [{ value }] : value
      },
    })
  }

  histogram(name: string, help: string, buckets?: readonly number[]): Histogram {
    const histogram = new Histogram(buckets)
    this.families.push({ name, help, type: 'histogram', samples: () => histogram.lines(name) })
    return histogram
  }

  /** The exposition text (Prometheus format 0.0.4). */
  render(): string {
    const lines: string[] = []
    for (const family of this.families) {
      lines.push(`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.type}`)
      for (const sample of family.samples()) {
        if (typeof sample === 'string') {
          lines.push(sample)
          continue
        }
        const labels = sample.labels === undefined
          ? ''
          : `{${Object.entries(sample.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`
        lines.push(`${family.name}${labels} ${sample.value}`)
      }
    }
    return lines.join('\n') + '\n'
  }
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}
