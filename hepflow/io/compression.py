"""ROOT's compressed-block framing, undone with every size checked.

A compressed ROOT object is a sequence of blocks, each with a 9-byte header:
two letters naming the algorithm (``ZL`` zlib, ``XZ`` LZMA, ``L4`` LZ4, ``ZS``
Zstandard), a method byte, then the block's compressed and uncompressed sizes
as 3-byte little-endian integers; an LZ4 block starts with an 8-byte xxHash64
of its compressed bytes. The blocks must exactly fill the compressed size the
key declares and decompress to exactly the uncompressed size it declares:
anything else is a damaged file, reported as `Damaged` rather than read as
shorter, longer or shifted data.
"""

from __future__ import annotations

import lzma
import zlib
from collections.abc import Callable

import cramjam
import deflate
import numpy as np
import xxhash

_HEADER = 9
_LZ4_CHECKSUM = 8


class Damaged(ValueError):
    """Bytes of a basket that cannot be what the file says they are."""


def _zlib(data: memoryview, into: memoryview) -> int:
    """libdeflate (the `deflate` package), twice as fast as zlib's inflate: ROOT writes
    zlib by default, and inflating was half of a chunk's time on such files. libdeflate
    needs the exact size, which the block header gives; a block that does not inflate to
    it falls back to zlib, whose answer the caller checks."""
    try:
        return _copy(deflate.zlib_decompress(data, len(into)), into)
    except deflate.DeflateError:
        return _copy(zlib.decompress(data, bufsize=len(into)), into)


def _lzma(data: memoryview, into: memoryview) -> int:
    return _copy(lzma.decompress(data), into)


def _lz4(data: memoryview, into: memoryview) -> int:
    return int(cramjam.lz4.decompress_block_into(data, into, output_len=len(into)))


def _zstd(data: memoryview, into: memoryview) -> int:
    return int(cramjam.zstd.decompress_into(data, into))


def _copy(plain: bytes | bytearray, into: memoryview) -> int:
    """Copy what fits; the caller compares the returned full length with the header's."""
    fits = min(len(plain), len(into))
    into[:fits] = plain[:fits]
    return len(plain)


#: LZ4 and Zstandard decompress straight into the basket's buffer (no intermediate
#: bytes: a fifth of a Zstandard read); a block that would overflow it is an error.
_ALGORITHMS: dict[bytes, tuple[str, Callable[[memoryview, memoryview], int]]] = {
    b"ZL": ("zlib", _zlib), b"XZ": ("LZMA", _lzma), b"L4": ("LZ4", _lz4),
    b"ZS": ("ZSTD", _zstd),
}


def decompress(data: bytes | memoryview, uncompressed: int) -> np.ndarray:
    """The `uncompressed` bytes that ROOT's compressed blocks in `data` hold, as uint8."""
    view = memoryview(data)
    out = np.empty(uncompressed, dtype=np.uint8)
    into = out.data  # a writable memoryview of the buffer
    pos = filled = 0
    while pos < len(view):
        if len(view) - pos < _HEADER:
            raise Damaged(f"{len(view) - pos} stray bytes after the last compressed block")
        head = bytes(view[pos:pos + _HEADER])
        found = _ALGORITHMS.get(head[:2])
        if found is None:
            raise Damaged(f"a compressed block starts with {head[:2]!r}, which names no "
                          f"compression algorithm ROOT writes")
        name, unpack = found
        packed = head[3] | head[4] << 8 | head[5] << 16
        size = head[6] | head[7] << 8 | head[8] << 16
        body = pos + _HEADER
        if body + packed > len(view):
            raise Damaged(f"a {name} block claims {packed} compressed bytes but only "
                          f"{len(view) - body} remain in the basket")
        if filled + size > uncompressed:
            raise Damaged(f"the compressed blocks hold more than the {uncompressed} bytes "
                          f"the basket header declares")
        block = view[body:body + packed]
        if name == "LZ4":
            if packed < _LZ4_CHECKSUM:
                raise Damaged("an LZ4 block too short to hold its checksum")
            expected = int.from_bytes(block[:_LZ4_CHECKSUM], "big")
            block = block[_LZ4_CHECKSUM:]
            if xxhash.xxh64(block).intdigest() != expected:
                raise Damaged("an LZ4 block does not match its checksum")
        try:
            written = unpack(block, into[filled:filled + size])
        except Exception as exc:
            raise Damaged(f"a {name} block does not decompress into the {size} bytes its "
                          f"header says ({type(exc).__name__}: {exc})") from exc
        if written != size:
            raise Damaged(f"a {name} block decompressed to {written} bytes, its header "
                          f"says {size}")
        filled += size
        pos = body + packed
    if filled != uncompressed:
        raise Damaged(f"the compressed blocks hold {filled} bytes, the basket header "
                      f"declares {uncompressed}")
    return out


__all__ = ["Damaged", "decompress"]
