"""Backward-compatibility rules for the v1 contract, and the release step that freezes it.

Within a major version a consumer with the *current* schema must read every event written
with any *released* schema: fields may be added only with defaults, never removed without a
default, and a field's type may only widen along Avro's promotions. ``check(writer, reader)``
returns the violations (empty means compatible).

``python -m schemas.compat release`` stores, for every event type, the expanded writer schema
in ``schemas/history/`` and a golden example encoded with it in ``schemas/golden/``; the tests
decode every golden file with the current reader.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import fastavro

import schemas

GOLDEN_DIR = schemas.SCHEMA_DIR / "golden"
_PROMOTIONS = {
    "int": {"long", "float", "double"},
    "long": {"float", "double"},
    "float": {"double"},
    "string": {"bytes"},
    "bytes": {"string"},
}


def check(writer: Any, reader: Any, path: str = "") -> list[str]:
    """Why ``reader`` cannot read data written with ``writer`` (empty list: it can)."""
    return _check(inline(writer), inline(reader), path)


def inline(schema: Any, named: dict[str, Any] | None = None) -> Any:
    """Replace references to named types by their definitions (canonical form names a
    type in full only where it first appears)."""
    named = {} if named is None else named
    if isinstance(schema, str):
        return named.get(schema, schema)
    if isinstance(schema, list):
        return [inline(branch, named) for branch in schema]
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    if out.get("type") in ("record", "enum", "fixed") and "name" in out:
        named[out["name"]] = out
    if out.get("type") == "record":
        out["fields"] = [{**f, "type": inline(f["type"], named)} for f in out["fields"]]
        named[out["name"]] = out
    elif out.get("type") == "array":
        out["items"] = inline(out["items"], named)
    elif out.get("type") == "map":
        out["values"] = inline(out["values"], named)
    elif isinstance(out.get("type"), (dict, list)):
        out["type"] = inline(out["type"], named)
    return out


def _check(writer: Any, reader: Any, path: str) -> list[str]:
    w, r = _strip(writer), _strip(reader)
    if isinstance(r, list) or isinstance(w, list):
        return _check_union(w, r, path)
    wt, rt = _type(w), _type(r)
    if wt != rt:
        if rt in _PROMOTIONS.get(wt, set()):
            return []
        return [f"{path or 'root'}: type {wt} cannot be read as {rt}"]
    if rt == "record":
        return _check_record(w, r, path)
    if rt == "array":
        return _check(w["items"], r["items"], f"{path}[]")
    if rt == "map":
        return _check(w["values"], r["values"], f"{path}{{}}")
    if rt == "enum":
        missing = set(w["symbols"]) - set(r["symbols"])
        if missing and "default" not in r:
            return [f"{path}: enum symbols removed: {sorted(missing)}"]
    return []


def _check_record(w: dict[str, Any], r: dict[str, Any], path: str) -> list[str]:
    problems = []
    written = {f["name"]: f for f in w["fields"]}
    for field in r["fields"]:
        where = f"{path}.{field['name']}" if path else field["name"]
        if field["name"] in written:
            problems += _check(written[field["name"]]["type"], field["type"], where)
        elif "default" not in field:
            problems.append(f"{where}: new field without a default")
    return problems


def _check_union(w: Any, r: Any, path: str) -> list[str]:
    writer_branches = w if isinstance(w, list) else [w]
    reader_branches = r if isinstance(r, list) else [r]
    problems = []
    for branch in writer_branches:
        if all(_check(branch, rb, path) for rb in reader_branches):
            problems.append(f"{path}: union branch {_type(_strip(branch))} has no reader")
    return problems


def _strip(schema: Any) -> Any:
    if isinstance(schema, dict) and schema.get("type") in ("record", "array", "map", "enum", "fixed"):
        return schema
    if isinstance(schema, dict):
        return _strip(schema["type"])
    return schema


def _type(schema: Any) -> str:
    return schema["type"] if isinstance(schema, dict) else str(schema)


# -- examples and release --------------------------------------------------------------------
def example(schema: Any, seed: int = 7) -> Any:
    """A deterministic value that exercises every field of ``schema``."""
    s = _strip(schema)
    if isinstance(s, list):
        non_null = [b for b in s if b != "null"]
        return example(non_null[0], seed) if non_null else None
    kind = _type(s)
    simple = {
        "string": f"s{seed}",
        "bytes": bytes([seed % 256]) * 3,
        "int": seed,
        "long": seed * 1000,
        "float": seed / 4,
        "double": seed / 8,
        "boolean": seed % 2 == 1,
        "null": None,
    }
    if kind in simple:
        return simple[kind]
    if kind == "record":
        return {f["name"]: example(f["type"], seed + i) for i, f in enumerate(s["fields"])}
    if kind == "array":
        return [example(s["items"], seed), example(s["items"], seed + 1)]
    if kind == "map":
        return {"k": example(s["values"], seed)}
    if kind == "enum":
        return s["symbols"][0]
    raise ValueError(f"no example for {kind}")


def release() -> list[Path]:
    """Freeze the current event schemas: history copies plus golden bytes."""
    schemas.HISTORY_DIR.mkdir(exist_ok=True)
    GOLDEN_DIR.mkdir(exist_ok=True)
    written = []
    for name in schemas.EVENTS:
        parsed = schemas.load(name)
        fp = schemas.fingerprint(parsed)
        stem = f"{schemas.full_name(name)}.{fp}"
        history = schemas.HISTORY_DIR / f"{stem}.avsc"
        if not history.exists():
            buf = io.BytesIO()
            fastavro.schemaless_writer(buf, parsed, example(inline(schemas.expanded(name))))
            (GOLDEN_DIR / f"{stem}.bin").write_bytes(buf.getvalue())
            history.write_text(json.dumps(schemas.expanded(name), indent=1) + "\n")
            written.append(history)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["release", "check"])
    args = parser.parse_args()
    if args.command == "release":
        for path in release():
            print(f"released {path.name}")
        return
    failures = 0
    for path in sorted(schemas.HISTORY_DIR.glob("*.avsc")):
        writer = json.loads(path.read_text())
        problems = check(writer, schemas.expanded(writer["name"]))
        failures += bool(problems)
        print(f"{path.name}: {'ok' if not problems else '; '.join(problems)}")
    raise SystemExit(1 if failures else 0)


if __name__ == "__main__":
    main()
