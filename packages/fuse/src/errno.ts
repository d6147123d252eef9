/**
 * The one place where a failure becomes a number: fuse-native wants 0 or a negative errno.
 * Codes come from @tessera/protocol's ERRNO table (cluster codes map to the errno a POSIX
 * caller should see, e.g. UNAVAILABLE -> EIO).
 */
import { ERRNO, asTesseraError } from '@tessera/protocol'

export function fuseErrno(err: unknown): number {
  return -ERRNO[asTesseraError(err).code]
}
