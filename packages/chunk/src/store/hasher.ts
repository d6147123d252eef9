/**
 * The one xxhash-wasm instance of the process. Instantiating the WASM module costs a few
 * milliseconds, so every user (keys, writers, readers) awaits the same promise.
 */
import xxhash from 'xxhash-wasm'

export type Hasher = Awaited<ReturnType<typeof xxhash>>

let loading: Promise<Hasher> | undefined

export function loadHasher(): Promise<Hasher> {
  loading ??= xxhash()
  return loading
}

/** An xxh64 value as the 16 lowercase hex characters used in keys. */
export function hex64(value: bigint): string {
  return value.toString(16).padStart(16, '0')
}

export type XXHash64 = ReturnType<Hasher['create64']>
