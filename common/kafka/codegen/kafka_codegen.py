#!/usr/bin/env python3
"""Generates the C++ Kafka message codec from message descriptions.

Input: one JSON description per message (common/kafka/messages/*.json), in the
shape of Apache Kafka's own message schemas: name, apiKey, type,
validVersions, flexibleVersions and a tree of fields with versions,
nullableVersions, taggedVersions, tag, default and ignorable. Lines starting
with // are ignored so descriptions may carry comments.

Output, under --out-dir:
  common/kafka/messages/<api>.h/.cc   request and response structs of one API
  common/kafka/messages/all_messages.h  every message header + type list
  common/kafka/messages/api_registry.h/.cc  api key -> versions table
  common/kafka/messages/random_fill.h/.cc   (with --testing) random values
                                            that respect versions, for tests

Every version difference is expressed as a condition on `version` next to the
field it concerns, so a new message version usually needs only a description
change. Standard library only, so the build needs nothing beyond Python 3.
"""

import argparse
import json
import os
import re
import sys

INF = 0x7FFF

PRIMITIVES = {
    # kafka type: (C++ type, Reader method, Writer method, fixed width)
    "int8": ("int8_t", "ReadInt8", "WriteInt8", 1),
    "int16": ("int16_t", "ReadInt16", "WriteInt16", 2),
    "int32": ("int32_t", "ReadInt32", "WriteInt32", 4),
    "int64": ("int64_t", "ReadInt64", "WriteInt64", 8),
    "uint16": ("uint16_t", "ReadUint16", "WriteUint16", 2),
    "uint32": ("uint32_t", "ReadUint32", "WriteUint32", 4),
    "float64": ("double", "ReadFloat64", "WriteFloat64", 8),
    "bool": ("bool", "ReadBool", "WriteBool", 1),
    "uuid": ("Uuid", "ReadUuid", "WriteUuid", 16),
}
INT_LIMITS = {
    "int8": (-(1 << 7), (1 << 7) - 1),
    "int16": (-(1 << 15), (1 << 15) - 1),
    "int32": (-(1 << 31), (1 << 31) - 1),
    "int64": (-(1 << 63), (1 << 63) - 1),
    "uint16": (0, (1 << 16) - 1),
    "uint32": (0, (1 << 32) - 1),
}
CPP_KEYWORDS = {
    "auto", "bool", "break", "case", "catch", "char", "class", "const", "continue", "default",
    "delete", "do", "double", "else", "enum", "explicit", "export", "extern", "false", "float",
    "for", "friend", "goto", "if", "inline", "int", "long", "mutable", "namespace", "new",
    "operator", "private", "protected", "public", "register", "return", "short", "signed",
    "sizeof", "static", "struct", "switch", "template", "this", "throw", "true", "try",
    "typedef", "typename", "union", "unsigned", "using", "virtual", "void", "volatile", "while",
    "version", "flexible", "r", "w", "rnd", "m",
}


class SchemaError(Exception):
    pass


def parse_versions(text, what):
    """Parses "3+", "0-5", "7" or "none" into (lo, hi) or None."""
    text = text.strip()
    if text == "none":
        return None
    m = re.fullmatch(r"(\d+)\+", text)
    if m:
        return (int(m.group(1)), INF)
    m = re.fullmatch(r"(\d+)-(\d+)", text)
    if m:
        lo, hi = int(m.group(1)), int(m.group(2))
        if lo > hi:
            raise SchemaError(f"{what}: empty version range {text!r}")
        return (lo, hi)
    m = re.fullmatch(r"(\d+)", text)
    if m:
        return (int(m.group(1)), int(m.group(1)))
    raise SchemaError(f"{what}: bad version range {text!r}")


def intersect(a, b):
    if a is None or b is None:
        return None
    lo, hi = max(a[0], b[0]), min(a[1], b[1])
    return (lo, hi) if lo <= hi else None


def snake_case(name):
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()
    return s + "_" if s in CPP_KEYWORDS else s


def load_json(path):
    with open(path, encoding="utf-8") as f:
        text = "".join(line for line in f if not line.lstrip().startswith("//"))
    return json.loads(text)


