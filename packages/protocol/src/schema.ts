/**
 * A minimal runtime validator with static type inference, for decoded frames (untrusted input).
 *
 * `schema.parse(value, label)` returns the typed value or throws TesseraError('PROTOCOL',
 * '<label>.<path>: what is wrong'). Objects come back as fresh objects holding only the declared
 * keys (extras are dropped), so nothing a peer smuggles in survives validation.
 *
 * Speed matters (Raft traffic goes through here): schemas are plain closures, the error path is
 * built only when something fails, and nothing allocates on success except the output objects.
 */
import { TesseraError } from './errors.js'

/** Thrown inside a parse; collects the path while unwinding, turned into a TesseraError at the top. */
class Issue {
  readonly path: (string | number)[] = []
  constructor(readonly message: string) {}
}

export abstract class Schema<T> {
  /** Compile-time only: the validated type. */
  declare readonly _type: T

  /** Validates `value` or throws an Issue. Internal: call `parse`. */
  abstract check(value: unknown): T

  /** Validates an untrusted value; failures become TesseraError('PROTOCOL', '<label><path>: ...'). */
  parse(value: unknown, label = 'value'): T {
    try {
      return this.check(value)
    } catch (err) {
      throw toProtocolError(err, label)
    }
  }

  /** Like `parse` but returns the error instead of throwing. */
  safeParse(value: unknown, label = 'value'): { ok: true; value: T } | { ok: false; error: TesseraError } {
    try {
      return { ok: true, value: this.check(value) }
    } catch (err) {
      return { ok: false, error: toProtocolError(err, label) }
    }
  }
}

export type Infer<S> = S extends Schema<infer T> ? T : never

function toProtocolError(err: unknown, label: string): TesseraError {
  if (err instanceof Issue) {
    let where = label
    for (const segment of err.path) where += typeof segment === 'number' ? `[${segment}]` : `.${segment}`
    return new TesseraError('PROTOCOL', `${where}: ${err.message}`)
  }
  // A bug in a schema, or a getter trap: still never escapes as anything but PROTOCOL.
  return new TesseraError('PROTOCOL', `${label}: ${err instanceof Error ? err.message : String(err)}`)
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (value instanceof Uint8Array) return 'bytes'
  return typeof value
}

class UintSchema extends Schema<number> {
  constructor(private readonly max: number) { super() }
  check(value: unknown): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > this.max) {
      throw new Issue(typeof value === 'number' ? `${value} is not an integer in [0, ${this.max}]` : `expected an unsigned integer, got ${describe(value)}`)
    }
    return value
  }
}

class IntSchema extends Schema<number> {
  constructor(private readonly min: number, private readonly max: number) { super() }
  check(value: unknown): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < this.min || value > this.max) {
      throw new Issue(typeof value === 'number' ? `${value} is not an integer in [${this.min}, ${this.max}]` : `expected an integer, got ${describe(value)}`)
    }
    return value
  }
}

class BoolSchema extends Schema<boolean> {
  check(value: unknown): boolean {
    if (typeof value !== 'boolean') throw new Issue(`expected a boolean, got ${describe(value)}`)
    return value
  }
}

class StrSchema extends Schema<string> {
  constructor(private readonly maxBytes: number, private readonly minBytes: number) { super() }
  check(value: unknown): string {
    if (typeof value !== 'string') throw new Issue(`expected a string, got ${describe(value)}`)
    // A UTF-16 code unit is at most 3 UTF-8 bytes: most strings skip the byte count.
    if (value.length * 3 > this.maxBytes || value.length < this.minBytes) {
      const bytes = Buffer.byteLength(value, 'utf8')
      if (bytes > this.maxBytes) throw new Issue(`string of ${bytes} bytes exceeds ${this.maxBytes}`)
      if (bytes < this.minBytes) throw new Issue(`string of ${bytes} bytes is shorter than ${this.minBytes}`)
    }
    return value
  }
}

class BytesSchema extends Schema<Uint8Array> {
  constructor(private readonly maxBytes: number) { super() }
  check(value: unknown): Uint8Array {
    if (!(value instanceof Uint8Array)) throw new Issue(`expected bytes, got ${describe(value)}`)
    if (value.byteLength > this.maxBytes) throw new Issue(`${value.byteLength} bytes exceed ${this.maxBytes}`)
    return value
  }
}

type Primitive = string | number | boolean

class LiteralSchema<T extends Primitive> extends Schema<T> {
  private readonly allowed: ReadonlySet<Primitive>
  constructor(readonly values: readonly T[]) {
    super()
    this.allowed = new Set(values)
  }
  check(value: unknown): T {
    if (!this.allowed.has(value as Primitive)) {
      throw new Issue(`expected one of ${this.values.map((v) => JSON.stringify(v)).join(', ')}, got ${typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : describe(value)}`)
    }
    return value as T
  }
}

class ArraySchema<T> extends Schema<T[]> {
  constructor(private readonly item: Schema<T>, private readonly maxLength: number) { super() }
  check(value: unknown): T[] {
    if (!Array.isArray(value)) throw new Issue(`expected an array, got ${describe(value)}`)
    if (value.length > this.maxLength) throw new Issue(`array of ${value.length} items exceeds ${this.maxLength}`)
    const out = new Array<T>(value.length)
    let i = 0
    try {
      for (; i < value.length; i++) out[i] = this.item.check(value[i])
    } catch (err) {
      if (err instanceof Issue) err.path.unshift(i)
      throw err
    }
    return out
  }
}

