"""Shape checks of JSON documents read from files users give (the model file's ``model.json``).

A schema is a Python value: a type (``str``, ``int``, :data:`NUMBER`, ``dict``, ``list``,
``object`` for anything), ``None`` (null), a tuple of alternatives, ``[item_schema]`` for a
list, ``{"key": schema, "?optional": schema}`` for a mapping with those keys, or
``{str: schema}`` for a mapping of any keys. True and false are never numbers.

Examples
--------
>>> schema_problem({"bands": ["a", 3]}, {"bands": [str], "?note": str})
"entry 'bands[1]' should be text, not a number"
"""

from __future__ import annotations

from typing import Any

#: An integer or a float (not true or false).
NUMBER = (int, float)


def schema_problem(value: Any, schema: Any, where: str = "") -> str | None:
    """What in ``value`` does not fit ``schema`` , or None."""
    name = f"entry {where!r}" if where else "the document"
    if isinstance(schema, tuple):
        problems = [schema_problem(value, s, where) for s in schema]
        return None if None in problems else problems[0]
    if schema is None:
        return None if value is None else f"{name} should be null"
    if isinstance(schema, list):
        if not isinstance(value, list):
            return f"{name} should be a list, not {_json_type(value)}"
        return next((p for i, v in enumerate(value) if (p := schema_problem(v, schema[0], f"{where}[{i}]"))), None)
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            return f"{name} should be a mapping, not {_json_type(value)}"
        if str in schema:
            return next((p for k, v in value.items()
                         if (p := schema_problem(v, schema[str], f"{where}.{k}" if where else str(k)))), None)
        for key, sub in schema.items():
            optional, key = key.startswith("?"), key.lstrip("?")
            inner = f"{where}.{key}" if where else key
            if key not in value:
                if not optional:
                    return f"entry {inner!r} is missing"
                continue
            problem = schema_problem(value[key], sub, inner)
            if problem:
                return problem
        return None
    types = schema if schema is not object else (object,)
    ok = isinstance(value, types) and not (isinstance(value, bool) and schema in (int, NUMBER))
    return None if ok else f"{name} should be {_json_type_name(schema)}, not {_json_type(value)}"


def _json_type(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false", type(None): "null"}.get(
        type(value), "a number")


def _json_type_name(schema: Any) -> str:
    return {str: "text", int: "an integer", dict: "a mapping", list: "a list"}.get(schema, "a number")
