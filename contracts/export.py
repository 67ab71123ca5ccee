"""Export the contracts as JSON Schema files and an AsyncAPI 3 document, and check
that a change keeps every already-published schema of the same version readable.

Within a version only additive changes are allowed: a field may be added if it
is optional; no field may be removed, renamed, retyped or made required, and no
constraint may be tightened. Breaking changes need a new version (``.v2``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from contracts.base import Message, all_messages
from contracts.categories import Category
from contracts.topics import CATEGORY_SCOPED, topic_name

ROOT = Path(__file__).parent
SCHEMAS = ROOT / "schemas"
ASYNCAPI = ROOT / "asyncapi.yaml"
TIGHTER_IF_LARGER = ("minLength", "minItems", "minimum", "exclusiveMinimum")
TIGHTER_IF_SMALLER = ("maxLength", "maxItems", "maximum", "exclusiveMaximum")
Schema = dict[str, Any]


def schema_of(cls: type[Message]) -> Schema:
    """The JSON Schema of one message, titled with its CloudEvents type."""
    schema = cls.model_json_schema()
    schema["$id"] = f"urn:ggzy:{cls.type_name()}"
    schema["x-ggzy-audience"] = cls.audience.value
    return schema


def export(root: Path = ROOT) -> list[Path]:
    """Write every schema and the AsyncAPI document; return the files written."""
    out = root / "schemas"
    out.mkdir(exist_ok=True)
    written = []
    for name, cls in all_messages().items():
        path = out / f"{name}.json"
        path.write_text(json.dumps(schema_of(cls), indent=2, ensure_ascii=False) + "\n", "utf-8")
        written.append(path)
    api = root / "asyncapi.yaml"
    api.write_text(yaml.safe_dump(asyncapi(), allow_unicode=True, sort_keys=False), "utf-8")
    return [*written, api]


def asyncapi() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every topic and message."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for name, cls in all_messages().items():
        short = name.replace(".", "_")
        messages[short] = {"name": name, "title": cls.__name__, "summary": (cls.__doc__ or "")
                           .strip().splitlines()[0], "contentType": "application/json",
                           "payload": {"$ref": f"schemas/{name}.json"},
                           "bindings": {"kafka": {"key": {"type": "string",
                                                          "description": "aggregate id"}}}}
        channel = _channel_id(cls)
        ch = channels.setdefault(channel, {"address": _address(cls), "messages": {}})
        if cls.stage in CATEGORY_SCOPED:
            ch["parameters"] = {"category": {"enum": [c.value for c in Category]}}
        ch["messages"][short] = {"$ref": f"#/components/messages/{short}"}
        action = "receive" if cls.kind == "commands" else "send"
        op = operations.setdefault(f"{action}_{channel}", {
            "action": action, "channel": {"$ref": f"#/channels/{channel}"}, "messages": []})
        op["messages"].append({"$ref": f"#/channels/{channel}/messages/{short}"})
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "ggzy public resource trading platform", "version": "1.0.0",
                 "description": "Messages use the CloudEvents 1.0 Kafka binding (binary mode): "
                 "ce_id, ce_type, ce_source, ce_time, ce_specversion, ce_subject, "
                 "ce_correlationid, ce_causationid, ce_category headers; key = aggregate id. "
                 "Partner commands add ce_partnerid and ce_signature: base64 Ed25519 over "
                 "'<ce_id>\\n<ce_type>\\n<sha256 hex of the value>'."},
        "defaultContentType": "application/json",
        "channels": channels, "operations": operations,
        "components": {"messages": messages},
    }


def _channel_id(cls: type[Message]) -> str:
    return f"{cls.audience.value}_{cls.stage.value}_{cls.kind}"


def _address(cls: type[Message]) -> str:
    if cls.stage in CATEGORY_SCOPED:
        return topic_name(cls.stage, Category.OTHER, audience=cls.audience, kind=cls.kind
                          ).replace(".other.", ".{category}.")
    return topic_name(cls.stage, audience=cls.audience, kind=cls.kind)


def breaking_changes(old: Schema, new: Schema, path: str = "") -> list[str]:
    """Why ``new`` cannot read what ``old`` described (empty when compatible)."""
    problems: list[str] = []
    old_defs, new_defs = old.get("$defs", {}), new.get("$defs", {})
    problems += _compare(old, new, path or "$", old_defs, new_defs)
    return problems


def _resolve(node: Schema, defs: Schema) -> Schema:
    ref = node.get("$ref", "")
    return defs.get(ref.rsplit("/", 1)[-1], node) if ref.startswith("#/$defs/") else node


def _compare(old: Schema, new: Schema, at: str, od: Schema, nd: Schema) -> list[str]:
    old, new = _resolve(old, od), _resolve(new, nd)
    out: list[str] = []
    if _types(old) != _types(new) and not _types(old) <= _types(new):
        out.append(f"{at}: type changed from {sorted(_types(old))} to {sorted(_types(new))}")
    out += _constraints(old, new, at)
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name, sub in old_props.items():
        if name not in new_props:
            out.append(f"{at}.{name}: field removed or renamed")
        else:
            out += _compare(sub, new_props[name], f"{at}.{name}", od, nd)
    added_required = set(new.get("required", [])) - set(old.get("required", []))
    out += [f"{at}.{name}: field became required" for name in sorted(added_required)]
    if "items" in old and "items" in new:
        out += _compare(old["items"], new["items"], f"{at}[]", od, nd)
    for key in ("anyOf", "oneOf"):
        if key in old and key in new and len(old[key]) == len(new[key]):
            for i, (a, b) in enumerate(zip(old[key], new[key], strict=True)):
                out += _compare(a, b, f"{at}<{i}>", od, nd)
    return out


def _types(node: Schema) -> set[str]:
    if "type" in node:
        t = node["type"]
        return set(t) if isinstance(t, list) else {t}
    if "anyOf" in node:
        return {str(sorted(_types(n))) for n in node["anyOf"]}
    return set()


def _constraints(old: Schema, new: Schema, at: str) -> list[str]:
    out = []
    for key in TIGHTER_IF_LARGER:
        if key in new and (key not in old or new[key] > old[key]):
            out.append(f"{at}: {key} tightened to {new[key]}")
    for key in TIGHTER_IF_SMALLER:
        if key in new and (key not in old or new[key] < old[key]):
            out.append(f"{at}: {key} tightened to {new[key]}")
    if "pattern" in new and new.get("pattern") != old.get("pattern"):
        out.append(f"{at}: pattern changed to {new['pattern']!r}")
    if "enum" in old and "enum" in new and set(old["enum"]) - set(new["enum"]):
        out.append(f"{at}: enum values removed {sorted(set(old['enum']) - set(new['enum']))}")
    if "enum" in new and "enum" not in old and "const" not in old:
        out.append(f"{at}: restricted to enum {new['enum']}")
    if new.get("additionalProperties") is False and old.get("additionalProperties") is not False:
        out.append(f"{at}: additional properties forbidden")
    return out


def check(root: Path = ROOT) -> list[str]:
    """Breaking changes of the current models against the committed schemas."""
    current = {name: schema_of(cls) for name, cls in all_messages().items()}
    problems: list[str] = []
    for path in sorted((root / "schemas").glob("*.json")):
        name = path.stem
        committed = json.loads(path.read_text("utf-8"))
        if name not in current:
            problems.append(f"{name}: message type removed (publish a new version instead)")
            continue
        problems += [f"{name}: {p}" for p in breaking_changes(committed, current[name])]
    return problems
