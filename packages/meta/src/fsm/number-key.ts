/**
 * Keys made of a number and a string: the number in base 36, a NUL, then the string. Keys with
 * one number are contiguous in a string-ordered table and ordered by the string, so one prefix
 * scan lists them (a directory's entries, a chunk server's delete orders).
 */

/** The prefix shared by every key of `num`. */
export function numberKeyPrefix(num: number): string {
  return [num.toString(36), '\0'].join('')
}

export function numberKey(num: number, rest: string): string {
  return [num.toString(36), '\0', rest].join('')
}

/** Splits a key back into (number, string). */
export function splitNumberKey(key: string): [num: number, rest: string] {
  const nul = key.indexOf('\0')
  return [parseInt(key.slice(0, nul), 36), key.slice(nul + 1)]
}
