#!/usr/bin/env python3
"""Compares kgw's message descriptions with Apache Kafka's own schemas.

The Kafka version is the one pinned in tests/kafka/pom.xml. Its schemas are
read from common/message/*.json inside kafka-clients-<version>.jar, taken
from the Kafka harness cache when it is there and otherwise fetched with
Maven into a cache directory outside the source tree.

For every description under --messages, the message (apiKey, type,
validVersions, flexibleVersions) and every field at every depth (name and
position, type, versions, nullableVersions, taggedVersions, tag, default,
ignorable) must match Kafka's. Struct references to commonStructs are
expanded on both sides, so either form may be used. Exits 1 listing every
difference, 2 when the specification cannot be obtained.

--self-test checks that a deliberately altered description is reported, so
this check cannot silently pass everything.
"""

import argparse
import copy
import glob
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile

FIELD_KEYS = ("type", "versions", "nullableVersions", "taggedVersions", "tag", "default",
              "ignorable")


def strip_comments(text):
    return "".join(line for line in text.splitlines(True) if not line.lstrip().startswith("//"))


def kafka_version(pom):
    root = ET.parse(pom).getroot()
    for el in root.iter():
        if el.tag.endswith("kafka.version") and el.text:
            return el.text.strip()
    raise SystemExit(f"no <kafka.version> in {pom}")


def cache_root():
    if os.environ.get("KGW_CACHE_DIR"):
        return os.environ["KGW_CACHE_DIR"]
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(xdg, "kgw")


def find_or_fetch_jar(version):
    root = cache_root()
    name = f"kafka-clients-{version}.jar"
    harness = os.path.join(root, f"kafka-{version}", "libs", name)
    if os.path.isfile(harness):
        return harness
    own_dir = os.path.join(root, "spec", f"kafka-clients-{version}")
    own = os.path.join(own_dir, name)
    if os.path.isfile(own):
        return own
    os.makedirs(own_dir, exist_ok=True)
    cmd = ["mvn", "-q", "-B", "dependency:copy",
           f"-Dartifact=org.apache.kafka:kafka-clients:{version}", f"-DoutputDirectory={own_dir}"]
    print("fetching the specification:", " ".join(cmd), file=sys.stderr)
    try:
        # Run outside the source tree so Maven never sees a project pom.
        subprocess.run(cmd, check=True, cwd=own_dir)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"cannot fetch {name}: {e}", file=sys.stderr)
        sys.exit(2)
    if not os.path.isfile(own):
        print(f"Maven finished but {own} is missing", file=sys.stderr)
        sys.exit(2)
    return own


def parse_range(text):
    """Canonical form of a version range: (lo, hi) with hi None for open, or None."""
    if text is None:
        return None
    text = str(text).strip()
    if text == "none":
        return None
    m = re.fullmatch(r"(\d+)\+", text)
    if m:
        return (int(m.group(1)), None)
    m = re.fullmatch(r"(\d+)-(\d+)", text)
    if m:
        return (int(m.group(1)), int(m.group(2)))
    m = re.fullmatch(r"(\d+)", text)
    if m:
        return (int(m.group(1)), int(m.group(1)))
    return ("unparseable", text)


def canonical_default(value):
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip()
    try:
        return int(text, 0)
    except ValueError:
        return text


def canonical(key, value):
    if key in ("versions", "nullableVersions", "taggedVersions"):
        return parse_range(value)
    if key == "default":
        return canonical_default(value)
    if key == "ignorable":
        return bool(value)
    return value


def expand(fields, common):
    """Inlines commonStructs references so both sides compare as trees."""
    out = []
    for f in fields:
        f = dict(f)
        elem = f["type"][2:] if f["type"].startswith("[]") else f["type"]
        if "fields" in f:
            f["fields"] = expand(f["fields"], common)
        elif elem in common:
            f["fields"] = expand(common[elem]["fields"], common)
        out.append(f)
    return out


