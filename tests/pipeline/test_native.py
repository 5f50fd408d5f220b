"""The compiled loop over chunk files (pipeline/native.py, _native.c) against the pure-Python
pipeline and NumPy: same values, same bytes on disk, same errors."""

from __future__ import annotations

import os
from pathlib import Path

import numcodecs
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import zarrkit
from conftest import posix_only
from zarrkit.errors import CorruptChunkError
from zarrkit.pipeline import native

# the test command builds the extension (setup.py): there it must be there and be used
REQUIRED = os.environ.get("ZARRKIT_REQUIRE_NATIVE") == "1"


def test_extension_is_built_where_required():
    if not REQUIRED and native._native is None:
        pytest.skip("the extension is not built here (no C compiler): the Python path runs")
    assert native._native is not None
    assert native.ENABLED
    assert native.blosc_addresses() is not None, "numcodecs' c-blosc functions not usable"


needs_native = pytest.mark.skipif(
    native._native is None and not REQUIRED, reason="the extension is not built here"
)


class Calls:
    """Counts the calls into the extension and the chunks they did not finish."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reads = self.writes = self.deferred = 0
        real = native._native

        def deferred(status, start, stop) -> int:
            return int((status[0, start:stop] >= native.FIRST_DEFERRED).sum())

        def read(codec, table, paths, out, strides, status, start, stop):
            self.reads += 1
            real.read_chunks(codec, table, paths, out, strides, status, start, stop)
            self.deferred += deferred(status, start, stop)

        def write(*args):
            self.writes += 1
            real.write_chunks(*args)
            self.deferred += deferred(args[6], args[7], args[8])

        class Module:
            Codec = real.Codec
            check_plan = real.check_plan
            read_chunks = staticmethod(read)
            write_chunks = staticmethod(write)

        monkeypatch.setattr(native, "_native", Module)


def files_of(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


COMPRESSORS = [
    None,
    numcodecs.Blosc("lz4", 5, numcodecs.Blosc.SHUFFLE),
    numcodecs.Blosc("zstd", 3, numcodecs.Blosc.BITSHUFFLE, blocksize=256),
    numcodecs.Blosc("blosclz", 1, numcodecs.Blosc.AUTOSHUFFLE),
]
DTYPES = ["<i4", ">f8", "u1", "<c16", "|b1", "<M8[s]", "S3"]


def _selection(draw, shape):
    sel = []
    for n in shape:
        kind = draw(st.sampled_from(["all", "slice", "int"]))
        if kind == "all":
            sel.append(slice(None))
        elif kind == "int":
            sel.append(draw(st.integers(0, n - 1)))
        else:
            a = draw(st.integers(0, n - 1))
            b = draw(st.integers(a + 1, n))
            sel.append(slice(a, b))
    return tuple(sel)


@st.composite
def cases(draw):
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 23), min_size=ndim, max_size=ndim)))
    chunks = tuple(draw(st.integers(1, n + 3)) for n in shape)
    return {
        "shape": shape,
        "chunks": chunks,
        "order": draw(st.sampled_from("CF")),
        "dtype": draw(st.sampled_from(DTYPES)),
        "compressor": draw(st.sampled_from(COMPRESSORS)),
        "separator": draw(st.sampled_from([".", "/"])),
        "fill": draw(st.sampled_from([None, 0, 3])),
        "empty": draw(st.booleans()),
        "writes": [_selection(draw, shape) for _ in range(draw(st.integers(1, 3)))],
        "scalar": draw(st.lists(st.booleans(), min_size=3, max_size=3)),
        "reads": [_selection(draw, shape) for _ in range(2)],
        "seed": draw(st.integers(0, 2**16)),
        "view": draw(st.booleans()),
    }


def _values(dtype: str, shape, rng) -> np.ndarray:
    a = rng.integers(0, 4, size=shape)  # few distinct values: whole chunks of fill happen
    if dtype == "S3":
        return np.array([b"x", b"", b"abc", b"zz"], dtype="S3")[a]
    if dtype.startswith("<M8"):
        return a.astype("<M8[s]")
    return a.astype(dtype)


def _run(root: Path, case: dict, use_native: bool) -> tuple[np.ndarray, list[np.ndarray]]:
    native.ENABLED = use_native
    fill = case["fill"]
    dtype = case["dtype"]
    if fill is not None and dtype.startswith("<M8"):
        fill = None  # (datetime fill values are given as strings in zarr 2)
    if fill is not None and dtype == "S3":
        fill = b"abc" if fill else b""
    store = zarrkit.DirectoryStore(str(root), dimension_separator=case["separator"])
    z = zarrkit.create(
        case["shape"],
        chunks=case["chunks"],
        dtype=dtype,
        order=case["order"],
        compressor=case["compressor"],
        fill_value=fill,
        store=store,
        write_empty_chunks=not case["empty"],
    )
    rng = np.random.default_rng(case["seed"])
    model = np.full(case["shape"], z.fill_value if fill is not None else 0, dtype=dtype)
    if fill is None:  # unwritten items are undefined then: everything is written first
        model = _values(dtype, case["shape"], rng)
        z[...] = model
    for sel, scalar in zip(case["writes"], case["scalar"]):
        target_shape = model[sel].shape
        if scalar:
            value = np.asarray(_values(dtype, (), rng), dtype=dtype)[()]  # one item for all
        elif case["view"] and target_shape:
            # a strided, reversed view as the value
            big = _values(dtype, tuple(2 * n for n in target_shape), rng)
            value = big[tuple(slice(None, None, -2) for _ in target_shape)]
        else:
            value = _values(dtype, target_shape, rng)
        z[sel] = value
        model[sel] = value
    return model, [z[sel] for sel in case["reads"]] + [z[...]]


@needs_native
@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=cases())
def test_native_matches_python_path_and_numpy(tmp_path_factory, case):
    root = tmp_path_factory.mktemp("case")
    # c-blosc's global threads (numcodecs' default on the main thread) store the blocks of a
    # frame in the order they finish: one thread per chunk makes both paths deterministic
    threads = numcodecs.blosc.use_threads
    numcodecs.blosc.use_threads = False
    try:
        model, got = _run(root / "native", case, True)
        model2, got2 = _run(root / "python", case, False)
    finally:
        native.ENABLED = True
        numcodecs.blosc.use_threads = threads
    for sel, g, g2 in zip(case["reads"] + [...], got, got2):
        assert np.array_equal(g, model[sel]), sel
        assert np.array_equal(g2, model2[sel]), sel
    # the same files, byte for byte (Blosc with one thread per chunk is deterministic)
    assert files_of(root / "native") == files_of(root / "python")


@needs_native
def test_whole_chunks_go_through_the_extension(tmp_path, monkeypatch):
    calls = Calls(monkeypatch)
    a = np.arange(120 * 70, dtype="<i4").reshape(120, 70)
    z = zarrkit.open(str(tmp_path / "a"), mode="w", shape=a.shape, chunks=(10, 10), dtype="<i4")
    z[...] = a
    assert calls.writes >= 1 and calls.deferred == 0
    assert np.array_equal(z[...], a)
    assert calls.reads >= 1 and calls.deferred == 0
    assert np.array_equal(z[5:17, 3:9], a[5:17, 3:9])  # partial regions (whole frames decoded)
    assert calls.deferred == 0
    assert not [p for p in os.listdir(tmp_path / "a") if p.endswith(".partial")]


@needs_native
def test_corrupt_chunks_are_left_to_the_python_path_which_names_them(tmp_path, monkeypatch):
    a = np.arange(40 * 40, dtype="<i4").reshape(40, 40)
    z = zarrkit.open(str(tmp_path / "a"), mode="w", shape=a.shape, chunks=(10, 10), dtype="<i4")
    z[...] = a
    chunk = tmp_path / "a" / "1.2"
    chunk.write_bytes(chunk.read_bytes()[:-5])  # a Blosc frame cut short
    calls = Calls(monkeypatch)
    with pytest.raises(CorruptChunkError, match=r"1\.2"):
        z[...]
    assert calls.reads >= 1 and calls.deferred == 1
    # its header says another size
    data = bytearray((tmp_path / "a" / "0.0").read_bytes())
    data[4:8] = (12345).to_bytes(4, "little")
    (tmp_path / "a" / "0.0").write_bytes(bytes(data))
    with pytest.raises(CorruptChunkError, match=r"0\.0"):
        z[0:5, 0:5]


@needs_native
def test_uncompressed_chunk_of_the_wrong_size(tmp_path):
    z = zarrkit.open(
        str(tmp_path / "a"), mode="w", shape=(20, 20), chunks=(10, 10), dtype="<i2", compressor=None
    )
    z[...] = 1
    (tmp_path / "a" / "1.1").write_bytes(b"\0" * 201)
    with pytest.raises(CorruptChunkError, match=r"1\.1"):
        z[...]
    (tmp_path / "a" / "1.1").write_bytes(b"\0" * 199)
    with pytest.raises(CorruptChunkError, match=r"1\.1"):
        z[10:, 10:]


@needs_native
def test_missing_chunks_read_as_fill_and_nested_folders_are_made(tmp_path, monkeypatch):
    store = zarrkit.NestedDirectoryStore(str(tmp_path / "n"))
    z = zarrkit.create((30, 30), chunks=(10, 10), dtype="f8", fill_value=np.nan, store=store)
    calls = Calls(monkeypatch)
    assert np.isnan(z[...]).all()
    assert calls.reads >= 1
    a = np.arange(900.0).reshape(30, 30)
    z[...] = a  # the folders are made first
    assert np.array_equal(z[...], a)
    assert calls.writes >= 1
    assert sorted(os.listdir(tmp_path / "n")) == [".zarray", "0", "1", "2"]
    z[10:20, :] = a[10:20]
    assert calls.deferred == 0


@needs_native
def test_a_folder_in_place_of_a_chunk_is_the_python_paths_error(tmp_path):
    z = zarrkit.open(str(tmp_path / "a"), mode="w", shape=(20, 20), chunks=(10, 10), dtype="i4")
    os.mkdir(tmp_path / "a" / "1.1")
    with pytest.raises(KeyError, match="directory"):
        z[...] = np.ones((20, 20), dtype="i4")
    assert not [p for p in os.listdir(tmp_path / "a") if p.endswith(".partial")]


@needs_native
def test_read_only_store_refuses_before_any_file(tmp_path):
    z = zarrkit.open(str(tmp_path / "a"), mode="w", shape=(20, 20), chunks=(10, 10), dtype="i4")
    r = zarrkit.open(str(tmp_path / "a"), mode="r")
    with pytest.raises(zarrkit.errors.ReadOnlyError):
        r[...] = np.ones((20, 20), dtype="i4")
    assert sorted(os.listdir(tmp_path / "a")) == [".zarray"]
    assert z.nchunks_initialized == 0


@needs_native
@posix_only
def test_write_empty_chunks_false_removes_fill_chunks(tmp_path):
    z = zarrkit.open(
        str(tmp_path / "a"),
        mode="w",
        shape=(25, 25),
        chunks=(10, 10),
        dtype="u2",
        fill_value=9,
        write_empty_chunks=False,
    )
    a = np.full((25, 25), 9, dtype="u2")
    a[12, 3] = 1
    a[24, 24] = 2  # in the edge chunk
    z[...] = a
    assert sorted(p for p in os.listdir(tmp_path / "a") if not p.startswith(".")) == ["1.0", "2.2"]
    z[...] = 9
    z[:, :] = np.full((25, 25), 9, dtype="u2")
    assert sorted(p for p in os.listdir(tmp_path / "a") if not p.startswith(".")) == []


@needs_native
@pytest.mark.parametrize("order", ["C", "F"])
def test_whole_chunks_of_many_blosc_blocks(tmp_path, monkeypatch, order):
    # chunks of 16 Blosc blocks, whole and in parts, into outputs of both orders
    a = np.random.default_rng(5).normal(size=(70, 90))
    comp = numcodecs.Blosc("lz4", 5, numcodecs.Blosc.SHUFFLE, blocksize=256)
    z = zarrkit.open(
        str(tmp_path / "a"), mode="w", shape=a.shape, chunks=(16, 16), order=order,
        compressor=comp, dtype="f8",
    )  # fmt: skip
    z[...] = a
    calls = Calls(monkeypatch)
    assert np.array_equal(z[...], a)
    assert np.array_equal(z[3:70, 17:50], a[3:70, 17:50])
    out = np.zeros((70, 90), order="F")
    z.get_basic_selection(..., out=out)
    assert np.array_equal(out, a)
    assert calls.reads >= 3 and calls.deferred == 0


@needs_native
def test_structured_items_without_compressor(tmp_path):
    dt = np.dtype([("a", "<i2"), ("b", ">f4"), ("c", "S2")])
    a = np.zeros((30, 7), dtype=dt)
    a["a"] = np.arange(210).reshape(30, 7)
    a["b"] = 0.5
    a["c"] = b"hi"
    stores = {}
    for use_native in (True, False):
        native.ENABLED = use_native
        try:
            root = tmp_path / str(use_native)
            z = zarrkit.open(
                str(root), mode="w", shape=a.shape, chunks=(8, 4), dtype=dt, compressor=None,
                fill_value=None,
            )  # fmt: skip
            z[...] = a
            z[1:20, 2] = a[2:21, 3]
            stores[use_native] = (files_of(root), z[...])
        finally:
            native.ENABLED = True
    assert stores[True][0] == stores[False][0]
    assert np.array_equal(stores[True][1], stores[False][1])


@needs_native
@pytest.mark.parametrize("compressor", [None, numcodecs.Blosc("zstd", 1, numcodecs.Blosc.SHUFFLE)])
def test_partly_covered_chunks_are_merged_in_the_extension(tmp_path, monkeypatch, compressor):
    a = np.arange(50 * 40, dtype="<i8").reshape(50, 40)
    z = zarrkit.open(
        str(tmp_path / "a"), mode="w", shape=a.shape, chunks=(10, 10), dtype="<i8",
        compressor=compressor, fill_value=-1,
    )  # fmt: skip
    z[:30] = a[:30]  # rows 30-49 never written: their chunks are merged with the fill value
    calls = Calls(monkeypatch)
    z[5:43, 3:38] = -a[5:43, 3:38]
    assert calls.writes >= 1 and calls.deferred == 0
    expected = np.full_like(a, -1)
    expected[:30] = a[:30]
    expected[5:43, 3:38] = -a[5:43, 3:38]
    assert np.array_equal(z[...], expected)
    # a stored chunk that does not decode: the Python path names it, nothing else is lost
    path = tmp_path / "a" / "1.1"
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(CorruptChunkError, match=r"1\.1"):
        z[12:14, 12:14] = np.full((2, 2), 7, dtype="<i8")
    assert calls.deferred == 1
    assert not [p for p in os.listdir(tmp_path / "a") if p.endswith(".partial")]


@needs_native
def test_the_loop_names_temporary_files_by_the_one_rule(tmp_path, monkeypatch):
    """The loop builds its temporary file names from ``LocalFiles.native_temp_rule`` (the
    rule of ``storage/files.temp_name``): a file already at the name the rule gives for a
    chunk makes the loop's exclusive open fail, and the chunk is left to the Python path."""
    from zarrkit.storage import files

    tag = "0123456789abcdef"
    rule = files.LocalFiles.native_temp_rule
    monkeypatch.setattr(files.LocalFiles, "native_temp_rule", staticmethod(lambda _: rule(tag)))
    z = zarrkit.open_array(
        str(tmp_path / "a"), mode="w", shape=(4,), chunks=(4,), dtype="<i4", compressor=None
    )
    calls = Calls(monkeypatch)
    blocker = tmp_path / "a" / files.temp_name("0", tag + f"{0:016x}")  # chunk 0 of its call
    assert files.is_temp(blocker.name)
    blocker.write_bytes(b"in the way")
    z[:] = np.arange(4)
    assert (calls.writes, calls.deferred) == (1, 1)  # the loop met the file at its name
    assert blocker.read_bytes() == b"in the way" and list(z[:]) == [0, 1, 2, 3]
    blocker.unlink()
    z[:] = np.arange(4) + 1
    assert (calls.writes, calls.deferred) == (2, 1) and list(z[:]) == [1, 2, 3, 4]
    assert sorted(os.listdir(tmp_path / "a")) == [".zarray", "0"]


def test_the_temporary_name_rule_is_one():
    from zarrkit.storage import files

    token = "ab" * 16
    name = files.temp_name("0.1", token)
    assert name == f".0.1.{token}.partial" and files.is_temp(name)
    assert not files.is_temp(files.temp_name("0.1", token[:-1]))  # a token of 32 digits
    lead, middle, end = files.LocalFiles.native_temp_rule(token[:16])
    assert lead + b"0.1" + middle + token[16:].encode() + end == name.encode()
    with pytest.raises(ValueError):
        files.LocalFiles.native_temp_rule("abc")
