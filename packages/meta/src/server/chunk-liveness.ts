/**
 * The leader's memory of its chunk servers: when each last heartbeated and the figures it sent.
 * Never replicated (DESIGN decision 7): a new leader starts every known server afresh, giving
 * it a full timeout to be heard from before it is declared down.
 */

export interface LiveFigures {
  capacityBytes: number
  usedBytes: number
  blockCount: number
  load: number
}

interface Heard {
  atMs: number
  figures: LiveFigures | undefined
}

export class ChunkLiveness {
  private readonly heard = new Map<string, Heard>()

  /** A heartbeat or registration from `id` at `nowMs`. */
  note(id: string, nowMs: number, figures?: LiveFigures): void {
    const previous = this.heard.get(id)
    this.heard.set(id, { atMs: nowMs, figures: figures ?? previous?.figures })
  }

  /** Forget everything and count every server in `ids` as just heard (on becoming leader). */
  reset(ids: Iterable<string>, nowMs: number): void {
    this.heard.clear()
    for (const id of ids) this.heard.set(id, { atMs: nowMs, figures: undefined })
  }

  lastHeardMs(id: string): number | undefined {
    return this.heard.get(id)?.atMs
  }

  figures(id: string): LiveFigures | undefined {
    return this.heard.get(id)?.figures
  }

  /** Counts a placement's bytes as used until the next heartbeat brings real figures. */
  reserve(id: string, bytes: number): void {
    const entry = this.heard.get(id)
    if (entry?.figures !== undefined) entry.figures = { ...entry.figures, usedBytes: entry.figures.usedBytes + bytes }
  }

  /** Whether `id` was heard from within `timeoutMs` of `nowMs`. */
  isLive(id: string, nowMs: number, timeoutMs: number): boolean {
    const at = this.heard.get(id)?.atMs
    return at !== undefined && nowMs - at <= timeoutMs
  }
}
