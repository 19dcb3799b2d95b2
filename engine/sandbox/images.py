"""Images of a blocked program's guest memory, to resume it in a later advance (engine.snapshots).

At the end of an advance that blocks, nothing runs in the guest (the job queue is drained, no
host call is in flight), so its linear memory and stack pointer are a coherent image of the
program and the step runtime. An image holds the pages that differ from a fresh context's memory
(the prelude image restored: runtime.prelude_image), zlib-compressed by 16 KiB window, with the handle of start.js's
namespace (the runtime's entry points), which lives in the guest's handle table.

Invariants:
- An image is restored only into a fresh context of the same guest build and runtime source
  (`BUILD`, checked by the caller's key) and only for the instance that produced it.
- Memory the guest's allocator holds free is not state: before encoding, the free chunks' bytes
  past their headers and list links are made the fresh context's (neutral()), so the garbage of
  what the program freed (a replay's record, dropped by resume.js's forget) costs nothing. This
  is done only when a walk of the whole heap agrees with the allocator's own bookkeeping (every
  chunk's size and in-use bits, ending exactly at its top chunk); otherwise the memory is kept
  as it is. A restored context's allocator never reads a free chunk's bytes before writing them.
- Decoding checks the whole layout (the header, every block inside the memory size and in order,
  each block's zlib checksum and size): a damaged image raises ImageError before anything is
  written, and the caller replays instead.
"""
from __future__ import annotations

import ctypes
import hashlib
import struct
import zlib

import quickjs_rs

from .runtime import PAGE, PRELUDE, Image, prelude_image, restore, warm_guest
from .runtime import qjs_wasmtime

MAGIC = b"QJI2"
HEADER = struct.Struct("<4sIIII")  # magic, memory size, stack pointer, engine handle, block count
BLOCK = struct.Struct("<III")  # window index, bitmap of its pages that differ, compressed length
WINDOW = 4 * PAGE  # a block covers one 16 KiB window of memory, compressed on its own
MAX_MEMORY = 1 << 31

_base: bytes | None = None
_heap: int | None = None  # where the allocator's state lies (-1: not found, memory kept as is)

# The guest's allocator is wasi-libc's dlmalloc (32-bit): a chunk is a size word (with its
# CINUSE and the previous chunk's PINUSE bit) after the previous chunk's footer; a free chunk's
# next 24 bytes are its list links. Offsets of the fields of its state (malloc_state) read here.
U32 = struct.Struct("<I")
PINUSE, CINUSE = 1, 2
TOP_SIZE, TOP, MAGIC_WORD, SEG_BASE, SEG_SIZE = 12, 24, 36, 448, 452
TOP_FOOT = 56  # the bytes the allocator keeps after its top chunk
KEPT = 32  # a free chunk's footer, size and links (fd, bk, and a tree chunk's child, parent, index)


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


def heap_state(memory: bytes) -> int:
    """The offset of the allocator's state in a fresh context's memory, or -1: the one place
    whose fields describe that memory's heap (segment to the end, top chunk's size and bits)."""
    words = memoryview(memory).cast("I")
    size = len(memory)
    found = []
    for at in range(0, min(size, 1 << 24) - SEG_SIZE - 4, 4):
        top, top_size = words[(at + TOP) >> 2], words[(at + TOP_SIZE) >> 2]
        if not (0 < top < size - 8 and top_size and top + top_size + TOP_FOOT == size and top % 8 == 0):
            continue
        base_, length = words[(at + SEG_BASE) >> 2], words[(at + SEG_SIZE) >> 2]
        magic = words[(at + MAGIC_WORD) >> 2]  # dlmalloc sets bit 3 and clears bits 0-2
        if base_ + length == size and base_ <= top and words[(top + 4) >> 2] & ~7 == top_size and magic & 15 == 8:
            found.append(at)
    return found[0] if len(found) == 1 else -1


def neutral(memory: bytearray, fresh: bytes, state: int) -> bool:
    """Make the free chunks' bytes (past what the allocator keeps in them) the fresh memory's;
    False, with nothing changed, when the heap does not walk as the allocator's state says."""
    size = len(memory)
    if state < 0 or state + SEG_SIZE + 4 > size:
        return False
    u32 = U32.unpack_from
    top, top_size = u32(memory, state + TOP)[0], u32(memory, state + TOP_SIZE)[0]
    seg, length = u32(memory, state + SEG_BASE)[0], u32(memory, state + SEG_SIZE)[0]
    if seg + length != size or top + top_size + TOP_FOOT != size or not seg <= top < size - 8:
        return False
    chunk = seg + (-(seg + 8)) % 16  # the first chunk's payload is 16-aligned
    areas = []
    while chunk < top:
        head = u32(memory, chunk + 4)[0]
        step = head & ~7
        following = chunk + step
        if step < 16 or following > top or bool(u32(memory, following + 4)[0] & PINUSE) != bool(head & CINUSE):
            return False
        if not head & CINUSE and step > KEPT:
            areas.append((chunk + KEPT, following))
        chunk = following
    if chunk != top or u32(memory, top + 4)[0] & ~7 != top_size:
        return False
    areas.append((top + KEPT, top + top_size))
    for start, end in areas:
        same = fresh[start:end]
        memory[start:end] = same + bytes(end - start - len(same))
    return True


