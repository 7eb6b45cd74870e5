/**
 * Compiling a Schema's parsers to plain JavaScript with Effect's Schema JIT compiler, for schemas
 * on a hot path (every line of a journal is decoded on a resume).
 *
 * Compiled parsers check exactly what interpreted ones do. Where code cannot be generated (a
 * `new Function` blocked by a content security policy), Schema interprets as before. A parser is
 * compiled if this runs before the schema's first use: call it where the schema is defined.
 *
 * @internal
 */
import type { Schema } from "effect"
import { SchemaJITCompiler } from "effect/schema"

/** Compiles `schema`'s parsers. @internal */
export const compiled = <S extends Schema.Top>(schema: S): S => {
  SchemaJITCompiler.enable(schema.ast)
  return schema
}
