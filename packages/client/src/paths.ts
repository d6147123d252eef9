/** Path strings as the namespace API takes them: absolute, '/'-separated, no NULs. */
import { TesseraError } from '@tessera/protocol'

/** The components of an absolute path ('/a//b/' -> ['a', 'b']; '/' -> []). */
export function splitPath(path: string): string[] {
  if (!path.startsWith('/')) throw new TesseraError('EINVAL', `not an absolute path: ${JSON.stringify(path)}`)
  if (path.includes('\0')) throw new TesseraError('EINVAL', 'a path may not contain NUL')
  return path.split('/').filter((part) => part !== '' && part !== '.')
}

/** The parent's components and the last name; the root has no parent (EINVAL). */
export function splitParent(path: string): { parent: string[]; name: string } {
  const parts = splitPath(path)
  const name = parts.pop()
  if (name === undefined) throw new TesseraError('EINVAL', 'the root has no parent directory')
  return { parent: parts, name }
}
