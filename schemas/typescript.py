"""A small JSON Schema → TypeScript converter for the schemas :mod:`schemas.export` produces.

It understands the subset Pydantic emits for our DTOs: local ``$ref``s into ``$defs``,
``const``/``enum`` (as string-literal unions), ``anyOf``/``oneOf`` (as unions, ``null`` last),
arrays, tuples, nested and free-form objects. Anything else becomes ``unknown`` rather than a
guess, so a new construct shows up as a visible ``unknown`` in the diff instead of a wrong type.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

_REF_PREFIX = "#/$defs/"
_IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
_WIDTH = 100  # the line length beyond which a type alias is wrapped
_SCALARS = {
    "string": "string",
    "integer": "number",
    "number": "number",
    "boolean": "boolean",
    "null": "null",
}

Schema = Mapping[str, Any]


def schema_to_typescript(document: Schema, *, header: Sequence[str] = ()) -> str:
    """Render every entry of ``document["$defs"]`` as a TypeScript declaration.

    Object schemas become ``export interface``; everything else (enums, unions) becomes
    ``export type``. Declarations are sorted by name so the output is stable.

    Args:
        document: A JSON Schema whose ``$defs`` hold the named schemas.
        header: Lines of the leading ``//`` comment.

    Returns:
        The TypeScript source, ending with a newline.

    Raises:
        ValueError: when a name is not a TypeScript identifier or a ``$ref`` is not local.
    """
    defs: Mapping[str, Schema] = document.get("$defs", {})
    blocks = ["\n".join(f"// {line}".rstrip() for line in header)] if header else []
    blocks += [declaration(name, defs[name]) for name in sorted(defs)]
    return "\n\n".join(blocks) + "\n"


def declaration(name: str, schema: Schema) -> str:
    """One ``export interface`` / ``export type`` declaration with its doc comment."""
    _check_identifier(name)
    lines = _doc(schema.get("description"), "")
    if schema.get("type") == "object" and "properties" in schema:
        lines.append(f"export interface {name} {{")
        required = set(schema.get("required", ()))
        for prop, sub in schema["properties"].items():
            lines += _doc(_property_doc(sub), "  ")
            optional = "" if prop in required else "?"
            lines.append(f"  {_key(prop)}{optional}: {ts_type(sub)};")
        lines.append("}")
    else:
        expression = ts_type(schema)
        members = _alternatives(schema)
        if len(name) + len(expression) > _WIDTH and members and len(members) > 1:
            # One member a line (prettier's layout) keeps long unions readable and diffable.
            wrapped = "".join(f"\n  | {member}" for member in _ordered(members))
            lines.append(f"export type {name} ={wrapped};")
        else:
            lines.append(f"export type {name} = {expression};")
    return "\n".join(lines)


def ts_type(schema: Schema | bool) -> str:
    """The TypeScript type expression of one (sub)schema."""
    if schema is True or schema == {}:
        return "unknown"
    if schema is False:
        return "never"
    assert not isinstance(schema, bool)  # narrowed above; keeps mypy --strict happy
    if "$ref" in schema:
        return _ref_name(schema["$ref"])
    if "const" in schema:
        return _literal(schema["const"])
    members = _alternatives(schema)
    if members is not None:
        return _union(members)
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return ts_type(schema["allOf"][0])
    kind = schema.get("type")
    if isinstance(kind, list):
        return _union([ts_type({**schema, "type": one}) for one in kind])
    if kind == "array":
        return _array(schema)
    if kind == "object":
        return _object(schema)
    return _SCALARS.get(str(kind), "unknown")


def _array(schema: Schema) -> str:
    if "prefixItems" in schema:
        return "[" + ", ".join(ts_type(item) for item in schema["prefixItems"]) + "]"
    item = ts_type(schema.get("items", True))
    # ``A | B[]`` would mean ``A | (B[])``: parenthesise any union before the suffix.
    return f"({item})[]" if " | " in item else f"{item}[]"


def _object(schema: Schema) -> str:
    if "properties" in schema:
        required = set(schema.get("required", ()))
        fields = [
            f"{_key(prop)}{'' if prop in required else '?'}: {ts_type(sub)}"
            for prop, sub in schema["properties"].items()
        ]
        return "{ " + "; ".join(fields) + " }" if fields else "Record<string, never>"
    extra = schema.get("additionalProperties", True)
    return f"Record<string, {ts_type(extra)}>"


def _alternatives(schema: Schema) -> list[str] | None:
    """The member types of an ``enum``/``oneOf``/``anyOf`` schema; None for other schemas."""
    if "enum" in schema:
        return [_literal(value) for value in schema["enum"]]
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return [ts_type(member) for member in schema[key]]
    return None


def _ordered(members: Sequence[str]) -> list[str]:
    unique = list(dict.fromkeys(members))
    # ``T | null`` reads better than ``null | T``; TypeScript does not care about the order.
    unique.sort(key=lambda member: member == "null")
    return unique


def _union(members: Sequence[str]) -> str:
    return " | ".join(_ordered(members)) or "never"


def _property_doc(schema: Schema) -> str | None:
    """A property's description and string ``format`` (``date-time``, ``uri``), if any.

    An optional field's schema is ``anyOf: [X, null]``; Pydantic puts the description of an
    ``Annotated`` type (and the format) inside ``X``, so that is looked at too.
    """
    members = [m for m in schema.get("anyOf", ()) if m != {"type": "null"}]
    inner = members[0] if len(members) == 1 else {}
    description = schema.get("description", inner.get("description"))
    string_format = schema.get("format", inner.get("format"))
    parts = [str(description)] if description else []
    if string_format:
        parts.append(f"Format: `{string_format}`.")
    return "\n".join(parts) or None


def _doc(text: str | None, indent: str) -> list[str]:
    if not text or not text.strip():
        return []
    lines = text.strip().replace("*/", "*\\/").splitlines()
    if len(lines) == 1:
        return [f"{indent}/** {lines[0]} */"]
    return [f"{indent}/**", *(f"{indent} * {line}".rstrip() for line in lines), f"{indent} */"]


def _ref_name(ref: str) -> str:
    if not ref.startswith(_REF_PREFIX):
        raise ValueError(f"only local {_REF_PREFIX}<Name> references are supported, got {ref!r}")
    name = ref.removeprefix(_REF_PREFIX)
    _check_identifier(name)
    return name


def _check_identifier(name: str) -> None:
    # Pydantic names a model ``X-Input``/``X-Output`` when its two modes differ; that must be
    # resolved in the export list, not papered over with a mangled TypeScript name.
    if not _IDENTIFIER.match(name):
        raise ValueError(f"{name!r} is not a valid TypeScript type name")


def _key(name: str) -> str:
    return name if _IDENTIFIER.match(name) else json.dumps(name)


def _literal(value: object) -> str:
    # JSON literals are valid TypeScript literal types (strings, numbers, booleans, null).
    return json.dumps(value)
