"""Metadata documents are parsed and checked once per distinct bytes (Store.getdecoded)."""

from __future__ import annotations

import json
from typing import Any

import pytest

import zarrkit
from zarrkit.errors import MetadataError
from zarrkit.storage import ConsolidatedMetadataStore, MemoryStore


def counting_decoder() -> tuple[list[str], Any]:
    calls: list[str] = []

    def decode(doc: Any, key: str) -> tuple:
        calls.append(key)
        if "bad" in doc:
            raise MetadataError(f"{key}: bad")
        return tuple(sorted(doc.items()))

    return calls, decode


def test_same_bytes_decoded_once_changed_bytes_again() -> None:
    calls, decode = counting_decoder()
    s = MemoryStore()
    s["k"] = b'{"a": 1}'
    assert s.getdecoded("k", decode) == (("a", 1),)
    assert s.getdecoded("k", decode) == (("a", 1),)
    assert len(calls) == 1
    s["k"] = b'{"a": 2}'  # new bytes: decoded anew, never the old result
    assert s.getdecoded("k", decode) == (("a", 2),)
    assert len(calls) == 2


def test_errors_are_not_remembered() -> None:
    calls, decode = counting_decoder()
    s = MemoryStore()
    s["k"] = b'{"bad": 1}'
    for _ in range(2):
        with pytest.raises(MetadataError):
            s.getdecoded("k", decode)
    assert len(calls) == 2
    s["j"] = b"not json"
    with pytest.raises(MetadataError, match="'j'"):
        s.getdecoded("j", decode)


def test_missing_key_is_key_error() -> None:
    _, decode = counting_decoder()
    with pytest.raises(KeyError):
        MemoryStore().getdecoded("nothing", decode)


def test_subclass_getitem_is_called() -> None:
    class Counting(MemoryStore):
        reads: list[str] = []

        def __getitem__(self, key: str) -> Any:
            self.reads.append(key)
            return super().__getitem__(key)

    s = Counting()
    s["k"] = b"{}"
    _, decode = counting_decoder()
    s.getdecoded("k", decode)
    assert s.reads == ["k"]


def test_reopened_array_sees_changed_metadata() -> None:
    s = MemoryStore()
    zarrkit.zeros((4, 4), chunks=(2, 2), store=s)
    assert zarrkit.open_array(s, mode="r").shape == (4, 4)
    doc = json.loads(s[".zarray"])
    doc["shape"] = [6, 4]
    s[".zarray"] = json.dumps(doc).encode()
    assert zarrkit.open_array(s, mode="r").shape == (6, 4)


def test_consolidated_stores_share_one_checked_index() -> None:
    s = MemoryStore()
    g = zarrkit.group(store=s)
    g.zeros("x", shape=(3,), chunks=(2,))
    zarrkit.consolidate_metadata(s)
    a, b = ConsolidatedMetadataStore(s), ConsolidatedMetadataStore(s)
    assert a.meta_store is b.meta_store
    assert sorted(a.listdir("")) == sorted(b.listdir("")) == [".zgroup", "x"]
    calls, decode = counting_decoder()
    a.getdecoded("x/.zarray", decode)
    b.getdecoded("x/.zarray", decode)
    assert calls == ["x/.zarray"]
    # a changed document is a new index
    g.zeros("y", shape=(3,), chunks=(2,))
    zarrkit.consolidate_metadata(s)
    c = ConsolidatedMetadataStore(s)
    assert c.meta_store is not a.meta_store
    assert "y" in c.listdir("")
