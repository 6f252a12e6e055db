"""Whether a contract's JSON Schema still accepts what the released contract version accepted.

Services deploy one at a time, so a message written to the released contract must keep
parsing. ``breaking_changes(old, new)`` lists what the new schema would refuse that the old
one allowed: a property removed, a property newly required, a type, constant, enumeration
value or union branch dropped, a bound or pattern tightened, unknown properties forbidden.
Widening (a new optional property, a new enumeration value, a looser bound) is compatible for
readers; since every contract forbids unknown fields, such a change reaches its consumers
before its producers (deploy the reading service first).

A breaking change needs a new ``schema_version`` (``SCHEMA_VERSION``) and a new snapshot of
the released contract: ``contracts/compat/v<N>/`` (``shopflow-export-schemas --freeze``).
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

_UPPER_BOUNDS = ("maxLength", "maximum", "exclusiveMaximum", "maxItems", "maxProperties")
_LOWER_BOUNDS = ("minLength", "minimum", "exclusiveMinimum", "minItems", "minProperties")


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    """What ``new`` refuses that ``old`` accepted, as readable paths; empty when compatible."""
    problems: list[str] = []
    _compare(old, old, new, new, "$", problems, set())
    return problems


def _resolve(node: Schema, root: Schema) -> tuple[Schema, str | None]:
    reference = node.get("$ref")
    if not isinstance(reference, str) or not reference.startswith("#/$defs/"):
        return node, None
    name = reference.removeprefix("#/$defs/")
    resolved: Schema = root.get("$defs", {})[name]
    return resolved, name


def _branches(node: Schema) -> list[Schema] | None:
    for key in ("anyOf", "oneOf"):
        if key in node:
            found: list[Schema] = node[key]
            return found
    return None


def _compare(
    old: Schema,
    old_root: Schema,
    new: Schema,
    new_root: Schema,
    where: str,
    problems: list[str],
    seen: set[tuple[str, str]],
) -> None:
    old, old_name = _resolve(old, old_root)
    new, new_name = _resolve(new, new_root)
    if old_name is not None and new_name is not None:
        if (old_name, new_name) in seen:
            return
        seen = seen | {(old_name, new_name)}
    old_branches, new_branches = _branches(old), _branches(new)
    if old_branches is not None:
        for index, branch in enumerate(old_branches):
            _compare_branch(branch, old_root, new, new_root, f"{where}|{index}", problems, seen)
        return
    if new_branches is not None:
        _compare_branch(old, old_root, new, new_root, where, problems, seen)
        return
    _compare_types(old, new, where, problems)
    _compare_values(old, new, where, problems)
    _compare_bounds(old, new, where, problems)
    _compare_objects(old, old_root, new, new_root, where, problems, seen)
    if "items" in old and "items" in new:
        _compare(old["items"], old_root, new["items"], new_root, f"{where}[]", problems, seen)


def _compare_branch(
    old: Schema,
    old_root: Schema,
    new: Schema,
    new_root: Schema,
    where: str,
    problems: list[str],
    seen: set[tuple[str, str]],
) -> None:
    """``old`` (one alternative) must fit ``new`` or one of its alternatives unchanged."""
    candidates = _branches(new) or [new]
    attempts: list[list[str]] = []
    for candidate in candidates:
        found: list[str] = []
        _compare(old, old_root, candidate, new_root, where, found, seen)
        if not found:
            return
        attempts.append(found)
    fewest: list[str] = min(attempts, key=len)
    problems.extend(fewest)


def _types(node: Schema) -> set[str]:
    declared = node.get("type")
    if declared is None:
        return set()
    return {declared} if isinstance(declared, str) else set(declared)


def _compare_types(old: Schema, new: Schema, where: str, problems: list[str]) -> None:
    old_types, new_types = _types(old), _types(new)
    if new_types:
        dropped = old_types - new_types
        if "number" in new_types:
            # An integer is still a number: widening integer -> number is compatible.
            dropped.discard("integer")
        if dropped:
            problems.append(f"{where}: no longer accepts {', '.join(sorted(dropped))}")
    if not old_types and new_types and not _is_constrained(old):
        problems.append(f"{where}: now only accepts {', '.join(sorted(new_types))}")


def _is_constrained(node: Schema) -> bool:
    return any(key in node for key in ("enum", "const", "properties", "items", "$ref"))


def _compare_values(old: Schema, new: Schema, where: str, problems: list[str]) -> None:
    if "const" in new and new["const"] != old.get("const", new["const"]):
        problems.append(f"{where}: constant {old['const']!r} became {new['const']!r}")
    if "const" in new and "const" not in old and "enum" not in old:
        problems.append(f"{where}: now only accepts {new['const']!r}")
    if "enum" in new:
        allowed = set(map(repr, new["enum"]))
        before = [old["const"]] if "const" in old else old.get("enum")
        if before is None:
            problems.append(f"{where}: now only accepts {sorted(allowed)}")
        elif dropped := sorted(set(map(repr, before)) - allowed):
            problems.append(f"{where}: no longer accepts {', '.join(dropped)}")
    for key in ("pattern", "format"):
        if key in new and new[key] != old.get(key):
            problems.append(f"{where}: {key} {old.get(key)!r} became {new[key]!r}")


def _compare_bounds(old: Schema, new: Schema, where: str, problems: list[str]) -> None:
    for key in _UPPER_BOUNDS:
        if key in new and (key not in old or new[key] < old[key]):
            problems.append(f"{where}: {key} {old.get(key)} became {new[key]}")
    for key in _LOWER_BOUNDS:
        if key in new and (key not in old or new[key] > old[key]):
            problems.append(f"{where}: {key} {old.get(key)} became {new[key]}")


def _compare_objects(
    old: Schema,
    old_root: Schema,
    new: Schema,
    new_root: Schema,
    where: str,
    problems: list[str],
    seen: set[tuple[str, str]],
) -> None:
    old_properties: Schema = old.get("properties", {})
    new_properties: Schema = new.get("properties", {})
    if not old_properties and not new_properties:
        return
    for name, schema in old_properties.items():
        if name not in new_properties:
            problems.append(f"{where}.{name}: removed")
            continue
        _compare(
            schema, old_root, new_properties[name], new_root, f"{where}.{name}", problems, seen
        )
    for name in sorted(set(new.get("required", [])) - set(old.get("required", []))):
        problems.append(f"{where}.{name}: now required")
    if new.get("additionalProperties") is False and old.get("additionalProperties") is not False:
        problems.append(f"{where}: no longer accepts unknown properties")