class Field:
    def __init__(self, spec, message, owner):
        self.name = spec["name"]
        self.member = snake_case(self.name)
        where = f"{message.name}.{owner}.{self.name}"
        self.type = spec["type"]
        self.versions = parse_versions(spec["versions"], where)
        self.nullable = parse_versions(spec.get("nullableVersions", "none"), where)
        self.tagged = parse_versions(spec.get("taggedVersions", "none"), where)
        self.tag = spec.get("tag")
        self.default = spec.get("default")
        if isinstance(self.default, bool):
            self.default = "true" if self.default else "false"
        elif isinstance(self.default, (int, float)):
            self.default = str(self.default)
        if self.tagged is not None:
            if self.tag is None:
                raise SchemaError(f"{where}: taggedVersions without tag")
            # Kafka allows a field to turn tagged part way; none of ours does,
            # and supporting it would need the field in two places.
            if self.tagged != self.versions:
                raise SchemaError(f"{where}: taggedVersions must equal versions")
        self.is_array = self.type.startswith("[]")
        self.elem = self.type[2:] if self.is_array else self.type
        self.struct = None  # set by Message for struct-typed fields
        if self.elem not in PRIMITIVES and self.elem not in ("string", "bytes", "records"):
            if not self.elem[:1].isupper():
                raise SchemaError(f"{where}: unknown type {self.type!r}")
            if not self.is_array and self.nullable is not None:
                raise SchemaError(f"{where}: nullable structs are not supported")
        if self.is_array and self.elem in ("bool", "bytes", "records"):
            raise SchemaError(f"{where}: arrays of {self.elem} are not supported")
        if not self.is_array and self.elem in PRIMITIVES and self.nullable is not None:
            raise SchemaError(f"{where}: {self.elem} cannot be nullable")
        if "flexibleVersions" in spec:
            raise SchemaError(f"{where}: field-level flexibleVersions are not supported")
        self.spec_fields = spec.get("fields")


class Struct:
    def __init__(self, name, fields):
        self.name = name
        self.fields = fields

    def tagged_fields(self):
        return sorted((f for f in self.fields if f.tagged is not None), key=lambda f: f.tag)

    def regular_fields(self):
        return [f for f in self.fields if f.tagged is None]


class Message:
    def __init__(self, spec, path):
        self.name = spec["name"]
        self.api_key = spec["apiKey"]
        self.kind = spec["type"]
        if self.kind not in ("request", "response"):
            raise SchemaError(f"{path}: type must be request or response")
        self.valid = parse_versions(spec["validVersions"], self.name)
        flexible = parse_versions(spec["flexibleVersions"], self.name)
        if flexible is not None and flexible[1] != INF:
            raise SchemaError(f"{self.name}: flexibleVersions must be open-ended")
        self.flexible_from = flexible[0] if flexible else -1
        common = {s["name"]: s for s in spec.get("commonStructs", [])}
        self.structs = []  # children before parents
        seen = {}

        def build(name, field_specs):
            fields = [Field(fs, self, name) for fs in field_specs]
            for f in fields:
                if f.elem[:1].isupper():
                    sub = f.spec_fields
                    if sub is None:
                        if f.elem not in common:
                            raise SchemaError(f"{self.name}: no fields for struct {f.elem}")
                        sub = common[f.elem]["fields"]
                    if f.elem in seen:
                        f.struct = seen[f.elem]
                    else:
                        f.struct = build(f.elem, sub)
            if name in seen and name != self.name:
                raise SchemaError(f"{self.name}: struct {name} declared twice")
            s = Struct(name, fields)
            seen[name] = s
            self.structs.append(s)
            for f in fields:
                tags = [g.tag for g in fields if g.tagged is not None]
                if len(tags) != len(set(tags)):
                    raise SchemaError(f"{self.name}.{name}: duplicate tags")
            return s

        self.top = build(self.name, spec["fields"])

    def cond(self, rng):
        """C++ condition for `version` within rng, given the valid versions."""
        r = intersect(rng, self.valid)
        if r is None:
            return "false"
        lo_ok = r[0] <= self.valid[0]
        hi_ok = r[1] >= self.valid[1]
        if lo_ok and hi_ok:
            return "true"
        if lo_ok:
            return f"version <= {r[1]}"
        if hi_ok:
            return f"version >= {r[0]}"
        return f"version >= {r[0]} && version <= {r[1]}"

    def nullable_cond(self, f):
        """Null allowed at `version`, for code already guarded by f.versions."""
        present = intersect(f.versions, self.valid)
        if present is not None and intersect(f.nullable, present) == present:
            return "/*nullable=*/true"
        return self.cond(f.nullable)

    def flexible_expr(self):
        if self.flexible_from < 0 or self.flexible_from > self.valid[1]:
            return "false"
        if self.flexible_from <= self.valid[0]:
            return "true"
        return f"version >= {self.flexible_from}"


