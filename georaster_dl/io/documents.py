"""Bounded loading of the YAML/JSON documents users give (StackSpecs).

A document is refused, with one line naming it, before it can take minutes or gigabytes:
beyond :data:`MAX_DOCUMENT_BYTES`, nested deeper than :data:`MAX_DEPTH` (PyYAML's composer
recurses, so a deep document would end in ``RecursionError``), or holding more than
:data:`MAX_NODES` values once its aliases are expanded ("billion laughs": a few anchors
that refer to each other expand to billions of values). Only YAML's safe loader is
used: Python tags such as ``!!python/object`` are never loaded.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from georaster_dl.errors import SpecError
from georaster_dl.io.files import check_input_file

#: Largest document read (bytes). A spec with hundreds of inputs and features is a few kB.
MAX_DOCUMENT_BYTES = 1 << 20
#: Deepest nesting of mappings and lists. A spec nests four levels.
MAX_DEPTH = 32
#: Most values (scalars, lists and mappings) once aliases are expanded.
MAX_NODES = 100_000

_OPEN = (yaml.BlockMappingStartToken, yaml.BlockSequenceStartToken, yaml.FlowMappingStartToken,
         yaml.FlowSequenceStartToken)
_CLOSE = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)
_HINT = "note that Python tags such as !!python/object are never loaded"


def read_text(path: str | os.PathLike, where: str) -> str:
    """The text of a document file, refusing special files and files beyond the size bound."""
    check_input_file(path, where)
    size = Path(path).stat().st_size
    if size > MAX_DOCUMENT_BYTES:
        raise SpecError(f"{where} is {size / 2**20:.1f} MiB, more than the {MAX_DOCUMENT_BYTES >> 20} MiB a spec "
                        "may hold; give the spec file (inputs, features, grid), not data")
    with open(path, "rb") as f:
        data = f.read(MAX_DOCUMENT_BYTES + 1)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(f"{where} is not a spec (a binary file, not YAML/JSON text); give the spec file "
                        "that lists the inputs and features") from None


def load_yaml(text: str, where: str) -> Any:
    """Parse YAML (or JSON) text with the safe loader, within the bounds of this module.

    Raises
    ------
    SpecError
        When the text is not valid YAML or exceeds a bound; the message names ``where``.

    Examples
    --------
    >>> load_yaml("a: [1, 2]", "spec")
    {'a': [1, 2]}
    """
    if len(text) > MAX_DOCUMENT_BYTES:
        raise SpecError(f"{where}: the document is longer than {MAX_DOCUMENT_BYTES >> 20} MiB; "
                        "give the spec, not data")
    loader = yaml.SafeLoader(text)
    try:
        _check_depth(yaml.scan(text), where)
        node = loader.get_single_node()
        if node is None:
            return None
        _count(node, {}, set(), where)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "invalid YAML"
        raise SpecError(f"{where}: not a valid YAML/JSON spec ({first}); {_HINT}") from None
    finally:
        loader.dispose()


def _check_depth(tokens, where: str) -> None:
    depth = 0
    for token in tokens:
        if isinstance(token, _OPEN):
            depth += 1
            if depth > MAX_DEPTH:
                raise SpecError(f"{where}: nested more than {MAX_DEPTH} levels deep; a spec nests a few levels "
                                "(inputs, their options)")
        elif isinstance(token, _CLOSE):
            depth -= 1


def _count(node: yaml.Node, counted: dict[int, int], open_nodes: set[int], where: str) -> int:
    """Values under ``node`` with aliases expanded (each shared node counted once per use)."""
    key = id(node)
    if key in counted:
        return counted[key]
    if key in open_nodes:
        raise SpecError(f"{where}: an alias refers to the value that contains it (a recursive document); "
                        "write the values out")
    open_nodes.add(key)
    total = 1
    if isinstance(node, yaml.SequenceNode):
        total += sum(_count(child, counted, open_nodes, where) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        total += sum(_count(k, counted, open_nodes, where) + _count(v, counted, open_nodes, where)
                     for k, v in node.value)
    open_nodes.discard(key)
    if total > MAX_NODES:
        raise SpecError(f"{where}: holds more than {MAX_NODES:,} values once its aliases (*name) are expanded; "
                        "write the values out, or split the document")
    counted[key] = total
    return total
