import { expect } from 'chai'
import { packHolders, unpackHolders } from '../src/fsm/holders.js'

describe('fsm: packed block holders', () => {
  it('packs one to three servers below 1024 into a small integer and unpacks them in order', () => {
    for (const nums of [[1], [1, 2], [1, 2, 3], [5, 700, 1023], [1023], [17, 1000]]) {
      const packed = packHolders(nums)
      expect(packed).to.be.a('number')
      expect(Number.isSafeInteger(packed) && (packed as number) < 2 ** 30).to.equal(true)
      expect(unpackHolders(packed)).to.deep.equal(nums)
    }
  })

  it('keeps an array for four or more servers, or a server number of 1024 and up', () => {
    for (const nums of [[1, 2, 3, 4], [1024], [3, 2048]]) {
      expect(packHolders(nums)).to.equal(nums)
      expect(unpackHolders(packHolders(nums))).to.deep.equal(nums)
    }
  })
})
