"""`python -m mlgen.docgen`: write docs/reference.md, the spec reference, from the JSON Schema.

The reference is generated, never hand-edited: every table and key of `mlproject.toml` with its
type, default, allowed values (enums, ranges, lengths, patterns) and description, read from
schemas/mlproject.schema.json, which is itself generated from compiler/spec/model.py. Nothing
here names a key of the spec: the walk is generic over the schema (`$defs`/`$ref`, `anyOf` with
null, enums, patterns, bounds, arrays, `additionalProperties` maps), so a key added to the model
shows up after `python -m mlgen.schema_update && python -m mlgen.docgen`.

Examples: each section shows its part of docs/examples/mlproject.toml (a complete spec that the
tests validate); a section missing there shows its defaults instead.

    python -m mlgen.docgen            rewrite docs/reference.md
    python -m mlgen.docgen --check    exit 1 when docs/reference.md is stale (writes nothing)

Output is deterministic: schema order, no timestamps.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgen.spec import rules

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "schemas" / "mlproject.schema.json"
EXAMPLES = ROOT / "docs" / "examples" / "mlproject.toml"
OUTPUT = ROOT / "docs" / "reference.md"

# Known patterns in words (the regex is always shown too; an unknown pattern shows only the regex).
PATTERN_WORDS = {
    r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$": "a name: a letter or digit, then up to 63 letters, digits, `_` or `-`",
    r"^[A-Za-z0-9_.@+=-][A-Za-z0-9_.@+=/-]*$": (
        "a relative path inside the repository: letters, digits and `_ . @ + = - /`, "
        "not starting with `/`, no `..` segment"
    ),
    r"^[A-Za-z0-9_]([A-Za-z0-9._/-]{0,98}[A-Za-z0-9_])?$": "a branch name: letters, digits and `. _ / -`, at most 100 characters",
    r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$": "a dotted import path such as `package.module.Class`",
    r"^\S+( \S+){4}$": "five cron fields separated by single spaces",
    r"^3\.[0-9]{1,2}$": 'a Python 3 version such as `"3.12"`',
    r"^[a-z0-9_]+$": "lower-case letters, digits and `_`",
    r"^[A-Z_][A-Z0-9_]{0,63}$": "an environment variable name: upper-case letters, digits and `_` (not starting with a digit)",
    rules.REGISTRY_PATTERN: (
        "a relative folder path inside the repository (file-system registry), "
        "`s3://bucket[/prefix]`, `gs://bucket[/prefix]` or `az://container[/prefix]` (object storage), "
        "`mlflow+http(s)://host[:port][/path]` or `mlflow+sqlite:///path.db` (an MLflow registry)"
    ),
    r"^https://[^\s'\"`$\\]+$": "an `https://` URL without spaces, quotes, backticks, `$` or `\\`",
}

JSON_TYPE_WORDS = {
    "string": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "null": "none",
    "object": "table",
    "array": "array",
}


# --------------------------------------------------------------------------- the schema walk


def _size(lo: int | None, hi: int | None, unit: str, one: str) -> list[str]:
    """A length or item-count bound in words: "2 to 5 items", "not empty", "at most 8 characters"."""
    if lo and hi:
        return [f"{lo} to {hi} {unit}"]
    if lo:
        return [one if lo == 1 else f"at least {lo} {unit}"]
    return [] if hi is None else [f"at most {hi} {unit}"]


@dataclass
class Key:
    name: str
    type: str
    required: bool
    default: str | None  # TOML text of the default; None when the schema gives none
    allowed: list[str]
    description: str
    section: str | None = None  # anchor of the section that documents this key's table(s)


@dataclass
class Section:
    path: str  # dotted path, `<name>` for a user-chosen key
    header: str  # how it is written in TOML: [a.b], [[a]], [a.<name>]
    kind: str  # table | array | map
    description: str
    required: bool
    keys: list[Key] = field(default_factory=list)
    example_path: tuple[str, ...] = ()  # where its example lives in the example spec
    note: str = ""


class Walker:
    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self.defs: dict[str, Any] = schema.get("$defs", {})
        self.sections: list[Section] = []

    # -- resolving -------------------------------------------------------------------------

    def deref(self, node: dict[str, Any]) -> dict[str, Any]:
        seen = set()
        while "$ref" in node:
            ref = node["$ref"]
            if ref in seen or not ref.startswith("#/"):
                raise ValueError(f"unsupported $ref {ref!r}")
            seen.add(ref)
            target: Any = self.schema
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            merged = {k: v for k, v in node.items() if k != "$ref"}
            node = {**target, **merged}
        return node

    def unwrap(self, node: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """(the schema without a `null` alternative, whether null was allowed)."""
        node = self.deref(node)
        variants = node.get("anyOf") or node.get("oneOf")
        if variants:
            rest = [v for v in variants if self.deref(v).get("type") != "null"]
            if len(rest) < len(variants) and len(rest) == 1:
                outer = {k: v for k, v in node.items() if k not in ("anyOf", "oneOf")}
                inner = self.deref(rest[0])
                return {**inner, **{k: v for k, v in outer.items() if k in ("default", "description")}}, True
            if len(rest) < len(variants):
                return {**node, "anyOf": rest}, True
        types = node.get("type")
        if isinstance(types, list) and "null" in types:
            others = [t for t in types if t != "null"]
            return {**node, "type": others[0] if len(others) == 1 else others}, True
        return node, False

    def is_table(self, node: dict[str, Any]) -> bool:
        return node.get("type") == "object" and "properties" in node or (
            "properties" in node and "type" not in node
        )

    def map_value(self, node: dict[str, Any]) -> dict[str, Any] | None:
        """For a map of tables (additionalProperties is a table): that table's schema."""
        if node.get("type") != "object" or "properties" in node:
            return None
        extra = node.get("additionalProperties")
        if not isinstance(extra, dict):
            return None
        value, _ = self.unwrap(extra)
        if self.is_table(value):
            return value
        # a value that is a list or a table (train.search.space: values or a range): the table's section
        tables = [self.deref(v) for v in value.get("anyOf", []) if self.is_table(self.deref(v))]
        return tables[0] if len(tables) == 1 else None

    def map_alternatives(self, node: dict[str, Any]) -> list[str]:
        """The map's value types besides its table (in words), when a value may be either."""
        value, _ = self.unwrap(node["additionalProperties"])
        return [self.type_words(v) for v in value.get("anyOf", []) if not self.is_table(self.deref(v))]

    def array_item(self, node: dict[str, Any]) -> dict[str, Any] | None:
        if node.get("type") != "array" or not isinstance(node.get("items"), dict):
            return None
        item, _ = self.unwrap(node["items"])
        return item if self.is_table(item) else None

    # -- types and constraints in words -------------------------------------------------------

    def type_words(self, node: dict[str, Any]) -> str:
        node, nullable = self.unwrap(node)
        variants = node.get("anyOf") or node.get("oneOf")
        if variants:
            words = join_or([self.type_words(v) for v in variants])
        elif "const" in node:
            words = f"the constant {toml(node['const'])}"
        else:
            types = node.get("type")
            if isinstance(types, list):
                words = join_or([JSON_TYPE_WORDS.get(t, t) for t in types])
            elif types == "array":
                item = node.get("items")
                words = f"array of {plural(self.type_words(item))}" if isinstance(item, dict) else "array"
            elif types == "object" or (types is None and "properties" in node):
                if "properties" in node:
                    words = "table"
                else:
                    extra = node.get("additionalProperties")
                    if isinstance(extra, dict):
                        words = f"table of {plural(self.type_words(extra))}"
                    else:
                        words = "table"
            elif types is None and "enum" in node:
                words = "string"
            else:
                words = JSON_TYPE_WORDS.get(str(types), str(types))
        return words

    def constraints(self, node: dict[str, Any], *, inner: bool = False) -> list[str]:
        """Allowed values in words (enum, bounds, lengths, patterns), nested into items/values."""
        node, _ = self.unwrap(node)
        out: list[str] = []
        variants = node.get("anyOf") or node.get("oneOf")
        if variants:
            for v in variants:
                c = self.constraints(v, inner=True)
                if c:
                    out.append(f"as {a_an(self.type_words(v))}: " + "; ".join(c))
        if "enum" in node:
            values = [toml(v) for v in node["enum"]]
            out.append(("one of " if len(values) > 1 else "exactly ") + ", ".join(f"`{v}`" for v in values))
        if "const" in node and not inner:
            out.append(f"exactly `{toml(node['const'])}`")
        bound = bounds(node)
        if bound:
            out.append(bound)
        if "minLength" in node or "maxLength" in node:
            out.extend(_size(node.get("minLength"), node.get("maxLength"), "characters", "not empty"))
        if "pattern" in node:
            pattern = node["pattern"]
            words = PATTERN_WORDS.get(pattern)
            regex = f"matches {code(pattern)}"
            out.append(f"{words} ({regex})" if words else regex)
        if "format" in node:
            out.append(f"format {node['format']}")
        if node.get("type") == "array":
            out.extend(_size(node.get("minItems"), node.get("maxItems"), "items", "at least one item"))
            if node.get("uniqueItems"):
                out.append("no duplicates")
            item = node.get("items")
            if isinstance(item, dict) and self.array_item(node) is None:
                c = self.constraints(item, inner=True)
                if c:
                    out.append("each item: " + "; ".join(c))
        if node.get("type") == "object" and "properties" not in node:
            lo = node.get("minProperties")
            if lo:
                out.append("at least one entry" if lo == 1 else f"at least {lo} entries")
            extra = node.get("additionalProperties")
            if isinstance(extra, dict) and self.map_value(node) is None:
                c = self.constraints(extra, inner=True)
                if c:
                    out.append("keys: your names; each value: " + "; ".join(c))
            elif isinstance(extra, dict):
                out.append("keys: your names")
        return out

    # -- sections --------------------------------------------------------------------------

    def walk(self) -> list[Section]:
        root = self.deref(self.schema)
        top = Section(
            path="",
            header="(top level)",
            kind="table",
            description=root.get("description", ""),
            required=True,
        )
        self.sections.append(top)
        self.table_keys(top, root, ())
        return self.sections

    def table_keys(self, section: Section, node: dict[str, Any], path: tuple[str, ...]) -> None:
        required = set(node.get("required", []))
        later: list[tuple[str, dict[str, Any], bool, dict[str, Any]]] = []
        for name, prop in node.get("properties", {}).items():
            inner, _nullable = self.unwrap(prop)
            key = Key(
                name=name,
                type=self.type_words(prop),
                required=name in required,
                default=toml(inner["default"]) if "default" in inner else None,
                allowed=[] if self.is_table(inner) else self.constraints(prop),
                description=describe(prop, inner),
            )
            nested = self.is_table(inner) or self.array_item(inner) is not None or self.map_value(inner) is not None
            if nested:
                key.section = anchor(".".join((*path, name)))
            section.keys.append(key)
            if nested:
                later.append((name, inner, name in required, prop))
        for name, inner, req, prop in later:
            self.nested(name, inner, req, prop, path)

    def nested(self, name: str, node: dict[str, Any], required: bool, prop: dict[str, Any],
               parent: tuple[str, ...]) -> None:
        path = (*parent, name)
        dotted_path = ".".join(toml_key(p) for p in path)
        description = describe(prop, node)
        if self.is_table(node):
            section = Section(".".join(path), f"[{dotted_path}]", "table", description, required,
                              example_path=path)
            self.sections.append(section)
            self.table_keys(section, node, path)
            return
        item = self.array_item(node)
        if item is not None:
            section = Section(".".join(path), f"[[{dotted_path}]]", "array", describe(prop, item) or description,
                              required, example_path=path)
            extra = [c for c in self.constraints(node) if not c.startswith("each item")]
            section.note = "An array of tables: repeat the header once per entry" + (
                f" ({'; '.join(extra)})." if extra else "."
            )
            self.sections.append(section)
            self.table_keys(section, item, (*path, "[]"))
            return
        value = self.map_value(node)
        assert value is not None
        section = Section(".".join(path), f"[{dotted_path}]", "map", description, required, example_path=path)
        extra = self.constraints(node)
        others = self.map_alternatives(node)
        section.note = (
            f"A table whose keys you choose (`{dotted_path}.<name>`); each value is "
            + (f"{join_or([a_an(w) for w in others])}, or " if others else "")
            + "a table with the keys below"
            + (f" ({'; '.join(c for c in extra if c != 'keys: your names')})" if len(extra) > 1 else "")
            + ". Write each entry as an inline table on one line, or as its own "
            f"`[{dotted_path}.<name>]` table."
        )
        self.sections.append(section)
        self.table_keys(section, value, (*path, "<name>"))


