// Mocha's spec reporter plus one closing line in the plain form CI reads:
// "tests: N passed, N failed".
'use strict'
const Mocha = require('mocha')
const { EVENT_RUN_END } = Mocha.Runner.constants

class SpecWithSummary extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options)
    runner.once(EVENT_RUN_END, () => {
      const { passes, failures } = this.stats
      process.stdout.write(`tests: ${passes} passed, ${failures} failed\n`)
    })
  }
}

module.exports = SpecWithSummary