class OptionalSchema<T> extends Schema<T | undefined> {
  constructor(readonly inner: Schema<T>) { super() }
  check(value: unknown): T | undefined {
    // A peer may encode "absent" as nil; both mean absent here.
    return value === undefined || value === null ? undefined : this.inner.check(value)
  }
}

class RefinedSchema<T> extends Schema<T> {
  constructor(private readonly inner: Schema<T>, private readonly rule: (value: T) => string | undefined) { super() }
  check(value: unknown): T {
    const parsed = this.inner.check(value)
    const problem = this.rule(parsed)
    if (problem !== undefined) throw new Issue(problem)
    return parsed
  }
}

type Shape = Record<string, Schema<unknown>>
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends OptionalSchema<unknown> ? K : never }[keyof S]
type RequiredKeys<S extends Shape> = Exclude<keyof S, OptionalKeys<S>>
type Simplify<T> = { [K in keyof T]: T[K] } & {}
export type ObjectOf<S extends Shape> = Simplify<
  { [K in RequiredKeys<S>]: Infer<S[K]> } & { [K in OptionalKeys<S>]?: Infer<S[K]> }
>

export class ObjectSchema<S extends Shape> extends Schema<ObjectOf<S>> {
  private readonly keys: string[]
  private readonly schemas: Schema<unknown>[]
  private readonly optional: boolean[]

  constructor(readonly shape: S) {
    super()
    this.keys = Object.keys(shape)
    this.schemas = this.keys.map((k) => shape[k]!)
    this.optional = this.schemas.map((s) => s instanceof OptionalSchema)
  }

  check(value: unknown): ObjectOf<S> {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
      throw new Issue(`expected an object, got ${describe(value)}`)
    }
    const input = value as Record<string, unknown>
    const out: Record<string, unknown> = {}
    const { keys, schemas, optional } = this
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!
      // Own properties only: never read anything inherited from a prototype.
      const raw = Object.prototype.hasOwnProperty.call(input, key) ? input[key] : undefined
      if (raw === undefined && !optional[i]) {
        const issue = new Issue('is required')
        issue.path.push(key)
        throw issue
      }
      let parsed: unknown
      try {
        parsed = schemas[i]!.check(raw)
      } catch (err) {
        if (err instanceof Issue) err.path.unshift(key)
        throw err
      }
      if (parsed !== undefined) out[key] = parsed
    }
    return out as ObjectOf<S>
  }
}

type DiscriminatedMember<K extends string> = ObjectSchema<Shape & { [P in K]: LiteralSchema<Primitive> }>

class UnionSchema<K extends string, M extends DiscriminatedMember<K>> extends Schema<Infer<M>> {
  private readonly byTag = new Map<Primitive, Schema<unknown>>()

  constructor(private readonly discriminant: K, members: readonly M[]) {
    super()
    for (const member of members) {
      const tagSchema = member.shape[discriminant] as LiteralSchema<Primitive>
      for (const tag of tagSchema.values) {
        if (this.byTag.has(tag)) throw new Error(`union: tag ${String(tag)} appears twice`)
        this.byTag.set(tag, member)
      }
    }
  }

  check(value: unknown): Infer<M> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new Issue(`expected an object, got ${describe(value)}`)
    }
    const tag = Object.prototype.hasOwnProperty.call(value, this.discriminant)
      ? (value as Record<string, unknown>)[this.discriminant]
      : undefined
    const member = this.byTag.get(tag as Primitive)
    if (member === undefined) {
      const issue = new Issue(`unknown kind ${typeof tag === 'string' ? JSON.stringify(tag.slice(0, 40)) : describe(tag)}`)
      issue.path.push(this.discriminant)
      throw issue
    }
    return member.check(value) as Infer<M>
  }
}

/** Byte-length and range helpers used by the message catalogue. */
export const s = {
  /** An unsigned safe integer, at most `max`. */
  uint: (max: number = Number.MAX_SAFE_INTEGER): Schema<number> => new UintSchema(max),
  /** A safe integer in [min, max]. */
  int: (min: number = Number.MIN_SAFE_INTEGER, max: number = Number.MAX_SAFE_INTEGER): Schema<number> => new IntSchema(min, max),
  bool: (): Schema<boolean> => new BoolSchema(),
  /** A string of at most `maxBytes` UTF-8 bytes (and at least `minBytes`). */
  str: (maxBytes: number, minBytes = 0): Schema<string> => new StrSchema(maxBytes, minBytes),
  /** A Uint8Array (msgpackr yields Buffers) of at most `maxBytes`. */
  bytes: (maxBytes: number): Schema<Uint8Array> => new BytesSchema(maxBytes),
  literal: <const T extends Primitive>(...values: T[]): LiteralSchema<T> => new LiteralSchema(values),
  array: <T>(item: Schema<T>, maxLength: number): Schema<T[]> => new ArraySchema(item, maxLength),
  object: <S extends Shape>(shape: S): ObjectSchema<S> => new ObjectSchema(shape),
  optional: <T>(inner: Schema<T>): OptionalSchema<T> => new OptionalSchema(inner),
  /** `inner`, plus a rule over the parsed value that returns a problem or undefined. */
  refine: <T>(inner: Schema<T>, rule: (value: T) => string | undefined): Schema<T> => new RefinedSchema(inner, rule),
  /** A union of object schemas told apart by the literal field `discriminant`. */
  union: <K extends string, const M extends readonly DiscriminatedMember<K>[]>(discriminant: K, members: M): Schema<Infer<M[number]>> =>
    new UnionSchema<K, M[number]>(discriminant, members),
}

export type { OptionalSchema, LiteralSchema }
