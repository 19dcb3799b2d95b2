"""Images of a blocked program's guest memory, to resume it in a later advance (engine.snapshots).

At the end of an advance that blocks, nothing runs in the guest (the job queue is drained, no
host call is in flight), so its linear memory and stack pointer are a coherent image of the
program and the step runtime. An image holds the pages that differ from a fresh context's memory
(the prelude image restored: runtime.prelude_image), zlib-compressed, with the handle of start.js's
namespace (the runtime's entry points), which lives in the guest's handle table.

Invariants:
- An image is restored only into a fresh context of the same guest build and runtime source
  (`BUILD`, checked by the caller's key) and only for the instance that produced it.
- Decoding checks the whole layout (zlib's checksum, the header, every chunk inside the memory
  size, page-aligned): a damaged image raises ImageError before anything is written, and the
  caller replays instead.
"""
from __future__ import annotations

import ctypes
import hashlib
import struct
import zlib

import quickjs_rs

from .runtime import PAGE, PRELUDE, Image, prelude_image, restore, warm_guest
from .runtime import qjs_wasmtime

MAGIC = b"QJI1"
HEADER = struct.Struct("<4sIIII")  # magic, memory size, stack pointer, engine handle, chunk count
CHUNK = struct.Struct("<II")  # offset, length
MAX_MEMORY = 1 << 31

_base: bytes | None = None


class ImageError(Exception):
    """The stored image cannot be restored (damaged or of another layout)."""


def build() -> str:
    """What an image depends on besides the instance: the guest wasm and the runtime's source."""
    warm_guest()
    artifact = qjs_wasmtime._SHARED_ARTIFACTS["quickjs"]
    return hashlib.sha256(artifact.build_id + MAGIC + PRELUDE.encode()).hexdigest()


def base() -> bytes:
    """A fresh context's memory (the pristine guest with the prelude image restored)."""
    global _base
    if _base is None:
        image = prelude_image()
        with quickjs_rs.Runtime() as runtime:
            ctx = runtime.new_context()
            inst = ctx._engine_ctx._inst
            restore(inst, image)
            _base = memory_of(inst)
    return _base


def memory_of(inst: object) -> bytes:
    size = inst.mem.data_len(inst.store)
    return ctypes.string_at(ctypes.addressof(inst.mem.data_ptr(inst.store).contents), size)


def encode(inst: object, engine_handle: int) -> bytes:
    """The image of a quiescent guest: its pages that differ from a fresh context's."""
    memory = memory_of(inst)
    fresh = base()
    zero = bytes(PAGE)
    chunks: list[tuple[int, int]] = []
    parts: list[bytes] = []
    for offset in range(0, len(memory), PAGE):
        page = memory[offset:offset + PAGE]
        if page == (fresh[offset:offset + PAGE] if offset < len(fresh) else zero):
            continue
        if chunks and chunks[-1][0] + chunks[-1][1] == offset:
            chunks[-1] = (chunks[-1][0], chunks[-1][1] + PAGE)
        else:
            chunks.append((offset, PAGE))
        parts.append(page)
    header = HEADER.pack(MAGIC, len(memory), inst.sp.value(inst.store), engine_handle, len(chunks))
    table = b"".join(CHUNK.pack(o, n) for o, n in chunks)
    return zlib.compress(header + table + b"".join(parts), 1)  # 6 saves ~10% for 3x the time


def decode(data: bytes) -> tuple[Image, int]:
    """The image to restore and the engine handle, or ImageError."""
    try:
        raw = zlib.decompress(data)
    except (zlib.error, TypeError, ValueError) as e:
        raise ImageError(f"not a zlib stream: {e}") from None
    if len(raw) < HEADER.size:
        raise ImageError("truncated header")
    magic, size, sp, handle, count = HEADER.unpack_from(raw)
    if magic != MAGIC or size % 65536 or not 0 < size <= MAX_MEMORY:
        raise ImageError("not an image of this layout")
    at = HEADER.size + CHUNK.size * count
    if at > len(raw):
        raise ImageError("truncated chunk table")
    chunks = []
    end = 0
    for i in range(count):
        offset, length = CHUNK.unpack_from(raw, HEADER.size + CHUNK.size * i)
        if offset % PAGE or length % PAGE or offset < end or offset + length > size or at + length > len(raw):
            raise ImageError("a chunk outside the memory or out of order")
        chunks.append((offset, raw[at:at + length]))
        at += length
        end = offset + length
    if at != len(raw) or not 0 < sp <= size:
        raise ImageError("trailing bytes or a stack pointer outside the memory")
    return Image(size=size, chunks=tuple(chunks), stack_pointer=sp), handle
