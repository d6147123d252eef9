/**
 * CPU time and minor page faults of other processes, from /proc/<pid>/stat, for benchmarks
 * that report cost per MiB per process. Both are distorted far less than wall-clock MB/s by load
 * from other processes, and page faults (first touches of memory, each one expensive on these
 * VMs: FACTS.md) do not depend on load at all.
 */
import { readFile } from 'node:fs/promises'

/** Clock ticks per second of /proc's utime/stime (USER_HZ; 100 on Linux for every arch we run on). */
const USER_HZ = 100

export interface ProcessCost {
  /** CPU milliseconds (user + system) used so far. */
  cpuMs: number
  /** Minor page faults so far. */
  faults: number
}

/** What the process has used so far; undefined when it is gone. */
export async function processCost(pid: number): Promise<ProcessCost | undefined> {
  let stat: string
  try {
    stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  // The command name (field 2) may hold spaces and parentheses: fields start after the last ')'.
  // Counted from there: minflt is field 10 of stat(5) (index 7), utime 14 (index 11), stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const faults = Number(fields[7])
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  if (!Number.isFinite(faults) || !Number.isFinite(utime) || !Number.isFinite(stime)) return undefined
  return { cpuMs: ((utime + stime) * 1000) / USER_HZ, faults }
}

/** The cost so far of each named process. */
export async function costSnapshot(pids: ReadonlyMap<string, number>): Promise<Map<string, ProcessCost>> {
  const out = new Map<string, ProcessCost>()
  for (const [name, pid] of pids) {
    const cost = await processCost(pid)
    if (cost !== undefined) out.set(name, cost)
  }
  return out
}

/** Cost per MiB moved between two snapshots, by process name (processes in both only). */
export function costPerMiB(
  before: ReadonlyMap<string, ProcessCost>, after: ReadonlyMap<string, ProcessCost>, mib: number,
): Map<string, ProcessCost> {
  const out = new Map<string, ProcessCost>()
  for (const [name, end] of after) {
    const start = before.get(name)
    if (start !== undefined) out.set(name, { cpuMs: (end.cpuMs - start.cpuMs) / mib, faults: (end.faults - start.faults) / mib })
  }
  return out
}

/** "name cpu/faults, ..." in the given order: CPU ms per MiB with one decimal, faults per MiB whole. */
export function formatCost(perMiB: ReadonlyMap<string, ProcessCost>): string {
  return [...perMiB].map(([name, c]) => `${name} ${c.cpuMs.toFixed(1)}/${Math.round(c.faults)}`).join(', ')
}
