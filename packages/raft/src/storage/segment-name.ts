/**
 * WAL segment file names: `<seq>-<firstIndex>.seg`, e.g. `0000000000000002-00000000000000004097.seg`.
 * The sequence number orders segments; the index (the first entry the segment was opened for)
 * is for people. A suffix truncation can start a new segment at a lower index than the one
 * before it, so the index alone cannot order them.
 */
export interface SegmentName {
  seq: number
  firstIndex: number
  name: string
}

const PATTERN = /^(\d{16})-(\d{20})\.seg$/

export function segmentFileName(seq: number, firstIndex: number): string {
  return `${String(seq).padStart(16, '0')}-${String(firstIndex).padStart(20, '0')}.seg`
}

export function parseSegmentFileName(name: string): SegmentName | undefined {
  const match = PATTERN.exec(name)
  if (match === null) return undefined
  const seq = Number(match[1])
  const firstIndex = Number(match[2])
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(firstIndex)) return undefined
  return { seq, firstIndex, name }
}
