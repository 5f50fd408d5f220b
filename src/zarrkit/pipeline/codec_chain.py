"""Filters and compressor as one encode/decode object.

Every codec comes from numcodecs. An object codec (VLenUTF8, JSON, ...) is simply the first
filter, as in zarr 2, so object arrays need nothing special here beyond the object dtype.
"""

from __future__ import annotations

import functools
import math
import struct
from collections.abc import Callable
from typing import Any

import numcodecs
import numpy as np
from numcodecs.abc import Codec
from numcodecs.compat import ensure_ndarray_like

from ..errors import MetadataError, ObjectCodecMissingError
from ..formats.meta import ArrayMeta


def get_codec(config: dict, where: str = "") -> Codec:
    """Instantiate a numcodecs codec from its configuration, with a clear error if unknown."""
    try:
        return numcodecs.get_codec(dict(config))
    except (ValueError, KeyError, TypeError) as e:
        codec_id = config.get("id") if isinstance(config, dict) else config
        extra = f" (in {where!r})" if where else ""
        raise MetadataError(
            f"codec {codec_id!r}{extra} is not available: {e}. "
            "Is the package that provides it installed and registered with numcodecs?"
        ) from None


class CodecChain:
    """Encode a chunk (an ndarray of the chunk shape) to bytes and back."""

    def __init__(self, meta: ArrayMeta, where: str = "") -> None:
        self.meta = meta
        self.filters: list[Codec] = [get_codec(f, where) for f in (meta.filters or ())]
        self.compressor: Codec | None = (
            get_codec(meta.compressor, where) if meta.compressor is not None else None
        )
        self.dtype = meta.dtype
        self.order = meta.order
        self.chunk_shape = meta.chunks
        self.chunk_items = math.prod(meta.chunks)
        self.is_object = meta.dtype.hasobject
        # decoding straight into the caller's buffer is possible with no filters, for a
        # compressor whose header states the decoded size: the others (Zstd, GZip, ...) fill
        # a larger ``out`` in part without complaint, leaving a short chunk's rest unwritten
        self.chunk_nbytes = self.chunk_items * meta.dtype.itemsize
        plain = not self.filters and not self.is_object
        # checks a stored frame before it is decoded and returns the decoded size it records
        # (None: the codec records none, or it cannot be trusted to stop at the bytes present)
        self._frame_size = _frame_size_reader(self.compressor)
        self.can_decode_into = self._frame_size is not None and plain
        # Blosc's module function skips the codec method's buffer normalisation
        self._decompress: Callable[[Any, Any], Any] = (
            numcodecs.blosc.decompress
            if isinstance(self.compressor, numcodecs.Blosc)
            else lambda data, out: self.compressor.decode(data, out=out)  # type: ignore[union-attr]
        )
        #: stored chunks are the items' bytes as they are (no compressor, no filters)
        self.is_raw = self.compressor is None and plain
        self._contiguous = "C_CONTIGUOUS" if self.order == "C" else "F_CONTIGUOUS"
        #: the most bytes a valid stored chunk takes (None: no bound is known, with filters,
        #: object items or a compressor other than numcodecs' own): chunk files longer than
        #: this are refused before they are read, so an odd file cannot fill the memory
        self.max_stored_nbytes = (
            _stored_bound(self.compressor, self.chunk_nbytes) if plain else None
        )
        self._ctx = (
            _blosc_context_decoder() if isinstance(self.compressor, numcodecs.Blosc) else None
        )
        #: the most bytes of a chunk a region may span to be decoded alone (only the Blosc
        #: blocks holding it, after the whole frame's structure is checked); 0: never. The
        #: one rule for both paths: the compiled loop is given this number (see native.py)
        self.partial_limit = (
            self.chunk_nbytes // PARTIAL_DIVISOR
            if plain
            and isinstance(self.compressor, numcodecs.Blosc)
            and self.chunk_nbytes <= _BLOSC_MAX_NBYTES
            and blosc_getitem() is not None
            else 0
        )
        # numbers through Blosc: its module function, without the codec method's buffer
        # normalisation (chosen once; other items need numcodecs' handling)
        self._compress: Callable[[np.ndarray], bytes] | None = None
        c = self.compressor
        if plain and isinstance(c, numcodecs.Blosc) and meta.dtype.kind in "biufc":
            args = (c.cname.encode("ascii"), c.clevel, c.shuffle, c.blocksize)
            self._compress = functools.partial(_blosc_compress, args=args)
        #: chunks of plain numbers are encoded by c-blosc's compressor directly
        self.encodes_numbers = self._compress is not None
        self.uses_blosc = isinstance(self.compressor, numcodecs.Blosc) or any(
            isinstance(f, numcodecs.Blosc) for f in self.filters
        )

    def encode(self, chunk: np.ndarray) -> bytes:
        """Chunk array (chunk shape, array dtype) -> stored bytes."""
        # 0-d chunks become 1-d here (MsgPack cannot encode a 0-d object array)
        if self.order == "F":
            chunk = np.asfortranarray(chunk)
        else:
            chunk = np.ascontiguousarray(chunk)
        data: Any = self.encode_objects(chunk) if self.is_object else chunk
        for f in self.filters[1:] if self.is_object else self.filters:
            data = f.encode(data)
        if isinstance(data, np.ndarray) and data.dtype.hasobject:
            raise TypeError(
                f"the object codec {self.filters[0]!r} did not turn the objects into bytes"
            )
        if self.compressor is not None:
            data = self.compressor.encode(_plain_records(data))
        if isinstance(data, bytes):
            return data
        arr = ensure_ndarray_like(data)
        return arr.tobytes(order="A")

    def encode_buffer(self, chunk: np.ndarray) -> Any:
        """Like :meth:`encode`, but uncompressed items come back as a byte view of the chunk
        (no copy; valid while ``chunk`` is)."""
        if self._compress is not None:
            if not chunk.flags[self._contiguous]:  # type: ignore[index]
                chunk = np.array(chunk, order=self.order)
            return self._compress(chunk)
        if not self.is_raw:
            return self.encode(chunk)
        if self.order == "F":
            chunk = np.asfortranarray(chunk)
        else:
            chunk = np.ascontiguousarray(chunk)
        return chunk.reshape(-1, order="A").view(np.uint8)

    def encode_objects(self, values: np.ndarray) -> Any:
        """Encode an object array with the object codec (the first filter, as in zarr 2).

        An item the codec cannot encode raises the codec's error (same type), naming the codec.
        """
        if not self.filters:
            raise ObjectCodecMissingError("encode")
        codec = self.filters[0]
        try:
            return codec.encode(values)
        except Exception as e:
            raise _object_encode_error(codec, e) from e

    def decode(self, data: Any) -> np.ndarray:
        """Stored bytes -> chunk array of the chunk shape, in the array's memory order."""
        if self.is_object and not self.filters:
            raise ObjectCodecMissingError("decode")
        if self.compressor is not None:
            if self._frame_size is not None:
                self._checked_size(data)
            data = self.compressor.decode(data)
        for f in reversed(self.filters):
            data = f.decode(data)
        # codecs return bytes; np.frombuffer is much cheaper than ensure_ndarray_like there
        if type(data) is bytes:
            arr = np.frombuffer(data, dtype=np.uint8)
        else:
            arr = ensure_ndarray_like(data)
        if self.is_object:
            # objects, or records with object fields (Pickle keeps a structured dtype)
            if arr.dtype != self.dtype:
                raise TypeError(
                    f"object codec produced items of dtype {arr.dtype}, expected {self.dtype}"
                )
            if arr.shape == tuple(self.chunk_shape):
                # JSON, MsgPack and Pickle give the chunk back in its shape, items in logical
                # order: reshaping in the array's memory order would scramble an F-order chunk
                return arr
        else:
            arr = arr.view(self.dtype)
        arr = arr.reshape(-1, order="A")
        expected = self.chunk_items
        if arr.size != expected:
            raise ValueError(
                f"decoded {arr.size} items, expected {expected} for chunk shape {self.chunk_shape}"
            )
        return arr.reshape(self.chunk_shape, order=self.order)

    def decode_into(self, data: Any, dest: np.ndarray) -> None:
        """Decode straight into ``dest``: contiguous in the array's order, chunk-sized, same dtype.

        Only when :attr:`can_decode_into`. The compressor would fill a larger ``out`` without
        complaint, so a short chunk would leave the rest of ``dest`` uninitialised: the size
        in the chunk's header is checked first (and the frame's own length, see
        :meth:`_checked_size`).
        """
        nbytes = self._checked_size(data)
        flat = dest.reshape(-1, order=self.order)
        if nbytes < 0:  # the frame records no size: decoded whole, then checked
            self._decode_copy(data, _plain_records(flat))
            return
        if nbytes != dest.nbytes:
            raise ValueError(
                f"decoded {nbytes} bytes, expected {dest.nbytes} for chunk shape {self.chunk_shape}"
            )
        self.compressor.decode(data, out=_plain_records(flat))  # type: ignore[union-attr]

    def _decode_copy(self, data: Any, flat: Any) -> None:
        """Decode ``data`` whole and copy it into ``flat`` (a contiguous buffer of the chunk's
        size), checking the size: for frames that record none."""
        got = ensure_ndarray_like(self.compressor.decode(data))  # type: ignore[union-attr]
        out = np.asarray(flat).reshape(-1).view(np.uint8)
        raw = np.asarray(got).reshape(-1).view(np.uint8)
        if raw.nbytes != out.nbytes:
            raise ValueError(
                f"decoded {raw.nbytes} bytes, expected {out.nbytes} for chunk shape "
                f"{self.chunk_shape}"
            )
        out[...] = raw

    def decode_raw(self, data: Any, dest: np.ndarray) -> None:
        """:meth:`decode_into` for a contiguous uint8 ``dest`` of the chunk's size (the
        hot path of reads: one call, the frame checked first)."""
        if self._frame_size(data) != self.chunk_nbytes:  # type: ignore[misc]
            if self._checked_size(data) < 0:  # raises, saying why, or no size recorded
                self._decode_copy(data, dest)
                return
        self._decompress(data, dest)

    def decode_raw_at(self, data: Any, dest: np.ndarray, address: int) -> None:
        """:meth:`decode_raw` for a pool thread: ``address`` is where ``dest`` starts. For
        Blosc frames read from files (bytes) c-blosc's context decoder is called directly
        (see :func:`_blosc_context_decoder`), skipping numcodecs' per-call normalisation."""
        ctx = self._ctx
        if ctx is None or type(data) is not bytes:
            self.decode_raw(data, dest)
            return
        nbytes = self.chunk_nbytes
        if self._frame_size(data) != nbytes:  # type: ignore[misc]
            self._checked_size(data)  # raises, saying why
        got = ctx(data, address, nbytes, 1)
        if got != nbytes:
            raise ValueError(f"Blosc could not decode the chunk (error {got})")

    def decode_raw_part(self, data: Any, start: int, stop: int, dest: np.ndarray) -> bool:
        """Decode bytes ``start:stop`` of the chunk (``stop - start`` at most
        :attr:`partial_limit`) into ``dest`` (a uint8 buffer of the chunk's size, at the same
        offsets) with c-blosc's ``blosc_getitem``, which decodes only the blocks holding them.
        The whole frame's structure is checked first (:func:`blosc_frame_ok`): a frame that
        does not check out raises ``ValueError``, as a block that does not decode. False when the
        frame's item size does not divide the span: nothing was decoded (decode it whole)."""
        if type(data) is not bytes:
            data = bytes(memoryview(data).cast("B"))
        if not blosc_frame_ok(data, self.chunk_nbytes):
            raise ValueError("the Blosc frame's structure (header, block table) does not check out")
        typesize = data[3]
        if start % typesize or stop % typesize:
            return False
        getitem = blosc_getitem()
        want = stop - start
        got = getitem(data, start // typesize, want // typesize, dest.ctypes.data + start)  # type: ignore[misc]
        if got != want:
            raise ValueError(f"Blosc could not decode the region (error {got})")
        return True

    def _checked_size(self, data: Any) -> int:
        """The decoded size a stored frame records, after checking that the frame is whole.

        Blosc trusts the compressed size in its header and reads past the end of a chunk cut
        short (garbage, or a crash); a decoded size other than the chunk's (without filters)
        would be a huge allocation or a short chunk. Both raise ``ValueError`` here.
        """
        nbytes = self._frame_size(data)  # type: ignore[misc]
        if nbytes < 0:
            return nbytes  # no size recorded: the caller decodes whole and checks
        if not self.filters and nbytes != self.chunk_nbytes and not self.is_object:
            raise ValueError(
                f"the chunk's header records {nbytes} decoded bytes, expected "
                f"{self.chunk_nbytes} for chunk shape {self.chunk_shape}"
            )
        return nbytes


_LZ4 = getattr(numcodecs, "LZ4", None)

#: a region spanning at most 1/PARTIAL_DIVISOR of its chunk's bytes is decoded alone (the
#: Blosc blocks that hold it); the compiled loop takes the same decision from
#: :attr:`CodecChain.partial_limit`
PARTIAL_DIVISOR = 2
# c-blosc 1.x's largest buffer (BLOSC_MAX_BUFFERSIZE: INT32_MAX less its 16-byte overhead)
_BLOSC_MAX_NBYTES = 2**31 - 1 - 16
# c-blosc 1.x frames: MAX_SPLITS and MIN_BUFFERSIZE of its split rule, the flag bits
_MAX_SPLITS, _MIN_BUFFERSIZE = 16, 128
_MEMCPYED, _DONT_SPLIT = 0x02, 0x10
_INT32 = struct.Struct("<i")
# up to this many streams a frame's are walked one by one (cheaper than NumPy's calls)
_WALK_ONE_BY_ONE = 512
# numcodecs' compressors, whose frames never exceed the bound of ``_stored_bound``
_BOUNDED: tuple[type, ...] = tuple(
    c
    for c in (
        getattr(numcodecs, n, None) for n in ("Blosc", "LZ4", "Zstd", "Zlib", "GZip", "BZ2", "LZMA")
    )
    if isinstance(c, type)
)


def _stored_bound(compressor: Any, nbytes: int) -> int | None:
    """The most bytes a valid stored chunk of ``nbytes`` decoded bytes takes, or None.

    Uncompressed: exactly ``nbytes``. numcodecs' compressors add at most a small fraction to
    data they cannot shrink (Blosc 16 bytes, LZ4 and Zstd under 1/255, Zlib/GZip/LZMA under
    1/1000 and a header, BZ2 1% and 600 bytes): one generous bound covers them all, so a
    valid chunk never comes near it. Other codecs: no bound is known.
    """
    if compressor is None:
        return nbytes
    if isinstance(compressor, _BOUNDED):
        return nbytes + nbytes // 8 + 1024
    return None


def _blosc_compress(chunk: np.ndarray, args: tuple) -> bytes:
    return numcodecs.blosc.compress(chunk, *args)


_BLOSC_HEADER = struct.Struct("<III")  # nbytes, blocksize, cbytes at offset 4


def byte_length(data: Any) -> int:
    """The size in bytes of a stored value (bytes or any buffer)."""
    return len(data) if type(data) is bytes else memoryview(data).nbytes


def _blosc_size(data: Any) -> int:
    """Blosc frame: 16-byte header (version, versionlz, flags, typesize, nbytes, blocksize,
    cbytes); ``cbytes`` counts the whole frame."""
    n = byte_length(data)
    if n < 16:
        raise ValueError(f"a Blosc chunk of {n} bytes is shorter than the 16-byte Blosc header")
    nbytes, _blocksize, cbytes = _BLOSC_HEADER.unpack_from(data, 4)
    if cbytes > n:
        raise ValueError(
            f"the Blosc chunk is cut short: its header records {cbytes} bytes, {n} are present"
        )
    return int(nbytes)


@functools.cache
def blosc_library() -> Any:
    """The c-blosc that numcodecs ships (its extension module exports the C functions),
    through ctypes with the signatures of ``blosc_compress_ctx``, ``blosc_decompress_ctx`` and
    ``blosc_getitem`` set, or None where it cannot be loaded. Each user checks the functions
    it calls against numcodecs before trusting them."""
    try:
        import ctypes

        lib = ctypes.CDLL(numcodecs.blosc.__file__)
        c_int, c_size, c_ptr = ctypes.c_int, ctypes.c_size_t, ctypes.c_void_p
        lib.blosc_compress_ctx.argtypes = [
            c_int, c_int, c_size, c_size, c_ptr, c_ptr, c_size, ctypes.c_char_p, c_size, c_int,
        ]  # fmt: skip
        lib.blosc_decompress_ctx.argtypes = [ctypes.c_char_p, c_ptr, c_size, c_int]
        lib.blosc_getitem.argtypes = [ctypes.c_char_p, c_int, c_int, c_ptr]
        for fn in (lib.blosc_compress_ctx, lib.blosc_decompress_ctx, lib.blosc_getitem):
            fn.restype = c_int
        return lib
    except Exception:
        return None


def blosc_frame_ok(data: bytes, nbytes: int) -> bool:
    """Whether ``data`` is a structurally whole Blosc (1.x format) frame of ``nbytes``
    decoded bytes: checked before a part of it is decoded, so that a damaged block-start
    table or stream size anywhere is found by any read.

    The rule is ``frame_ok`` of ``_native.c``: both paths call it when the extension is
    built (the loop before it decodes without the GIL, this function for the Python path).
    :func:`frame_ok_python` is the same rule for installs without a C compiler, held to the
    C one by ``tests/pipeline/test_chunk_files.py`` on every frame kind and on damaged
    frames.
    """
    if _native_frame_ok is not None:
        return bool(_native_frame_ok(data, nbytes))
    return frame_ok_python(data, nbytes)


def frame_ok_python(data: bytes, nbytes: int) -> bool:
    """:func:`blosc_frame_ok`'s rule written in Python (used without the extension).

    The 16-byte header: format version 1 or 2, a known compressor code, an item size,
    ``nbytes`` as expected, a block size in ``1..nbytes``, ``cbytes`` at most the bytes
    present (bytes after the frame are ignored, as by a whole decode). A
    memcpyed frame (flag 0x02) holds exactly the data after its header. Otherwise: the
    ``nblocks`` int32 block starts after the header, each within ``[16 + 4 * nblocks,
    cbytes)``; each block's streams (its item size of them when c-blosc's split rule
    applies: split flag 0x10 clear, item size at most 16, at least 128 items a block, not
    the short last block; else one), each an int32 size > 0 and that many bytes, end within
    the frame and before the next block start above the block's own.
    """
    size = len(data)
    if size < 16:
        return False
    version, flags, typesize = data[0], data[2], data[3]
    n, blocksize, cbytes = struct.unpack_from("<iii", data, 4)
    if not 1 <= version <= 2 or typesize == 0 or flags >> 5 > 4:
        return False
    if n != nbytes or n <= 0 or not 0 < blocksize <= n or cbytes > size:
        return False
    if flags & _MEMCPYED:
        return cbytes == n + 16
    nblocks = -(-n // blocksize)
    first = 16 + 4 * nblocks
    if first > cbytes:
        return False
    starts = np.frombuffer(data, dtype="<i4", count=nblocks, offset=16).astype(np.int64)
    if int(starts.min()) < first or int(starts.max()) >= cbytes:
        return False
    # each block ends before the next start above its own (blocks may be in any order)
    above = np.append(np.unique(starts), cbytes)
    limits = above[np.searchsorted(above, starts, side="right")]
    split = (
        not flags & _DONT_SPLIT
        and typesize <= _MAX_SPLITS
        and blocksize // typesize >= _MIN_BUFFERSIZE
    )
    streams = np.full(nblocks, typesize if split else 1, dtype=np.int64)
    if n % blocksize:
        streams[-1] = 1  # the short last block is never split
    if nblocks * int(streams.max()) <= _WALK_ONE_BY_ONE:  # a few streams: one by one
        for o, lim, count in zip(starts.tolist(), limits.tolist(), streams.tolist()):
            for _ in range(count):
                if o + 4 > lim:
                    return False
                (csize,) = _INT32.unpack_from(data, o)
                o += 4 + csize
                if csize <= 0 or o > lim:
                    return False
        return True
    # many: the k-th streams of all blocks at once, through the int32 at every byte offset
    words = np.ndarray((size - 3,), dtype="<i4", buffer=data, strides=(1,))
    offsets = starts
    for k in range(int(streams.max())):
        active = streams > k
        at, lim = offsets[active], limits[active]
        if bool(np.any(at + 4 > lim)):
            return False
        csize = words[at].astype(np.int64)
        if bool(np.any(csize <= 0)):
            return False
        at = at + 4 + csize
        if bool(np.any(at > lim)):
            return False
        offsets = offsets.copy()
        offsets[active] = at
    return True


try:  # the compiled rule of blosc_frame_ok, when the extension is built
    from ._native import frame_ok as _native_frame_ok  # type: ignore[attr-defined,unused-ignore]
except ImportError:
    _native_frame_ok = None


@functools.cache
def blosc_getitem() -> Callable[[bytes, int, int, int], int] | None:
    """c-blosc's ``blosc_getitem(src, start, nitems, dest)`` of :func:`blosc_library`
    (decodes only the blocks holding items ``start:start + nitems``), or None where it is
    not there or does not give numcodecs' own full decode on sample frames. It trusts the
    frame's header and block table: callers check the frame first (:func:`blosc_frame_ok`)."""
    lib = blosc_library()
    if lib is None:
        return None
    try:
        fn = lib.blosc_getitem
        sample = np.arange(50000, dtype="<i4") * 7
        for cname, shuffle, blocksize in ((b"lz4", 1, 0), (b"zstd", 2, 4096), (b"blosclz", 0, 256)):
            frame = numcodecs.blosc.compress(sample, cname, 5, shuffle, blocksize)
            if not blosc_frame_ok(frame, sample.nbytes):
                return None
            whole = np.frombuffer(numcodecs.blosc.decompress(frame), dtype="<i4")
            part = np.zeros(3000, dtype="<i4")
            if fn(frame, 20000, part.size, part.ctypes.data) != part.nbytes:
                return None
            if not (np.array_equal(whole, sample) and np.array_equal(part, whole[20000:23000])):
                return None
        return fn
    except Exception:
        return None


@functools.cache
def _blosc_context_decoder() -> Callable[[bytes, int, int, int], int] | None:
    """``blosc_decompress_ctx(src, dest, destsize, nthreads)`` of :func:`blosc_library`, or
    None where it is not there or does not decode a sample frame as numcodecs does. It keeps
    no global state (no threads, safe after ``fork``), releases the GIL, and costs ~2 us less
    per call than ``numcodecs.blosc.decompress``; the frame is checked before it is called."""
    lib = blosc_library()
    if lib is None:
        return None
    try:
        fn = lib.blosc_decompress_ctx
        sample = np.arange(4096, dtype="<i4") * 3
        frame = numcodecs.blosc.compress(sample, b"lz4", 5, 1, 0)
        dest = np.zeros(sample.nbytes, dtype=np.uint8)
        if fn(frame, dest.ctypes.data, dest.nbytes, 1) != dest.nbytes:
            return None
        if not np.array_equal(dest.view("<i4"), sample):
            return None
        return fn
    except Exception:
        return None


def _lz4_size(data: Any) -> int:
    """numcodecs' LZ4 frame: the decoded size (little-endian uint32), then the LZ4 block
    (whose decoder stops at the bytes present)."""
    n = byte_length(data)
    if n < 4:
        raise ValueError(f"an LZ4 chunk of {n} bytes is shorter than its 4-byte size header")
    return int.from_bytes(bytes(memoryview(data).cast("B")[:4]), "little")


_ZSTD_MAGIC = 0xFD2FB528


def _zstd_size(data: Any) -> int:
    """The content size a Zstd frame's header records, or -1 when the header has none (a
    streamed frame, or a skippable frame first): such chunks are decoded whole and then
    checked. The decoder itself checks the content against the size and refuses a
    truncated frame; a second frame after the first overflows the chunk and raises."""
    view = memoryview(data).cast("B")
    if len(view) < 5:
        raise ValueError(f"a Zstd chunk of {len(view)} bytes is shorter than a frame header")
    if int.from_bytes(view[:4], "little") != _ZSTD_MAGIC:
        return -1  # a skippable frame, or not Zstd at all: the decoder says which
    descriptor = view[4]
    single = (descriptor >> 5) & 1
    at = 5 + (0 if single else 1) + (0, 1, 2, 4)[descriptor & 3]
    width = (1 if single else 0, 2, 4, 8)[descriptor >> 6]
    if width == 0:
        return -1
    if len(view) < at + width:
        raise ValueError(f"a Zstd chunk of {len(view)} bytes ends inside its frame header")
    size = int.from_bytes(view[at : at + width], "little")
    return size + 256 if width == 2 else size


def _frame_size_reader(compressor: Any) -> Callable[[Any], int] | None:
    """How to check a frame of ``compressor`` and read the decoded size it records (-1:
    none recorded in this frame), or None.

    The other numcodecs compressors (Zlib, GZip, BZ2, LZMA) check their frames themselves: a
    truncated one raises in their decoder."""
    if isinstance(compressor, numcodecs.Blosc):
        return _blosc_size
    if _LZ4 is not None and isinstance(compressor, _LZ4):
        return _lz4_size
    if isinstance(compressor, numcodecs.Zstd):
        return _zstd_size
    return None


def _plain_records(data: Any) -> Any:
    """Structured items as unstructured ``V<n>`` of the same size.

    numcodecs >= 0.16 compressors reject structured arrays with datetime fields (the buffer
    protocol cannot express them); the same bytes and item size give the same output.
    """
    if isinstance(data, np.ndarray) and data.dtype.names is not None and not data.dtype.hasobject:
        return data.view(f"V{data.dtype.itemsize}")
    return data


def _object_encode_error(codec: Codec, e: Exception) -> Exception:
    """``e`` of an object codec, re-made with a message that names the codec."""
    msg = f"cannot encode the value with the array's object codec {type(codec).__name__}: {e}"
    try:
        return type(e)(msg)
    except Exception:  # exceptions with other constructors, e.g. UnicodeEncodeError
        return ValueError(msg) if isinstance(e, ValueError) else TypeError(msg)