def min_size(msg, struct, version):
    """Fewest bytes an encoding of `struct` can take at `version`."""
    flexible = 0 <= msg.flexible_from <= version
    total = 1 if flexible else 0  # the tagged-field count
    for f in struct.regular_fields():
        if intersect(f.versions, (version, version)) is None:
            continue
        if f.is_array or f.elem in ("bytes", "records"):
            total += 1 if flexible else 4
        elif f.elem == "string":
            total += 1 if flexible else 2
        elif f.elem in PRIMITIVES:
            total += PRIMITIVES[f.elem][3]
        else:
            total += min_size(msg, f.struct, version)
    return total


def check_array_elements(msg):
    """Reader rejects array counts above the remaining bytes before it
    allocates; that is only sound if every element takes at least a byte."""
    for s in msg.structs:
        for f in s.fields:
            if not (f.is_array and f.struct is not None):
                continue
            for v in range(msg.valid[0], msg.valid[1] + 1):
                if intersect(f.versions, (v, v)) and min_size(msg, f.struct, v) == 0:
                    raise SchemaError(f"{msg.name}.{f.name}: elements can be empty in v{v}")


def api_name(message_name):
    return re.sub(r"(Request|Response)$", "", message_name)


# ---------------------------------------------------------------------------
# C++ fragments per field.


def cpp_elem_type(f):
    if f.elem in PRIMITIVES:
        return PRIMITIVES[f.elem][0]
    if f.elem == "string":
        return "std::string"
    if f.elem == "bytes":
        return "std::vector<uint8_t>"
    if f.elem == "records":
        return "RecordsView"
    return f.elem


def cpp_type(f):
    t = cpp_elem_type(f)
    if f.is_array:
        t = f"std::vector<{t}>"
    if f.nullable is not None:
        t = f"std::optional<{t}>"
    return t


def cpp_int_literal(kind, value):
    lo, hi = INT_LIMITS[kind]
    if not lo <= value <= hi:
        raise SchemaError(f"default {value} out of range for {kind}")
    ctype = PRIMITIVES[kind][0]
    if value == lo and lo < 0:
        return f"std::numeric_limits<{ctype}>::min()"
    suffix = "LL" if kind == "int64" else ""
    if kind == "uint32":
        suffix = "u"
    return f"{value}{suffix}"


def default_init(f):
    """Member initializer (without '=') or None for value-initialized."""
    d = f.default
    if f.is_array or f.elem in ("bytes", "records"):
        if d not in (None, "", "null"):
            raise SchemaError(f"{f.name}: unsupported default {d!r}")
        # Records default to null like in Kafka; bytes and arrays to empty.
        if f.nullable is not None and d != "null" and f.elem != "records":
            return "std::in_place"
        return None
    if f.elem == "string":
        if d == "null":
            if f.nullable is None:
                raise SchemaError(f"{f.name}: null default for a non-nullable string")
            return None
        if not d and f.nullable is None:
            return None
        return json.dumps(d or "")
    if f.elem == "bool":
        return "true" if d == "true" else "false"
    if f.elem == "float64":
        return repr(float(d or 0))
    if f.elem == "uuid":
        return None
    if f.elem in INT_LIMITS:
        return cpp_int_literal(f.elem, int(d or "0", 0))
    return None  # struct


def member_decl(f):
    init = default_init(f)
    t = cpp_type(f)
    if init is None:
        return f"{t} {f.member};"
    if init == "std::in_place":
        return f"{t} {f.member}{{std::in_place}};"
    if f.elem == "string" and f.nullable is not None:
        return f"{t} {f.member} = std::string({init});"
    if f.elem in PRIMITIVES:
        return f"{t} {f.member} = {init};"
    return f"{t} {f.member} = {init};"