# --------------------------------------------------------------------------- words and TOML


def join_or(words: list[str]) -> str:
    words = list(dict.fromkeys(words))
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " or " + words[-1]


def plural(words: str) -> str:
    if " or " in words:
        return f"({words})"
    if words.startswith(("array of", "table of")):
        return words.replace(" of ", "s of ", 1)
    irregular = {"none": "none"}
    return irregular.get(words, words + "s")


def a_an(words: str) -> str:
    return ("an " if words[:1] in "aeiou" else "a ") + words


def bounds(node: dict[str, Any]) -> str:
    lo, hi = node.get("minimum"), node.get("maximum")
    xlo, xhi = node.get("exclusiveMinimum"), node.get("exclusiveMaximum")
    low = f"> {num(xlo)}" if xlo is not None else (f"≥ {num(lo)}" if lo is not None else "")
    high = f"< {num(xhi)}" if xhi is not None else (f"≤ {num(hi)}" if hi is not None else "")
    if lo is not None and hi is not None:
        return f"from {num(lo)} to {num(hi)}"
    if low and high:
        return f"{low} and {high}"
    return low or high


def num(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def describe(prop: dict[str, Any], inner: dict[str, Any]) -> str:
    text = prop.get("description") or inner.get("description") or ""
    return " ".join(text.split())


def code(s: str) -> str:
    """`s` as a Markdown code span, fenced with more backticks than any run inside it."""
    longest = max((len(m) for m in re.findall(r"`+", s)), default=0)
    fence = "`" * (longest + 1)
    return f"{fence} {s} {fence}" if longest else f"{fence}{s}{fence}"


def cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def toml_key(k: str) -> str:
    if k in ("<name>", "[]") or _BARE.match(k):
        return k
    return json.dumps(k, ensure_ascii=False)


def toml(value: Any) -> str:
    """A value as TOML source text."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isinf(value) or math.isnan(value):
            return str(value).lower()
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{toml_key(k)} = {toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {value!r}")


def anchor(path: str) -> str:
    return "spec" if not path else "spec-" + re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")


# --------------------------------------------------------------------------- examples


def example_for(section: Section, examples: dict[str, Any], walker: Walker) -> tuple[str, bool]:
    """(TOML text, taken from the example spec?) for a section."""
    value: Any = examples
    found = True
    for part in section.example_path:
        if isinstance(value, dict) and part in value:
            value = value[part]
        else:
            found = False
            break
    nested = {k.name for k in section.keys if k.section}
    header_key = ".".join(toml_key(p) for p in section.example_path)
    if found and section.kind == "array" and isinstance(value, list) and value:
        blocks = []
        for entry in value:
            lines = [f"[[{header_key}]]"]
            lines += [f"{toml_key(k)} = {toml(v)}" for k, v in entry.items() if k not in nested]
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks), True
    if found and section.kind == "map" and isinstance(value, dict) and value:
        lines = [f"[{header_key}]"] + [f"{toml_key(k)} = {toml(v)}" for k, v in value.items()]
        return "\n".join(lines), True
    if found and section.kind == "table" and isinstance(value, dict):
        own = [(k, v) for k, v in value.items() if k not in nested]
        if own or not nested:
            lines = [f"[{header_key}]"] if header_key else []
            lines += [f"{toml_key(k)} = {toml(v)}" for k, v in own]
            return "\n".join(lines), True
    # not in the example spec: the defaults the schema states
    lines = []
    for key in section.keys:
        if key.section:
            continue
        if key.default is not None and key.default != "none":
            lines.append(f"{toml_key(key.name)} = {key.default}")
    if not lines:
        return "", False
    if section.kind == "array":
        head = f"[[{header_key}]]"
    elif section.kind == "map":
        return f"[{header_key}.my-name]\n" + "\n".join(lines), False
    else:
        head = f"[{header_key}]" if header_key else ""
    return "\n".join(([head] if head else []) + lines), False


# --------------------------------------------------------------------------- Markdown


INTRO = """\
<!-- generated by `python -m mlgen.docgen` from schemas/mlproject.schema.json - do not edit -->
# Spec reference: `mlproject.toml`

Every table and key of the spec, generated from the JSON Schema
[`schemas/mlproject.schema.json`](../schemas/mlproject.schema.json) (which `mlgen schema` prints and
which is generated from the spec model). A test fails when this page is stale; regenerate it with
`python -m mlgen.docgen`.

How to read it:

- **type**: TOML types. *table* is a TOML table (`[name]` or an inline `{ ... }`), *array* a TOML
  array, *number* an integer or a float.
- **default**: the value used when the key is left out. *required* keys have none; *optional*
  keys without a stated default are simply absent (an empty list or table, or the behaviour the
  description names). *none* means "not set".
- **allowed**: the values the schema accepts, in words; the regular expression of a pattern is
  shown as well. `mlgen validate` reports every violation with file, line, column and a hint.
- The spec may also live in `pyproject.toml`, with every table under `[tool.mlgen]`
  (`[tool.mlgen.project]`, `[tool.mlgen.data]`, ...).
- Unknown keys are errors everywhere (the model is strict), with a "did you mean" hint.

Examples come from [`examples/mlproject.toml`](examples/mlproject.toml), a complete spec that
the tests validate; a section that it does not use shows its defaults instead.
"""


def render(schema: dict[str, Any], examples: dict[str, Any]) -> str:
    walker = Walker(schema)
    sections = walker.walk()
    out = [INTRO]
    out.append("## Sections\n")
    out.append("| table | required | what it is |")
    out.append("| --- | --- | --- |")
    for s in sections:
        if not s.path:
            continue
        depth = s.path.count(".") - s.path.count(".<name>") - s.path.count(".[]")
        indent = "&nbsp;&nbsp;" * depth
        out.append(
            f"| {indent}[`{cell(s.header)}`](#{anchor(s.path)}) | {'yes' if s.required else 'no'} "
            f"| {cell(first_sentence(s.description))} |"
        )
    out.append("")
    for s in sections:
        out.append(f'<a id="{anchor(s.path)}"></a>\n')
        title = "Top level" if not s.path else f"`{s.header}`"
        out.append(f"## {title}\n")
        facts = []
        if s.path:
            facts.append("required" if s.required else "optional")
            facts.append({"table": "table", "array": "array of tables", "map": "table of tables"}[s.kind])
        if facts:
            out.append(f"*{', '.join(facts)}*\n")
        if s.description:
            out.append(s.description + "\n")
        if s.note:
            out.append(s.note + "\n")
        if not s.path:
            out.append("The spec's top-level keys are its tables:\n")
        out.append("| key | type | default | allowed | description |")
        out.append("| --- | --- | --- | --- | --- |")
        for k in s.keys:
            if k.required:
                default = "**required**"
            elif k.default is None:
                default = "optional"
            else:
                default = f"`{cell(k.default)}`" if k.default != "none" else "none"
            allowed = "; ".join(k.allowed) if k.allowed else ""
            desc = k.description
            if k.section:
                link = f"see [{section_header(sections, k.section)}](#{k.section})"
                desc = f"{desc} ({link})" if desc else link
            out.append(
                f"| `{cell(k.name)}` | {cell(k.type)} | {default} | {cell(allowed) or '—'} | {cell(desc) or '—'} |"
            )
        out.append("")
        if s.path:
            text, from_spec = example_for(s, examples, walker)
            if text:
                out.append("Example:" if from_spec else "Example (the defaults):")
                out.append("")
                out.append("```toml")
                out.append(text)
                out.append("```")
                out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def section_header(sections: list[Section], anchor_id: str) -> str:
    for s in sections:
        if anchor(s.path) == anchor_id:
            return f"`{cell(s.header)}`"
    return anchor_id


def first_sentence(text: str) -> str:
    m = re.match(r"(.+?[.:])(\s|$)", text)
    return m.group(1) if m else text


# --------------------------------------------------------------------------- entry point


def generate(schema_path: Path = SCHEMA, examples_path: Path = EXAMPLES) -> str:
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    examples = tomllib.loads(examples_path.read_text(encoding="utf-8")) if examples_path.exists() else {}
    return render(schema, examples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlgen.docgen", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when the file is stale")
    parser.add_argument("--schema", type=Path, default=SCHEMA, help="JSON Schema (default: %(default)s)")
    parser.add_argument("--examples", type=Path, default=EXAMPLES, help="example spec (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=OUTPUT, help="output file (default: %(default)s)")
    args = parser.parse_args(argv)
    if not args.schema.is_file():
        print(f"docgen: {args.schema} not found (run from a checkout of mlgen)", file=sys.stderr)
        return 2
    text = generate(args.schema, args.examples)
    current = args.out.read_text(encoding="utf-8") if args.out.exists() else None
    if args.check:
        if current != text:
            print(f"stale: {args.out}; run `python -m mlgen.docgen`", file=sys.stderr)
            return 1
        print(f"up to date: {args.out}")
        return 0
    if current == text:
        print(f"unchanged: {args.out}")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
