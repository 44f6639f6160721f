"""One TBasket's bytes: its header checked against the branch's basket table, then its values.

A basket is a TKey header (fNbytes, fObjlen, fKeylen...), the TBasket fields
(fNevBuf entries, fLast = end of the data), the payload (compressed or not)
and, for branches whose entries differ in size, an entry-offsets area after
fLast: ``[fNevBuf + 1, offset of each entry (counted from the key start), 0]``.
A basket embedded in the TTree key (the last one of each branch when ROOT
wrote the tree without flushing it, as CMSSW's NanoAOD does) holds instead
``[fNevBuf, offsets]`` before a second copy of the key and the data, uncompressed.

Every field is checked against what the basket table and the other fields say
(sizes, entry count, offsets starting at zero, never decreasing, inside the
data, ending at its length): ROOT and uproot trust some of them, and a damaged
one then turns into different numbers or an out-of-bounds read. Any mismatch
raises `Damaged` with what is wrong in plain words.

`Decoder` turns a basket's data bytes into values: a numpy dtype, optionally
converted (``>f4->f8`` for a float stored for a double) or truncated (ROOT's
``Double32_t``/``Float16_t`` with a range and bit count), with fixed
dimensions (``[3]``); the same arithmetic as uproot's interpretations, so the
values agree bit for bit.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from functools import cache

import numpy as np

from hepflow.io.compression import Damaged, decompress

_KEY = struct.Struct(">ihiIhh")  # fNbytes, key version, fObjlen, fDatime, fKeylen, fCycle
_BASKET = struct.Struct(">Hiiii")  # fVersion, fBufferSize, fNevBufSize, fNevBuf, fLast
_MIN_KEYLEN = _KEY.size + _BASKET.size + 1
_EMBEDDED_OFFSETS, _EMBEDDED_PLAIN = 11, 12  # ROOT's TBasket::Streamer flags
VECTOR_HEADER = 10  # per-entry bytes of a std::vector in a split branch: byte count, version, size
_SPEC = re.compile(r"^(?:(?P<trunc>d32|f16)\((?P<args>[^)]*)\)|(?P<from>[<>|=][a-z]\d+))"
                   r"(?:->(?P<to>[<>|=][a-z]\d+))?(?P<dims>(?:\[\d+\])*)$")


@dataclass(frozen=True, slots=True)
class Decoder:
    """How the bytes of one entry element become values (see the module docstring)."""

    stored: str  # numpy dtype on disk, or "d32"/"f16" for truncated floats
    to: str  # native numpy dtype of the values
    dims: tuple[int, ...] = ()
    low: float = 0.0
    high: float = 0.0
    bits: int = 0

    @property
    def itemsize(self) -> int:
        """Bytes on disk of one element (all its fixed dimensions)."""
        if self.stored in ("d32", "f16"):
            base = 3 if self.low == self.high == 0.0 else 4
        else:
            base = np.dtype(self.stored).itemsize
        return base * int(np.prod(self.dims, dtype=np.int64))

    def decode(self, data: np.ndarray) -> np.ndarray:
        """Values of `data` (uint8, a whole number of elements), shaped (-1, *dims)."""
        if self.stored not in ("d32", "f16"):
            return data.view(self.stored).astype(self.to).reshape((-1, *self.dims))
        if self.low == self.high == 0.0:  # truncated mantissa: uproot's TruncatedNumerical
            raw = data.view(np.dtype(({"exponent": (">u1", 0), "mantissa": (">u2", 1)}, ())))
            exponent = raw["exponent"].astype(np.int32)
            mantissa = raw["mantissa"].astype(np.int32)
            exponent <<= 23
            exponent |= (mantissa & ((1 << (self.bits + 1)) - 1)) << (23 - self.bits)
            sign = ((1 << (self.bits + 1)) & mantissa != 0) * -2 + 1
            truncated = exponent.view(np.float32) * sign
            shaped: np.ndarray = truncated.astype(self.to).reshape((-1, *self.dims))
            return shaped
        out = data.view(">u4").astype(self.to).reshape((-1, *self.dims))
        np.multiply(out, float(self.high - self.low) / (1 << self.bits), out=out)
        np.add(out, self.low, out=out)
        return out


@cache
def decoder(spec: str) -> Decoder:
    """The `Decoder` a layout's dtype text names, e.g. ``>f4``, ``>f4->f8[3]``, ``d32(0,1,12)``."""
    found = _SPEC.match(spec)
    if found is None:
        raise ValueError(f"not a basket value type: {spec!r}")
    dims = tuple(int(d) for d in re.findall(r"\d+", found["dims"]))
    if found["trunc"]:
        low, high, bits = found["args"].split(",")
        to = found["to"] or ("<f8" if found["trunc"] == "d32" else "<f4")
        return Decoder(found["trunc"], np.dtype(to).str, dims, float(low), float(high),
                       int(bits))
    stored = np.dtype(found["from"]).str
    to = np.dtype(found["to"]).str if found["to"] else np.dtype(stored).newbyteorder("=").str
    return Decoder(stored, to, dims)


def spec_of(stored: str, to: str | None = None, dims: tuple[int, ...] = ()) -> str:
    """The dtype text `decoder` reads back, for a plain (possibly converted) numpy type."""
    native = np.dtype(stored).newbyteorder("=").str
    text = np.dtype(stored).str
    if to is not None and np.dtype(to).newbyteorder("=").str != native:
        text += "->" + np.dtype(to).newbyteorder("=").str
    return text + "".join(f"[{d}]" for d in dims)


