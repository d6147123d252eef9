/**
 * A one-line progress bar on a terminal (stderr), redrawn at most 10 times a second; nothing at
 * all when the stream is not a TTY (piped output stays clean).
 */

export interface Progress {
  update(bytes: number): void
  done(): void
}

const QUIET: Progress = { update: () => undefined, done: () => undefined }
const WIDTH = 30

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`
}

export function progressBar(stream: NodeJS.WritableStream, label: string, total: number | undefined): Progress {
  if ((stream as NodeJS.WriteStream).isTTY !== true) return QUIET
  const started = Date.now()
  let lastDraw = 0
  let current = 0
  const draw = (): void => {
    const seconds = Math.max(0.001, (Date.now() - started) / 1000)
    const rate = `${formatBytes(current / seconds)}/s`
    let bar = ''
    if (total !== undefined && total > 0) {
      const filled = Math.min(WIDTH, Math.round((current / total) * WIDTH))
      bar = `[${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${Math.floor((current / total) * 100)}% `
    }
    const of = total === undefined ? '' : ` / ${formatBytes(total)}`
    stream.write(`\r\x1b[2K${label} ${bar}${formatBytes(current)}${of}  ${rate}`)
  }
  return {
    update(bytes) {
      current = bytes
      const now = Date.now()
      if (now - lastDraw >= 100) {
        lastDraw = now
        draw()
      }
    },
    done() {
      draw()
      stream.write('\n')
    },
  }
}