def non_default_expr(f):
    """C++ expression that is true when a tagged field must be written."""
    m = f.member
    init = default_init(f)
    if f.is_array or f.elem in ("bytes", "records"):
        if f.nullable is None:
            return f"!{m}.empty()"
        if init == "std::in_place":
            return f"!{m}.has_value() || !{m}->empty()"
        return f"{m}.has_value()"
    if f.elem == "string":
        if f.nullable is None:
            return f"!{m}.empty()" if init is None else f"{m} != {init}"
        if init is None:
            return f"{m}.has_value()"
        return f"!{m}.has_value() || *{m} != {init}"
    if f.elem == "uuid":
        return f"{m} != Uuid{{}}"
    if f.elem in PRIMITIVES:
        return f"{m} != {init}"
    return f"!({m} == {f.elem}{{}})"


def decode_expr(msg, f):
    m = f.member
    nv = msg.nullable_cond(f)
    head = f'r.Field("{f.name}")'
    if f.is_array:
        if f.nullable is None:
            return f"internal::DecodeArray({head}, flexible, version, &{m})"
        return f"internal::DecodeNullableArray({head}, flexible, {nv}, version, &{m})"
    if f.elem in PRIMITIVES:
        return f"{head}.{PRIMITIVES[f.elem][1]}(&{m})"
    if f.elem in ("string", "bytes", "records"):
        kind = {"string": "String", "bytes": "Bytes", "records": "Records"}[f.elem]
        if f.nullable is None:
            return f"{head}.Read{kind}(flexible, &{m})"
        return f"{head}.ReadNullable{kind}(flexible, {nv}, &{m})"
    return f"internal::DecodeStruct({head}, version, &{m})"


def encode_stmt(msg, f):
    m = f.member
    nv = msg.nullable_cond(f)
    if f.is_array:
        if f.nullable is None:
            return f"internal::EncodeArray(w, flexible, version, {m});"
        return f"internal::EncodeNullableArray(w, flexible, {nv}, version, {m});"
    if f.elem in PRIMITIVES:
        return f"w.{PRIMITIVES[f.elem][2]}({m});"
    if f.elem in ("string", "bytes", "records"):
        kind = {"string": "String", "bytes": "Bytes", "records": "Records"}[f.elem]
        if f.nullable is None:
            return f"w.Write{kind}(flexible, {m});"
        return f"w.WriteNullable{kind}(flexible, {nv}, {m});"
    return f"{m}.Encode(w, version);"


def skip_expr(msg, f):
    head = f'r.Field("{f.name}")'
    # Null is accepted exactly where the decoder accepts it.
    nv = msg.nullable_cond(f) if f.nullable is not None else "/*nullable=*/false"
    if f.is_array:
        return f"internal::SkipArray<{cpp_elem_type(f)}>({head}, flexible, {nv}, version)"
    if f.elem in PRIMITIVES:
        return f"{head}.Skip({PRIMITIVES[f.elem][3]})"
    if f.elem == "string":
        return f"{head}.SkipString(flexible, {nv})"
    if f.elem in ("bytes", "records"):
        return f"{head}.SkipBytes(flexible, {nv})"
    return f"internal::SkipStruct<{f.elem}>({head}, version)"


def known_tags_lambda(msg, tagged, expr):
    """Lines defining `known`, the callback that reads the declared tags with `expr`."""
    out = ["    auto known = [&](uint32_t tag, bool* handled) -> absl::Status {",
           "      switch (tag) {"]
    for f in tagged:
        c = msg.cond(f.versions)
        out.append(f"        case {f.tag}:")
        if c != "true":
            out.append(f"          if (!({c})) break;")
        out.append("          *handled = true;")
        out.append(f"          return {expr(msg, f)};")
    out += ["        default:", "          break;", "      }",
            "      return absl::OkStatus();", "    };"]
    return out


def guarded(cond, lines, indent):
    pad = " " * indent
    if cond == "false":
        return []
    if cond == "true":
        return [pad + line for line in lines]
    return [f"{pad}if ({cond}) {{"] + [pad + "  " + line for line in lines] + [pad + "}"]


# ---------------------------------------------------------------------------
# Emitters.

GENERATED_NOTE = "// Generated by common/kafka/codegen/kafka_codegen.py from {}. Do not edit."


