/**
 * A canonical text of a schema's shape, for the graph's version hash: the same for schemas that
 * differ only in the order of a struct's fields or a union's members, different when a field, a
 * type, a literal or a class's fields change (`String(ast)` prints a class by its name alone and a
 * struct in declaration order).
 */
import * as SchemaAST from "effect/SchemaAST"

const annotationKey = (ast: SchemaAST.Annotated): string | undefined => {
  const a = ast.annotations
  const id = a[SchemaAST.SchemaIdAnnotationId]
  if (typeof id === "symbol") return id.description
  if (typeof id === "string") return id
  for (const key of [SchemaAST.IdentifierAnnotationId, SchemaAST.TitleAnnotationId, SchemaAST.DescriptionAnnotationId]) {
    const v = a[key]
    if (typeof v === "string") return v
  }
  return undefined
}

const literal = (value: SchemaAST.LiteralValue): string =>
  typeof value === "bigint" ? `${value}n` : JSON.stringify(value)

const propertyName = (name: PropertyKey): string => (typeof name === "symbol" ? `@${name.description}` : JSON.stringify(name))

/** @internal */
export const shape = (root: SchemaAST.AST): string => {
  const stack = new Set<SchemaAST.AST>()
  const go = (ast: SchemaAST.AST): string => {
    if (stack.has(ast)) return "#rec"
    stack.add(ast)
    try {
      return describe(ast)
    } finally {
      stack.delete(ast)
    }
  }
  const describe = (ast: SchemaAST.AST): string => {
    switch (ast._tag) {
      case "Declaration":
        return `decl(${annotationKey(ast) ?? "?"})<${ast.typeParameters.map(go).join(",")}>`
      case "Literal":
        return literal(ast.literal)
      case "UniqueSymbol":
        return `@${ast.symbol.description}`
      case "Enums":
        return `enum(${ast.enums.map(([k, v]) => `${k}=${JSON.stringify(v)}`).sort().join(",")})`
      case "TemplateLiteral":
        return `\`${String(ast)}\``
      case "TupleType":
        return `[${ast.elements.map((e) => go(e.type) + (e.isOptional ? "?" : "")).join(",")}${
          ast.rest.length > 0 ? `,...${ast.rest.map((r) => go(r.type)).join(",")}` : ""
        }]`
      case "TypeLiteral": {
        const props = ast.propertySignatures
          .map((p) => `${propertyName(p.name)}${p.isOptional ? "?" : ""}:${go(p.type)}`)
          .sort()
        const index = ast.indexSignatures.map((i) => `[${go(i.parameter)}]:${go(i.type)}`).sort()
        return `{${[...props, ...index].join(";")}}`
      }
      case "Union":
        return `(${ast.types.map(go).sort().join("|")})`
      case "Suspend":
        return go(ast.f())
      case "Refinement":
        return `${go(ast.from)}&${annotationKey(ast) ?? "filter"}`
      case "Transformation":
        return `(${go(ast.from)}=>${go(ast.to)})`
      default:
        // keywords: string, number, unknown, …
        return ast._tag
    }
  }
  return go(root)
}
