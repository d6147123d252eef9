import { fork, type ChildProcess } from 'node:child_process'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect } from 'chai'
import { BlockStore } from '../src/index.js'
import { TempDirs } from './store-helpers.js'

const CHILD = fileURLToPath(new URL('./store-crash-child.js', import.meta.url))
const ROUNDS = 5

interface ChildMessage { t: 'ready' | 'begin' | 'committed' | 'deleting'; key?: string }

describe('BlockStore crash safety (SIGKILL during writes)', function () {
  this.timeout(30_000)
  const dirs = new TempDirs()
  let child: ChildProcess | undefined
  after(async () => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await dirs.removeAll()
  })

  it('keeps every committed block and shows no partial one after each kill', async () => {
    const dir = await dirs.make('tessera-crash-')
    const mustHave = new Set<string>()
    let committedTotal = 0
    let killsMidWrite = 0
    // The kill delays come from a logged seed so a failure can be replayed.
    const seed = Date.now() % 100_000
    let x = seed + 1
    const nextDelay = (): number => {
      x = (x * 48271) % 2147483647
      return 20 + (x % 250)
    }

    for (let round = 0; round < ROUNDS; round++) {
      const running = fork(CHILD, [dir], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
      child = running
      // 'close' comes after the IPC channel is drained, so every message sent before the kill is in.
      const closed = new Promise<void>((resolve) => running.once('close', () => resolve()))
      const inFlight = new Set<string>()
      const ready = new Promise<void>((resolve, reject) => {
        running.on('message', (message: ChildMessage) => {
          const key = message.key ?? ''
          if (message.t === 'ready') resolve()
          else if (message.t === 'begin') inFlight.add(key)
          else if (message.t === 'committed') {
            inFlight.delete(key)
            mustHave.add(key)
            committedTotal++
          } else if (message.t === 'deleting') mustHave.delete(key)
        })
        running.once('exit', (code, signal) => reject(new Error(`child exited early: ${code ?? signal}`)))
      })
      await withTimeout(ready, 10_000, 'child ready')
      await new Promise((resolve) => setTimeout(resolve, nextDelay()))
      running.kill('SIGKILL')
      await withTimeout(closed, 5_000, 'child exit')
      child = undefined
      if (inFlight.size > 0) killsMidWrite++

      const store = await BlockStore.open(dir, { verifyOnOpen: true })
      try {
        const present = new Set(store.list())
        const lost = [...mustHave].filter((key) => !present.has(key))
        expect(lost, `seed ${seed} round ${round}: committed blocks lost`).to.deep.equal([])
        expect(await readdir(join(dir, 'quarantine')), `seed ${seed} round ${round}: damaged blocks`).to.deep.equal([])
        expect(await readdir(join(dir, 'tmp'))).to.deep.equal([])
        for (const key of present) expect(await store.verify(key)).to.deep.equal({ ok: true })
      } finally {
        await store.close()
      }
    }
    expect(committedTotal, 'the child committed blocks before being killed').to.be.greaterThan(0)
    expect(killsMidWrite, 'some kill landed in the middle of a write').to.be.greaterThan(0)
  })
})

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}
