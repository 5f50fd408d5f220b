"""The README's usage block runs, and every result it shows in a comment is what it prints."""

from __future__ import annotations

import ast
import os
import re
from typing import Any

import numpy as np

README = os.path.join(os.path.dirname(__file__), os.pardir, "README.md")


def _usage_block() -> str:
    text = open(README, encoding="utf-8").read()
    usage = text.split("## Usage", 1)[1]
    return re.search(r"```python\n(.*?)```", usage, re.S).group(1)


def _normalise(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_usage_block_prints_what_its_comments_claim(tmp_path: Any, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    source = _usage_block()
    namespace: dict[str, Any] = {}
    checked = 0
    # run statement by statement; an expression whose comment shows "array(...)" is compared
    lines = source.splitlines()
    for node in ast.parse(source).body:
        code = ast.get_source_segment(source, node)
        if isinstance(node, ast.Expr):
            value = eval(compile(ast.Expression(node.value), "README", "eval"), namespace)
            comment = lines[node.end_lineno - 1].partition("#")[2]
            shown = re.search(r"array\(.*\)", comment)
            if shown:
                names = {"array": np.array, "int32": np.int32, "float32": np.float32}
                expected = eval(shown.group(0), names)
                assert isinstance(value, np.ndarray), code
                np.testing.assert_array_equal(value, expected)
                assert value.dtype == expected.dtype, code
                checked += 1
            elif re.fullmatch(r"\s*-?\d+\s*", comment):  # a number shown
                assert value == int(comment), code
                checked += 1
        else:
            exec(compile(ast.Module([node], []), "README", "exec"), namespace)
    assert checked == 5
    assert _normalise("array([5, 42], dtype=int32)") in _normalise(source)