def emit_struct_decl(msg, s, is_top, walker, indent):
    pad = " " * indent
    out = [f"{pad}struct {s.name} {{"]
    inner = pad + "  "
    if is_top:
        out += [
            f"{inner}static constexpr int16_t kApiKey = {msg.api_key};",
            f'{inner}static constexpr std::string_view kName = "{msg.name}";',
            f"{inner}static constexpr bool kIsRequest = {str(msg.kind == 'request').lower()};",
            f"{inner}static constexpr int16_t kMinVersion = {msg.valid[0]};",
            f"{inner}static constexpr int16_t kMaxVersion = {msg.valid[1]};",
            f"{inner}// -1 when no version is flexible.",
            f"{inner}static constexpr int16_t kFirstFlexibleVersion = {msg.flexible_from};",
            "",
        ]
        for sub in msg.structs:
            if sub is not s:
                out += emit_struct_decl(msg, sub, False, walker, indent + 2)
                out.append("")
    for f in s.fields:
        out.append(f"{inner}{member_decl(f)}")
    out.append(f"{inner}// Tagged fields this codec does not know, written back unchanged.")
    out.append(f"{inner}std::vector<RawTaggedField> unknown_tagged_fields;")
    out.append("")
    if is_top:
        out.append(f"{inner}// Decodes a body of this message at `version`; resets *this first.")
    out.append(f"{inner}absl::Status Decode(Reader& r, int16_t version);")
    out.append(f"{inner}void Encode(Writer& w, int16_t version) const;")
    if walker:
        if is_top:
            out.append(f"{inner}// Skips every field before the top-level tagged-field section")
            out.append(f"{inner}// without allocating; records are not looked at.")
            out.append(f"{inner}static absl::Status SkipToTaggedFields(Reader& r, "
                       "int16_t version);")
        else:
            out.append(f"{inner}static absl::Status Skip(Reader& r, int16_t version);")
    out.append(f"{inner}bool operator==(const {s.name}&) const = default;")
    out.append(f"{pad}}};")
    return out


def qualified(msg, s):
    return msg.name if s is msg.top else f"{msg.name}::{s.name}"


def emit_struct_defs(msg, s, walker):
    q = qualified(msg, s)
    is_top = s is msg.top
    out = [f"absl::Status {q}::Decode(Reader& r, [[maybe_unused]] int16_t version) {{"]
    if is_top:
        out += [
            "  if (version < kMinVersion || version > kMaxVersion) {",
            "    return internal::UnsupportedVersion(kName, version, kMinVersion, kMaxVersion);",
            "  }",
            f"  *this = {msg.name}();",
            "  r.BeginMessage(kName, version);",
        ]
    out.append(f"  [[maybe_unused]] const bool flexible = {msg.flexible_expr()};")
    for f in s.regular_fields():
        out += guarded(msg.cond(f.versions), [f"KGW_RETURN_IF_ERROR({decode_expr(msg, f)});"], 2)
    tagged = [f for f in s.tagged_fields() if msg.cond(f.versions) != "false"]
    out.append("  if (flexible) {")
    if tagged:
        out += known_tags_lambda(msg, tagged, decode_expr)
        out.append("    KGW_RETURN_IF_ERROR(r.ReadTaggedFields(known, &unknown_tagged_fields));")
    else:
        out.append("    KGW_RETURN_IF_ERROR(r.ReadTaggedFields(")
        out.append("        [](uint32_t, bool*) { return absl::OkStatus(); }, "
                   "&unknown_tagged_fields));")
    out.append("  }")
    out.append("  return absl::OkStatus();")
    out.append("}")
    out.append("")

    out.append(f"void {q}::Encode(Writer& w, [[maybe_unused]] int16_t version) const {{")
    if is_top:
        out.append("  internal::DcheckVersion(kName, version, kMinVersion, kMaxVersion);")
    out.append(f"  [[maybe_unused]] const bool flexible = {msg.flexible_expr()};")
    for f in s.regular_fields():
        out += guarded(msg.cond(f.versions), [encode_stmt(msg, f)], 2)
    out.append("  if (flexible) {")
    count = ["static_cast<uint32_t>(unknown_tagged_fields.size())"]
    for i, f in enumerate(tagged):
        c = msg.cond(f.versions)
        present = non_default_expr(f) if c == "true" else f"({c}) && ({non_default_expr(f)})"
        out.append(f"    const bool write_{i} = {present};")
        count.append(f"write_{i}")
    out.append(f"    w.WriteUnsignedVarint({' + '.join(count)});")
    if tagged:
        out.append("    size_t next_unknown = 0;")
        for i, f in enumerate(tagged):
            out.append(f"    if (write_{i}) {{")
            out.append("      next_unknown =")
            out.append("          w.WriteUnknownTaggedFields(unknown_tagged_fields, next_unknown, "
                       f"{f.tag});")
            out.append(f"      const size_t mark = w.BeginTaggedField({f.tag});")
            out.append(f"      {encode_stmt(msg, f)}")
            out.append("      w.EndTaggedField(mark);")
            out.append("    }")
        out.append("    w.WriteUnknownTaggedFields(unknown_tagged_fields, next_unknown,")
        out.append("                               uint64_t{1} << 32);")
    else:
        out.append("    w.WriteUnknownTaggedFields(unknown_tagged_fields, 0, uint64_t{1} << 32);")
    out.append("  }")
    out.append("}")
    out.append("")

    if walker:
        fn = "SkipToTaggedFields" if is_top else "Skip"
        out.append(f"absl::Status {q}::{fn}(Reader& r, [[maybe_unused]] int16_t version) {{")
        if is_top:
            out.append("  r.BeginMessage(kName, version);")
        out.append(f"  [[maybe_unused]] const bool flexible = {msg.flexible_expr()};")
        for f in s.regular_fields():
            out += guarded(msg.cond(f.versions), [f"KGW_RETURN_IF_ERROR({skip_expr(msg, f)});"], 2)
        if not is_top:
            # Known tags are skipped as what they are, so that the walk
            # rejects exactly the bodies the decoder rejects.
            tagged = [f for f in s.tagged_fields() if msg.cond(f.versions) != "false"]
            if tagged:
                out.append("  if (flexible) {")
                out += known_tags_lambda(msg, tagged, skip_expr)
                out.append("    KGW_RETURN_IF_ERROR(r.SkipTaggedFields(known));")
                out.append("  }")
            else:
                out.append("  if (flexible) KGW_RETURN_IF_ERROR(r.SkipTaggedFields());")
        out.append("  return absl::OkStatus();")
        out.append("}")
        out.append("")
    return out


