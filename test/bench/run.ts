/**
 * Benchmark runner: `node test/dist/bench/run.js [--json] [name...]`.
 * Without a name it lists the benchmarks. Each benchmark is a module in this folder that exports
 * `benchmark: { name, description, run(): Promise<Row[]> }`.
 */
import { readdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { Benchmark, Row } from './lib/bench.js'

/** Every benchmark module in this folder; one that fails to load is reported, not fatal. */
async function discover(): Promise<{ found: Benchmark[]; broken: Map<string, string> }> {
  const dir = fileURLToPath(new URL('.', import.meta.url))
  const files = (await readdir(dir)).filter((f) => f.endsWith('.js') && f !== 'run.js').sort()
  const found: Benchmark[] = []
  const broken = new Map<string, string>()
  for (const file of files) {
    try {
      const module = (await import(new URL(file, import.meta.url).href)) as { benchmark?: Benchmark }
      if (module.benchmark !== undefined) found.push(module.benchmark)
    } catch (err) {
      broken.set(file.replace(/\.js$/, ''), err instanceof Error ? err.message : String(err))
    }
  }
  return { found, broken }
}

export function formatTable(rows: Row[]): string {
  if (rows.length === 0) return '(no rows)\n'
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))]
  const cell = (row: Row, c: string): string => {
    const v = row[c]
    return v === undefined ? '' : typeof v === 'number' ? v.toLocaleString('en-US') : v
  }
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r, c).length)))
  const isNumeric = columns.map((c) => rows.some((r) => typeof r[c] === 'number'))
  const line = (values: string[]): string =>
    values.map((v, i) => (isNumeric[i] ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join('  ').trimEnd()
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(columns.map((c) => cell(r, c))))].join('\n') + '\n'
}

async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json')
  const names = argv.filter((a) => !a.startsWith('--'))
  const { found: all, broken } = await discover()
  if (names.length === 0) {
    process.stdout.write('usage: npm run bench -- [--json] <name>...\n\nbenchmarks:\n')
    for (const b of all) process.stdout.write(`  ${b.name.padEnd(16)} ${b.description}\n`)
    for (const [file, message] of broken) process.stdout.write(`  ${file.padEnd(16)} (does not load: ${message})\n`)
    return 0
  }
  const unknown = names.filter((n) => !all.some((b) => b.name === n))
  for (const n of unknown) {
    if (broken.has(n)) process.stderr.write(`benchmark ${n} does not load: ${broken.get(n)}\n`)
  }
  if (unknown.length > 0) {
    process.stderr.write(`unknown benchmark: ${unknown.join(', ')} (run without arguments for the list)\n`)
    return 2
  }
  const results: Record<string, Row[]> = {}
  for (const b of all.filter((x) => names.includes(x.name))) {
    if (!json) process.stdout.write(`# ${b.name}: ${b.description}\n`)
    const rows = await b.run()
    results[b.name] = rows
    if (!json) process.stdout.write(formatTable(rows) + '\n')
  }
  if (json) process.stdout.write(JSON.stringify(results, null, 2) + '\n')
  return 0
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code },
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
    process.exitCode = 1
  },
)