def compare_fields(ours, spec, path, diffs):
    for i in range(max(len(ours), len(spec))):
        o = ours[i] if i < len(ours) else None
        s = spec[i] if i < len(spec) else None
        if o is None:
            diffs.append(f"{path}: missing field #{i} {s['name']!r} "
                         f"(spec versions {s['versions']})")
            continue
        if s is None:
            diffs.append(f"{path}: extra field #{i} {o['name']!r} not in the spec")
            continue
        if o["name"] != s["name"]:
            diffs.append(f"{path}: field #{i} is {o['name']!r}, spec has {s['name']!r}")
            continue
        where = f"{path}.{o['name']}"
        for key in FIELD_KEYS:
            a, b = canonical(key, o.get(key)), canonical(key, s.get(key))
            if a != b:
                diffs.append(f"{where}: {key} is {o.get(key)!r}, spec has {s.get(key)!r}")
        compare_fields(o.get("fields", []), s.get("fields", []), where, diffs)


def compare_message(ours, spec):
    name = ours.get("name", "?")
    diffs = []
    for key in ("apiKey", "type", "name", "validVersions", "flexibleVersions"):
        a, b = ours.get(key), spec.get(key)
        if key.endswith("Versions"):
            a, b = parse_range(a), parse_range(b)
        if a != b:
            diffs.append(f"{name}: {key} is {ours.get(key)!r}, spec has {spec.get(key)!r}")
    common_o = {c["name"]: c for c in ours.get("commonStructs", [])}
    common_s = {c["name"]: c for c in spec.get("commonStructs", [])}
    compare_fields(expand(ours["fields"], common_o), expand(spec["fields"], common_s), name,
                   diffs)
    return diffs


def load_ours(messages_dir):
    result = {}
    for path in sorted(glob.glob(os.path.join(messages_dir, "*.json"))):
        with open(path, encoding="utf-8") as f:
            result[os.path.basename(path)] = json.loads(strip_comments(f.read()))
    if not result:
        raise SystemExit(f"no descriptions in {messages_dir}")
    return result


def compare_all(ours, jar):
    diffs = []
    for file_name, description in ours.items():
        member = f"common/message/{file_name}"
        if member not in jar.namelist():
            diffs.append(f"{file_name}: no such message in the specification")
            continue
        spec = json.loads(strip_comments(jar.read(member).decode("utf-8")))
        diffs += compare_message(description, spec)
    return diffs


def field(description, *names):
    fields = description["fields"]
    found = None
    for name in names:
        found = next(f for f in fields if f["name"] == name)
        fields = found.get("fields", [])
    return found


MUTATIONS = [
    ("tag", "ProduceResponse.json", lambda d: field(d, "NodeEndpoints").__setitem__("tag", 7)),
    ("nested versions", "MetadataResponse.json",
     lambda d: field(d, "Brokers", "Rack").__setitem__("versions", "2+")),
    ("nullableVersions", "FetchResponse.json",
     lambda d: field(d, "Responses", "Partitions", "Records").pop("nullableVersions")),
    ("validVersions", "MetadataRequest.json", lambda d: d.__setitem__("validVersions", "0-12")),
    ("missing field", "JoinGroupRequest.json", lambda d: d["fields"].pop()),
]


def self_test(ours, jar):
    """Alters descriptions in memory and checks each change is reported."""
    failures = []
    for label, file_name, mutate in MUTATIONS:
        altered = copy.deepcopy(ours[file_name])
        mutate(altered)
        if not compare_all({file_name: altered}, jar):
            failures.append(f"a changed {label} in {file_name} went unreported")
    return failures


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pom", required=True, help="tests/kafka/pom.xml")
    parser.add_argument("--messages", required=True, help="directory of our descriptions")
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args(argv)
    version = kafka_version(args.pom)
    jar_path = find_or_fetch_jar(version)
    ours = load_ours(args.messages)
    with zipfile.ZipFile(jar_path) as jar:
        if args.self_test:
            failures = self_test(ours, jar)
            for line in failures:
                print(line)
            print(f"self-test: {len(MUTATIONS) - len(failures)} passed, {len(failures)} failed")
            return 1 if failures else 0
        diffs = compare_all(ours, jar)
    for line in diffs:
        print(line)
    if diffs:
        print(f"{len(diffs)} difference(s) from Kafka {version}")
        return 1
    print(f"{len(ours)} descriptions match Kafka {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