def emit_fill(msg, s):
    q = qualified(msg, s)
    out = [f"void FillRandom({q}* m, [[maybe_unused]] int16_t version, RandomSource& rnd) {{"]
    out.append(f"  [[maybe_unused]] const bool flexible = {msg.flexible_expr()};")
    for f in s.fields:
        c = msg.cond(f.versions)
        if c == "false":
            continue
        target = f"m->{f.member}"
        if f.nullable is not None:
            value = f"{target}.emplace()"
        else:
            value = target
        if f.is_array:
            each = "FillRandom(&e, version, rnd);" if f.struct is not None else "rnd.Fill(&e);"
            if f.nullable is not None:
                fill = [f"for (auto& e : {target}.emplace(rnd.ArrayLength())) {each}"]
            else:
                fill = [f"{target}.resize(rnd.ArrayLength());", f"for (auto& e : {target}) {each}"]
        elif f.struct is not None:
            fill = [f"FillRandom(&{value}, version, rnd);"]
        else:
            fill = [f"rnd.Fill(&{value});"]
        if f.nullable is not None:
            nv = msg.nullable_cond(f)
            null_cond = "rnd.OneIn(4)" if nv.endswith("true") else f"({nv}) && rnd.OneIn(4)"
            fill = [f"if ({null_cond}) {{", f"  {target}.reset();", "} else {"] + [
                "  " + line for line in fill] + ["}"]
        if f.tagged is not None:
            # Half the time leave the default so "not written" is covered too.
            fill = ["if (rnd.OneIn(2)) {"] + ["  " + line for line in fill] + ["}"]
        out += guarded(c, fill, 2)
    tags = sorted({f.tag for f in s.fields if f.tagged is not None})
    avoid = "{" + ", ".join(str(t) for t in tags) + "}"
    out.append(f"  if (flexible) rnd.FillUnknownTags(&m->unknown_tagged_fields, {avoid});")
    out.append("}")
    out.append("")
    return out


def write_file(path, text):
    # Always rewritten: the build compares output and input timestamps.
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def guard_name(rel):
    return "KGW_" + re.sub(r"[^A-Za-z0-9]", "_", rel).upper() + "_"


