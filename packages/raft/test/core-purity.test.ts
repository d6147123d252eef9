import { expect } from 'chai'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

// The core must stay a pure state machine: no I/O, no timers, no clock, no ambient randomness.
const FORBIDDEN: Array<[RegExp, string]> = [
  [/from\s+['"]node:/, 'node:* import'],
  [/require\(\s*['"]node:/, 'node:* require'],
  [/from\s+['"](fs|net|os|path|crypto|child_process|timers|worker_threads)['"]/, 'builtin import'],
  [/\bsetTimeout\b|\bsetInterval\b|\bsetImmediate\b|\bqueueMicrotask\b/, 'timer'],
  [/\bDate\b/, 'Date'],
  [/\bMath\.random\b/, 'Math.random'],
  [/\bperformance\.now\b|\bprocess\.hrtime\b/, 'clock'],
  [/\bprocess\./, 'process'],
]

function files(dir: string, ext: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith(ext)).map((f) => join(dir, f))
}

describe('core purity', () => {
  const here = dirname(fileURLToPath(import.meta.url))
  // dist/test -> dist/src/core (compiled) and ../../src/core (sources)
  const compiled = join(here, '..', 'src', 'core')
  const sources = join(here, '..', '..', 'src', 'core')

  for (const [dir, ext] of [[compiled, '.js'], [sources, '.ts']] as const) {
    it(`${ext === '.js' ? 'compiled' : 'source'} files of src/core use no I/O, timers, clock or Math.random`, () => {
      const list = files(dir, ext)
      expect(list.length).to.be.greaterThan(5)
      const offences: string[] = []
      for (const file of list) {
        const text = readFileSync(file, 'utf8')
          .replace(/\/\*[\s\S]*?\*\//g, '')
          .replace(/\/\/.*$/gm, '')
        for (const [re, what] of FORBIDDEN) if (re.test(text)) offences.push(`${file}: ${what}`)
      }
      expect(offences).to.deep.equal([])
    })
  }
})
