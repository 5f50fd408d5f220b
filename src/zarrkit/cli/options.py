"""Parsing of command-line values: storage options, sizes, chunk shapes, selections, paths."""

from __future__ import annotations

import ast
import json
import os
import re
from typing import Any


class UsageError(ValueError):
    """A command-line value that cannot be used (exit code 2)."""


def storage_options(pairs: list[str] | None) -> dict[str, Any] | None:
    """``['key=value', 'client_kwargs.endpoint_url=http://...']`` -> nested dict.

    A value that parses as JSON (``true``, ``3``, ``{"a": 1}``) is taken as such, anything
    else as a string; dots in a key make nested dicts.
    """
    if not pairs:
        return None
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--storage-option {pair!r}: expected KEY=VALUE")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        *parents, last = key.split(".")
        node = out
        for p in parents:
            child = node.setdefault(p, {})
            if not isinstance(child, dict):
                raise UsageError(f"--storage-option {pair!r}: {p!r} is already a value")
            node = child
        node[last] = value
    return out


_UNITS = {"": 1, "B": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def size(text: str) -> int:
    """``'512MB'``, ``'1.5G'``, ``'64MiB'``, ``'1000000'`` -> bytes (binary units)."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?)(?:i?B)?\s*", text, re.IGNORECASE)
    if m is None:
        raise UsageError(f"{text!r} is not a size (examples: 512MB, 2G, 1000000)")
    n = int(float(m.group(1)) * _UNITS[m.group(2).upper()])
    if n <= 0:
        raise UsageError(f"{text!r}: the size must be positive")
    return n


def chunk_shape(text: str, option: str = "--chunks") -> tuple[int | None, ...]:
    """``'1000,1000'`` -> ``(1000, 1000)``; ``-1`` (or an empty entry) means the whole axis."""
    out: list[int | None] = []
    for part in text.split(","):
        part = part.strip()
        if part in ("", "-1"):
            out.append(None)
            continue
        try:
            n = int(part)
        except ValueError:
            raise UsageError(f"{option} {text!r}: {part!r} is not an integer") from None
        if n <= 0:
            raise UsageError(f"{option} {text!r}: sizes must be positive (or -1)")
        out.append(n)
    return tuple(out)


def split_selection(text: str) -> tuple[str, tuple | None]:
    """``'data.zarr/a[0:10, ::2]'`` -> ``('data.zarr/a', (slice(0, 10), slice(None, None, 2)))``."""
    if not text.endswith("]") or "[" not in text:
        return text, None
    start = text.rindex("[")
    return text[:start], selection(text[start + 1 : -1])


def _index(node: ast.expr, text: str) -> Any:
    if isinstance(node, ast.Slice):
        parts = [None if p is None else _int(p, text) for p in (node.lower, node.upper, node.step)]
        return slice(*parts)
    if isinstance(node, ast.Constant) and node.value is Ellipsis:
        return Ellipsis
    return _int(node, text)


def _int(node: ast.expr, text: str) -> int:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_int(node.operand, text)
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    raise UsageError(f"selection [{text}]: only integers, slices and ... are allowed")


def selection(text: str) -> tuple:
    """``'0:10, 5, ...'`` -> a tuple of slices, integers and Ellipsis (no code is run)."""
    try:
        tree = ast.parse(f"_[{text}]", mode="eval").body
    except SyntaxError:
        raise UsageError(
            f"selection [{text}] is not valid: write it as in Python, e.g. [0:10, 5]"
        ) from None
    assert isinstance(tree, ast.Subscript)
    items = tree.slice.elts if isinstance(tree.slice, ast.Tuple) else [tree.slice]
    return tuple(_index(e, text) for e in items)


def split_store_path(text: str) -> tuple[str, str]:
    """A path argument -> ``(store, path inside it)``.

    URLs and local directories are used as given (an array in a sub-folder of a directory
    store opens from its own folder); a path that goes on inside a Zip archive or an N5
    container, ``data.zip/group/array``, is split after the container.
    """
    if "://" in text or "::" in text:
        return text, ""
    parts = text.replace(os.sep, "/").split("/")
    for i in range(1, len(parts)):
        head = "/".join(parts[:i])
        if (head.endswith(".zip") and os.path.isfile(head)) or (
            head.endswith(".n5") and os.path.isdir(head)
        ):
            return head, "/".join(p for p in parts[i:] if p)
    return text, ""
