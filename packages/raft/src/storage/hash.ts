import xxhash from 'xxhash-wasm'

export type Hasher = Awaited<ReturnType<typeof xxhash>>

let loading: Promise<Hasher> | undefined

/** The xxhash-wasm instance, compiled once per process and shared by every storage. */
export function loadHasher(): Promise<Hasher> {
  loading ??= xxhash()
  return loading
}

/** xxh64 over several byte ranges as if they were one, without concatenating them. */
export function xxh64Of(hasher: Hasher, ...parts: Uint8Array[]): bigint {
  const state = hasher.create64()
  for (const part of parts) state.update(part)
  return state.digest()
}