def generate(messages, out_dir, walkers, testing):
    by_api = {}
    for msg in messages:
        by_api.setdefault(api_name(msg.name), []).append(msg)
    base = "common/kafka/messages"
    headers = []
    for api, msgs in sorted(by_api.items()):
        msgs.sort(key=lambda m: m.kind)  # request first
        keys = {m.api_key for m in msgs}
        if len(keys) != 1:
            raise SchemaError(f"{api}: request and response disagree on apiKey")
        stem = snake_case(api).rstrip("_")
        rel_h = f"{base}/{stem}.h"
        headers.append(rel_h)
        sources = " and ".join(f"{m.name}.json" for m in msgs)
        h = [GENERATED_NOTE.format(sources), f"#ifndef {guard_name(rel_h)}",
             f"#define {guard_name(rel_h)}", "",
             "#include <cstdint>", "#include <optional>", "#include <string>",
             "#include <string_view>", "#include <utility>", "#include <vector>", "",
             '#include "absl/status/status.h"', '#include "common/kafka/wire/reader.h"',
             '#include "common/kafka/wire/types.h"', '#include "common/kafka/wire/writer.h"', "",
             "namespace kgw::kafka {", ""]
        cc = [GENERATED_NOTE.format(sources), f'#include "{rel_h}"', "",
              '#include "common/kafka/wire/array_codec.h"',
              '#include "common/status/status_macros.h"', "",
              "namespace kgw::kafka {", ""]
        for m in msgs:
            walker = m.name in walkers
            h += emit_struct_decl(m, m.top, True, walker, 0)
            h.append("")
            for s in m.structs:
                cc += emit_struct_defs(m, s, walker)
        h += ["}  // namespace kgw::kafka", "", f"#endif  // {guard_name(rel_h)}", ""]
        cc += ["}  // namespace kgw::kafka", ""]
        needs_limits = any("numeric_limits" in line for line in h)
        if needs_limits:
            h.insert(h.index("#include <optional>"), "#include <limits>")
        write_file(os.path.join(out_dir, rel_h), "\n".join(h))
        write_file(os.path.join(out_dir, f"{base}/{stem}.cc"), "\n".join(cc))

    ordered = sorted(messages, key=lambda m: (m.api_key, m.kind))
    rel = f"{base}/all_messages.h"
    text = [GENERATED_NOTE.format("every message description"), f"#ifndef {guard_name(rel)}",
            f"#define {guard_name(rel)}", ""]
    text += [f'#include "{h}"' for h in sorted(headers)]
    text += ["", "// Every generated message type, for type-parameterized tests and dispatch.",
             "#define KGW_KAFKA_ALL_MESSAGE_TYPES \\"]
    text += [f"  ::kgw::kafka::{m.name}{', ' if i + 1 < len(ordered) else ''}\\"
             for i, m in enumerate(ordered)]
    text[-1] = text[-1].rstrip("\\").rstrip()
    for kind in ("request", "response"):
        of_kind = [m for m in ordered if m.kind == kind]
        text += ["", f"#define KGW_KAFKA_{kind.upper()}_TYPES \\"]
        text += [f"  ::kgw::kafka::{m.name}{', ' if i + 1 < len(of_kind) else ''}\\"
                 for i, m in enumerate(of_kind)]
        text[-1] = text[-1].rstrip("\\").rstrip()
    text += ["", f"#endif  // {guard_name(rel)}", ""]
    write_file(os.path.join(out_dir, rel), "\n".join(text))

    apis = []
    for api, msgs in by_api.items():
        req = next((m for m in msgs if m.kind == "request"), None)
        resp = next((m for m in msgs if m.kind == "response"), None)
        if req is None or resp is None:
            raise SchemaError(f"{api}: needs both a request and a response description")
        if req.valid != resp.valid or req.flexible_from != resp.flexible_from:
            raise SchemaError(f"{api}: request and response versions differ")
        apis.append((req.api_key, api, req.valid[0], req.valid[1], req.flexible_from))
    apis.sort()
    rows = [f'    {{{k}, "{n}", {lo}, {hi}, {fx}}},' for k, n, lo, hi, fx in apis]
    cc = [GENERATED_NOTE.format("every message description"),
          '#include "common/kafka/messages/api_registry.h"', "", "#include <algorithm>", "",
          "namespace kgw::kafka {", "namespace {", "",
          "// Sorted by api key.", "constexpr ApiInfo kApis[] = {", *rows, "};", "",
          "}  // namespace", "",
          "absl::Span<const ApiInfo> SupportedApis() { return kApis; }", "",
          "const ApiInfo* FindApi(int16_t api_key) {",
          "  const ApiInfo* it = std::lower_bound(",
          "      std::begin(kApis), std::end(kApis), api_key,",
          "      [](const ApiInfo& info, int16_t key) { return info.api_key < key; });",
          "  return it != std::end(kApis) && it->api_key == api_key ? it : nullptr;",
          "}", "", "}  // namespace kgw::kafka", ""]
    write_file(os.path.join(out_dir, f"{base}/api_registry.cc"), "\n".join(cc))
    rel_h = f"{base}/api_registry.h"
    h = [GENERATED_NOTE.format("every message description"), f"#ifndef {guard_name(rel_h)}",
         f"#define {guard_name(rel_h)}", "", "#include <cstdint>", "#include <string_view>", "",
         '#include "absl/types/span.h"', "", "namespace kgw::kafka {", "",
         "// What the codec supports of one Kafka API.",
         "struct ApiInfo {",
         "  int16_t api_key;",
         "  std::string_view name;",
         "  int16_t min_version;",
         "  int16_t max_version;",
         "  // First version using compact encodings and tagged fields; -1 if none.",
         "  int16_t first_flexible_version;",
         "",
         "  bool IsFlexible(int16_t version) const {",
         "    return first_flexible_version >= 0 && version >= first_flexible_version;",
         "  }",
         "  bool Supports(int16_t version) const {",
         "    return version >= min_version && version <= max_version;",
         "  }",
         "};",
         "",
         "// Every API the codec can decode and encode, sorted by api key.",
         "absl::Span<const ApiInfo> SupportedApis();",
         "// The entry for `api_key`, or nullptr when the codec does not know the API.",
         "const ApiInfo* FindApi(int16_t api_key);",
         "", "}  // namespace kgw::kafka", "", f"#endif  // {guard_name(rel_h)}", ""]
    write_file(os.path.join(out_dir, rel_h), "\n".join(h))

    if testing:
        rel_h = f"{base}/random_fill.h"
        h = [GENERATED_NOTE.format("every message description"), f"#ifndef {guard_name(rel_h)}",
             f"#define {guard_name(rel_h)}", "", "#include <cstdint>", "",
             f'#include "{base}/all_messages.h"', '#include "common/kafka/testing/random_source.h"',
             "", "namespace kgw::kafka::testing {", "",
             "// Fills every field that exists in `version` with random values, leaving",
             "// the others at their defaults (which is what decoding yields for them).", ""]
        cc = [GENERATED_NOTE.format("every message description"), f'#include "{rel_h}"', "",
              "namespace kgw::kafka::testing {", ""]
        for m in ordered:
            for s in m.structs:
                h.append(f"void FillRandom({qualified(m, s)}* m, int16_t version, "
                         "RandomSource& rnd);")
                cc += emit_fill(m, s)
        h += ["", "}  // namespace kgw::kafka::testing", "", f"#endif  // {guard_name(rel_h)}", ""]
        cc += ["}  // namespace kgw::kafka::testing", ""]
        write_file(os.path.join(out_dir, rel_h), "\n".join(h))
        write_file(os.path.join(out_dir, f"{base}/random_fill.cc"), "\n".join(cc))


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--walkers", default="",
                        help="comma-separated messages that also get Skip functions")
    parser.add_argument("--testing", action="store_true", help="also emit random_fill.*")
    parser.add_argument("descriptions", nargs="+")
    args = parser.parse_args(argv)
    try:
        messages = [Message(load_json(p), p) for p in args.descriptions]
        for m in messages:
            check_array_elements(m)
        names = [m.name for m in messages]
        walkers = {w for w in args.walkers.split(",") if w}
        if not walkers <= set(names):
            raise SchemaError(f"unknown walker messages: {sorted(walkers - set(names))}")
        generate(messages, args.out_dir, walkers, args.testing)
    except (SchemaError, KeyError, ValueError) as e:
        print(f"kafka_codegen: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
