/** The open(2) flags the VFS acts on (Linux values). */
export const OpenFlag = {
  O_ACCMODE: 0o3,
  O_RDONLY: 0o0,
  O_WRONLY: 0o1,
  O_RDWR: 0o2,
  O_CREAT: 0o100,
  O_EXCL: 0o200,
  O_TRUNC: 0o1000,
  O_APPEND: 0o2000,
} as const

export function readsAllowed(flags: number): boolean {
  return (flags & OpenFlag.O_ACCMODE) !== OpenFlag.O_WRONLY
}

export function writesAllowed(flags: number): boolean {
  const mode = flags & OpenFlag.O_ACCMODE
  return mode === OpenFlag.O_WRONLY || mode === OpenFlag.O_RDWR
}
