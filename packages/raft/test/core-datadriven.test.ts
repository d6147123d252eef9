/**
 * Golden scenario files (test/testdata/*.txt) run against real cores; the core's log lines are
 * part of the expected output. `REWRITE=1 npx mocha ...` rewrites them; review the diff.
 */
import { expect } from 'chai'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { InteractionEnv, formatDatadriven, parseDatadriven } from '../src/testing/index.js'

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'testdata')
const rewrite = process.env.REWRITE === '1'

describe('core: datadriven scenarios (test/testdata)', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.txt')).sort()

  it('has scenario files', () => {
    expect(files.length).to.be.at.least(5)
  })

  for (const file of files) {
    it(file, () => {
      const path = join(dir, file)
      const blocks = parseDatadriven(readFileSync(path, 'utf8'))
      const env = new InteractionEnv()
      const results = blocks.map((b) => ({ ...b, actual: env.run(b.command) }))
      if (rewrite) {
        writeFileSync(path, formatDatadriven(results))
        return
      }
      for (const r of results) expect(r.actual, `${file}:${r.line}: ${r.command}`).to.equal(r.expected)
    })
  }
})