def truncated_spec(kind: str, low: float, high: float, bits: int,
                   dims: tuple[int, ...] = ()) -> str:
    """The dtype text of a ``Double32_t`` (kind ``d32``) or ``Float16_t`` (``f16``)."""
    return f"{kind}({low!r},{high!r},{bits})" + "".join(f"[{d}]" for d in dims)


def basket_contents(buf: np.ndarray, nbytes: int, entries: int, embedded: bool,
                    ) -> tuple[np.ndarray, np.ndarray | None]:
    """(data bytes, entry byte offsets or None) of one basket, every header field checked.

    `nbytes` and `entries` are what the branch's basket table says this basket
    holds; `buf` is the basket's bytes from its key on (for an embedded basket,
    up to the end of its object in the TTree payload).
    """
    if len(buf) < nbytes:
        raise Damaged(f"the file ends inside the basket: {len(buf)} of its {nbytes} bytes "
                      f"are there")
    if len(buf) > nbytes:
        raise Damaged(f"{len(buf)} bytes were read for a {nbytes}-byte basket")
    if len(buf) < _MIN_KEYLEN:
        raise Damaged(f"the basket is {len(buf)} bytes long, shorter than its header")
    raw = buf.tobytes() if len(buf) < 4096 else buf.data
    fnbytes, _, objlen, _, keylen, _ = _KEY.unpack_from(raw, 0)
    if not _MIN_KEYLEN <= keylen <= len(buf):
        raise Damaged(f"its header length (fKeylen) is {keylen} for a {len(buf)}-byte basket")
    _, _, _, nevbuf, last = _BASKET.unpack_from(raw, keylen - _BASKET.size - 1)
    if nevbuf != entries:
        raise Damaged(f"the basket holds {nevbuf} entries where the branch's basket table "
                      f"says {entries}")
    border = last - keylen
    if embedded:
        return _embedded(buf, fnbytes, keylen, nevbuf, border)
    if fnbytes != nbytes:
        raise Damaged(f"its key says {fnbytes} bytes (fNbytes) where the branch's basket "
                      f"table says {nbytes}")
    if objlen < 0 or not 0 <= border <= objlen:
        raise Damaged(f"its data end (fLast - fKeylen = {border}) lies outside its "
                      f"{objlen} uncompressed bytes (fObjlen)")
    packed = fnbytes - keylen
    if packed == objlen:
        payload = buf[keylen:keylen + objlen]
    else:
        payload = decompress(buf.data[keylen:], objlen)
    if border == objlen:
        return payload, None
    area = payload[border:]
    if len(area) != 4 * (nevbuf + 2):
        raise Damaged(f"its entry-offsets area is {len(area)} bytes where {nevbuf} entries "
                      f"need {4 * (nevbuf + 2)} (the data end fLast is off)")
    table = area.view(">i4")
    if int(table[0]) != nevbuf + 1:
        raise Damaged(f"its entry-offsets area declares {int(table[0])} offsets for "
                      f"{nevbuf} entries")
    offsets = np.empty(nevbuf + 1, dtype=np.int64)
    offsets[:-1] = table[1:nevbuf + 1]
    offsets[:-1] -= keylen
    offsets[-1] = border
    _check_offsets(offsets)
    return payload[:border], offsets


def _embedded(buf: np.ndarray, fnbytes: int, keylen: int, nevbuf: int, border: int,
              ) -> tuple[np.ndarray, np.ndarray | None]:
    """An embedded basket: ``[flag][fNevBuf, offsets][key again][data]``, never compressed."""
    if fnbytes > keylen:
        raise Damaged(f"a basket held in the TTree has fNbytes {fnbytes}, larger than its "
                      f"header: it should have been written on its own")
    flag = int(buf[keylen - 1])
    offsets = None
    at = keylen
    if flag == _EMBEDDED_OFFSETS:
        table = buf[at:at + 4 * (nevbuf + 1)]
        if len(table) != 4 * (nevbuf + 1) or int(table[:4].view(">i4")[0]) != nevbuf:
            raise Damaged(f"the entry offsets of a basket held in the TTree do not list "
                          f"its {nevbuf} entries")
        offsets = np.empty(nevbuf + 1, dtype=np.int64)
        offsets[:-1] = table[4:].view(">i4")
        offsets[:-1] -= keylen
        offsets[-1] = border
        at += 4 * (nevbuf + 1)
    elif flag != _EMBEDDED_PLAIN:
        raise Damaged(f"a basket held in the TTree has the unknown layout flag {flag}")
    at += keylen
    if border < 0 or at + border != len(buf):
        raise Damaged(f"the data of a basket held in the TTree ({border} bytes from fLast) "
                      f"does not fill its {len(buf) - at} bytes")
    if offsets is not None:
        _check_offsets(offsets)
    return buf[at:], offsets


def _check_offsets(offsets: np.ndarray) -> None:
    if offsets[0] != 0:
        raise Damaged(f"its first entry starts at byte {int(offsets[0])} of the data, not 0")
    steps = np.diff(offsets)
    if len(steps) and steps.min() < 0:
        bad = int(np.flatnonzero(steps < 0)[0])
        raise Damaged(f"its entry offsets go backwards at entry {bad} of the basket "
                      f"({int(offsets[bad])} then {int(offsets[bad + 1])}): they point "
                      f"outside the data")


__all__ = ["VECTOR_HEADER", "Damaged", "Decoder", "basket_contents", "decoder", "spec_of",
           "truncated_spec"]
