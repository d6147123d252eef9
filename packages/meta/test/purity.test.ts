import { expect } from 'chai'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The compiled test lives in dist/test; the sources it checks are in src/fsm. */
const fsmDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'fsm')

describe('fsm: purity', () => {
  it('src/fsm uses no node:* module, clock, randomness or timer', () => {
    const files = readdirSync(fsmDir).filter((f) => f.endsWith('.ts'))
    expect(files.length).to.be.greaterThan(10)
    const forbidden = [
      /from ['"]node:/, /require\(/, /\bDate\b/, /Math\.random/, /performance\./, /process\./, /\bsetTimeout\b/,
      /\bsetInterval\b/, /\bsetImmediate\b/, /\bqueueMicrotask\b/, /crypto\./, /hrtime/,
    ]
    for (const file of files) {
      const source = readFileSync(join(fsmDir, file), 'utf8')
      for (const pattern of forbidden) {
        expect(pattern.test(source), `${file} matches ${pattern}`).to.equal(false)
      }
    }
  })
})
