/**
 * File name rules, checked where a name enters the namespace or is looked up.
 */
import { LIMITS, TesseraError } from '@tessera/protocol'

/** Bytes of `s` in UTF-8 (lone surrogates count 3, as TextEncoder writes U+FFFD). */
export function utf8Length(s: string): number {
  let bytes = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) bytes += 1
    else if (c < 0x800) bytes += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4
        i++
      } else bytes += 3
    } else bytes += 3
  }
  return bytes
}

export function isDotName(name: string): boolean {
  return name === '.' || name === '..'
}

/**
 * A single path component: non-empty (ENOENT, as Linux answers for ""), without '/' or NUL
 * (EINVAL), at most NAME_MAX bytes of UTF-8 (ENAMETOOLONG). '.' and '..' pass: each operation
 * decides what they mean for it.
 */
export function checkName(name: string): void {
  if (name.length === 0) throw new TesseraError('ENOENT', 'empty file name')
  if (name.length * 3 > LIMITS.maxNameBytes && utf8Length(name) > LIMITS.maxNameBytes) {
    throw new TesseraError('ENAMETOOLONG', `file name longer than ${LIMITS.maxNameBytes} bytes`)
  }
  if (name.includes('/') || name.includes('\0')) {
    throw new TesseraError('EINVAL', 'file name contains "/" or NUL')
  }
}