def memory_of(inst: object) -> bytes:
    size = inst.mem.data_len(inst.store)
    return ctypes.string_at(ctypes.addressof(inst.mem.data_ptr(inst.store).contents), size)


# A decoded image's blocks by window: (bitmap, raw pages, compressed bytes). Encoding the next
# image reuses the compressed bytes of every window whose pages did not change since (most of a
# long-running program's heap), so an image costs the pages one advance touched, not the heap.
Blocks = dict[int, tuple[int, bytes, bytes]]


def encode(inst: object, engine_handle: int, previous: Blocks | None = None) -> bytes:
    """The image of a quiescent guest: its pages that differ from a fresh context's."""
    global _heap
    fresh = base()
    if _heap is None:
        _heap = heap_state(fresh)
    memory = bytearray(memory_of(inst))
    neutral(memory, fresh, _heap)
    size = len(memory)
    blocks: list[bytes] = []
    data: list[bytes] = []
    for window in range(0, (size + WINDOW - 1) // WINDOW):
        at = window * WINDOW
        mem = memory[at:at + WINDOW]
        old = fresh[at:at + WINDOW]
        if mem == old or (not old and not mem.strip(b"\0")):
            continue
        bitmap = 0
        pages = []
        for i in range(0, len(mem), PAGE):
            page = mem[i:i + PAGE]
            if page != old[i:i + PAGE] and (i < len(old) or page.strip(b"\0")):
                bitmap |= 1 << (i // PAGE)
                pages.append(page)
        if not bitmap:
            continue
        raw = b"".join(pages)
        prior = previous.get(window) if previous else None
        packed = prior[2] if prior is not None and prior[0] == bitmap and prior[1] == raw else zlib.compress(raw, 1)
        blocks.append(BLOCK.pack(window, bitmap, len(packed)))
        data.append(packed)
    header = HEADER.pack(MAGIC, size, inst.sp.value(inst.store), engine_handle, len(blocks))
    return header + b"".join(blocks) + b"".join(data)


def decode(data: bytes) -> tuple[Image, int, Blocks]:
    """The image to restore, the engine handle and the blocks (for the next encode), or ImageError."""
    if len(data) < HEADER.size:
        raise ImageError("truncated header")
    magic, size, sp, handle, count = HEADER.unpack_from(data)
    if magic != MAGIC or size % 65536 or not 0 < size <= MAX_MEMORY or not 0 < sp <= size:
        raise ImageError("not an image of this layout")
    at = HEADER.size + BLOCK.size * count
    if at > len(data):
        raise ImageError("truncated block table")
    runs: list[tuple[int, list[bytes]]] = []  # adjacent pages, joined once at the end
    blocks: Blocks = {}
    last = -1
    for n in range(count):
        window, bitmap, length = BLOCK.unpack_from(data, HEADER.size + BLOCK.size * n)
        if window <= last or window * WINDOW >= size or not 0 < bitmap < 1 << (WINDOW // PAGE) or at + length > len(data):
            raise ImageError("a block outside the memory or out of order")
        packed = data[at:at + length]
        try:
            raw = zlib.decompress(packed)
        except zlib.error as e:
            raise ImageError(f"a damaged block: {e}") from None
        pages = [i for i in range(WINDOW // PAGE) if bitmap >> i & 1]
        if len(raw) != len(pages) * PAGE or window * WINDOW + (pages[-1] + 1) * PAGE > size:
            raise ImageError("a block of the wrong size")
        for k, i in enumerate(pages):
            offset, page = window * WINDOW + i * PAGE, raw[k * PAGE:(k + 1) * PAGE]
            if runs and runs[-1][0] + PAGE * len(runs[-1][1]) == offset:
                runs[-1][1].append(page)
            else:
                runs.append((offset, [page]))
        blocks[window] = (bitmap, raw, packed)
        at += length
        last = window
    if at != len(data):
        raise ImageError("trailing bytes")
    chunks = tuple((offset, b"".join(pages)) for offset, pages in runs)
    return Image(size=size, chunks=chunks, stack_pointer=sp), handle, blocks
