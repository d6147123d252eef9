/** Whether a path is a mount point right now, from the kernel's table (never through the mount). */
import { readFile } from 'node:fs/promises'

/** mountinfo escapes space, tab, newline and backslash in paths as \ooo. */
function unescapeMountPath(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)))
}

/** The mount points listed in /proc/self/mountinfo (field 5 of each line). */
export async function mountPoints(): Promise<Set<string>> {
  const text = await readFile('/proc/self/mountinfo', 'utf8')
  const points = new Set<string>()
  for (const line of text.split('\n')) {
    const fields = line.split(' ')
    if (fields.length > 4) points.add(unescapeMountPath(fields[4]!))
  }
  return points
}

export async function isMountPoint(path: string): Promise<boolean> {
  return (await mountPoints()).has(path)
}
