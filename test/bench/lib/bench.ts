/** What every benchmark module exports, and small helpers shared by them. */

export type Row = Record<string, string | number>

export interface Benchmark {
  name: string
  description: string
  run(): Promise<Row[]>
}

/** Runs `step` in a loop for `ms`, returns operations per second. */
export function perSecond(count: number, startedAt: number): number {
  return count / ((performance.now() - startedAt) / 1000)
}

export function round(value: number, digits = 0): number {
  const f = 10 ** digits
  return Math.round(value * f) / f
}

export function percent(part: number, whole: number): string {
  return whole > 0 ? `${Math.round((part / whole) * 100)}%` : '-'
}
