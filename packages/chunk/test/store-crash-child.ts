/**
 * Forked by store-crash.test.ts and killed with SIGKILL at a random moment. Opens the store in
 * argv[2] and writes (and sometimes deletes) blocks in two concurrent loops until killed,
 * reporting over IPC:
 *   { t: 'ready' }                     store open
 *   { t: 'begin', key }                a write started
 *   { t: 'committed', key }            commit resolved: the block must survive the kill
 *   { t: 'deleting', key }             delete started: the block may or may not survive
 */
import { randomBytes, randomInt } from 'node:crypto'
import { BlockStore, computeBlockKey } from '../src/index.js'

const dir = process.argv[2]
if (dir === undefined || process.send === undefined) {
  process.stderr.write('usage: forked with IPC, argv: <store dir>\n')
  process.exit(2)
}
const send = (message: object): void => {
  process.send?.(message)
}

async function writeLoop(store: BlockStore): Promise<never> {
  const mine: string[] = []
  for (;;) {
    if (mine.length > 8 && randomInt(4) === 0) {
      const key = mine.splice(randomInt(mine.length), 1)[0]!
      send({ t: 'deleting', key })
      await store.delete(key)
      continue
    }
    const length = randomInt(1, 4) === 1 ? randomInt(1, 2 * 1024 * 1024) : randomInt(1, 200_000)
    const bytes = randomBytes(length)
    const key = await computeBlockKey(bytes)
    send({ t: 'begin', key })
    const writer = await store.beginWrite(key, { expectedLength: length })
    for (let at = 0; at < length;) {
      const piece = randomInt(1, 1024 * 1024 + 1)
      await writer.write(bytes.subarray(at, at + piece))
      at += piece
    }
    await writer.commit()
    mine.push(key)
    send({ t: 'committed', key })
  }
}

const store = await BlockStore.open(dir)
send({ t: 'ready' })
await Promise.all([writeLoop(store), writeLoop(store)])
