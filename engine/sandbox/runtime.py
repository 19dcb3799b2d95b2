"""The sandbox: tenant programs run in QuickJS compiled to WebAssembly, under wasmtime.

Invariants:
- Every advance gets a fresh context (its own wasmtime Store and guest instance): nothing of one
  instance or tenant is visible to another, and a context that hit a limit is thrown away.
- The program reaches the host only through one function taking and returning JSON strings (the
  prelude's `flush`); it has no network, files, environment or real clock. What it sends is
  hostile input: the caller validates it (engine.sandbox.protocol); this module only carries text.
- The runtime's entry points (start, interrupted, settle, rollback, resume, forget, finish) are a handle held
  here, never a global of the realm the program shares.
- A context restored from an image of a blocked program (engine.sandbox.images) is a fresh context
  of this process into which only that instance's own earlier state is written (the caller keys it).
- A limit hit (time, memory, stack) surfaces as SandboxLimit, never as a crash of the worker.

Built on quickjs-rs 0.2.6 (pinned): it applies no wasmtime store limits itself, so this module
sets them, and it reaches two private handles (the shared compiled-module cache, and the context's
job queue) documented in this file where they are used.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import secrets
import importlib.metadata
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import quickjs_rs
import wasmtime
from django.conf import settings
from quickjs_rs import _engine as qjs_engine
from quickjs_rs import _wasmtime as qjs_wasmtime

log = logging.getLogger(__name__)



def _source(name: str) -> str:
    return Path(__file__).with_name(name).read_text()


def _boot() -> str:
    text = _source("prelude.js")
    for part in BOOT_PARTS:
        marker = f"    /* {part} */\n"
        assert marker in text, f"prelude.js has no place for {part}"
        text = text.replace(marker, _source(part))
    return text


# The step runtime: primordials.js, config.js and prelude.js evaluated in one closure, so that
# nothing of them is a global (prelude.js defines only __boot, which deletes itself). The parts of
# __boot's body that live in files of their own are spliced in where prelude.js marks them (they
# use the boot's scope: the instance's records, the command buffer, the clock).
BOOT_PARTS = ("determinism.js", "results.js", "order.js", "failures.js", "rollback.js", "sleeps.js", "logs.js", "resume.js")
PRELUDE = ('(function () {\n"use strict";\n' + _source("primordials.js") + _source("config.js") + _boot() + "})();\n")
# `import { NonRetryableError } from "cloudflare:workflows"` works as on Cloudflare.
COMPAT_MODULES = {
    "cloudflare:workflows": "export const NonRetryableError = globalThis.NonRetryableError;",
    "workflows": "export const NonRetryableError = globalThis.NonRetryableError;",
}
# The module that boots the runtime and exports its entry points: named by a per-process secret,
# so a program cannot import it. start.js imports it before the program (so the runtime boots
# before any tenant code is evaluated) and re-exports `interrupted`, `settle` and `finish`: the host calls
# them on start.js's namespace, a handle it alone holds. (A program that throws at its top level
# never reaches start(): finish() then reports it.)
ENGINE_MODULE = f"engine:{secrets.token_hex(16)}"
START_JS = (f'import {{ start }} from "{ENGINE_MODULE}"; import * as program from "program"; '
            f'export {{ interrupted, settle, rollback, resume, forget, finish }} from "{ENGINE_MODULE}"; start(program.default);')
_guest_lock = threading.Lock()


def warm_guest() -> None:
    """Load the compiled guest module from the disk cache, compiling and saving it if absent.

    Compiling the 742 KB guest takes about 0.5 s; loading the serialized module takes under 1 ms.
    quickjs-rs keeps its compiled module in a process-wide dict keyed "quickjs"; filling that slot
    before the first context is created is what makes it use ours.
    """
    with _guest_lock:
        if "quickjs" in qjs_wasmtime._SHARED_ARTIFACTS:
            return
        wasm = qjs_engine._read_guest_wasm()
        digest = hashlib.sha256(wasm).hexdigest()[:16]
        engine = qjs_wasmtime.shared_wasmtime_engine()
        cache_dir = Path(settings.ENGINE_CACHE_DIR)
        path = cache_dir / f"quickjs-{quickjs_rs.__version__}-wasmtime-{importlib.metadata.version('wasmtime')}-{digest}.cwasm"
        module = None
        if path.exists():
            try:
                module = wasmtime.Module.deserialize_file(engine, str(path))
            except Exception:  # a stale or torn cache file: compile again
                log.warning("sandbox: ignoring unreadable module cache %s", path)
        if module is None:
            module = wasmtime.Module(engine, wasm)
            cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")  # forked workers share thread ids
            tmp.write_bytes(module.serialize())
            tmp.replace(path)  # atomic: another process never reads half a file
        qjs_wasmtime._SHARED_ARTIFACTS["quickjs"] = qjs_wasmtime.SharedWasmArtifact(
            module=module,
            linker=qjs_engine._build_shared_linker(engine),
            build_id=hashlib.sha256(wasm).digest(),
        )


class ProgramLoadError(Exception):
    """The program does not load (syntax error, missing import): nothing of it ran."""


class SandboxLimit(Exception):
    """A program hit a limit; `name` is the error name recorded on the failed attempts."""

    def __init__(self, name: str, message: str):
        super().__init__(message)
        self.name = name
        self.message = message


@dataclass
class Limits:
    time_seconds: float
    memory_bytes: int
    stack_bytes: int = 512 * 1024
    log_bytes: int = 256 * 1024

    @classmethod
    def from_plan(cls, plan) -> "Limits":
        """From a tenants.limits.TenantLimits."""
        return cls(time_seconds=plan.advance_time_seconds, memory_bytes=plan.sandbox_memory_mb << 20,
                   stack_bytes=plan.stack_kb << 10, log_bytes=plan.log_bytes_per_advance)


def default_limits() -> Limits:
    d = settings.TENANT_DEFAULT_LIMITS
    return Limits(time_seconds=d["advance_time_seconds"], memory_bytes=d["sandbox_memory_mb"] << 20,
                  stack_bytes=d["stack_kb"] << 10, log_bytes=d["log_bytes_per_advance"])


@dataclass(frozen=True)
class Image:
    size: int  # bytes of linear memory
    chunks: tuple[tuple[int, bytes], ...]  # (offset, bytes) that differ from a fresh instance's memory
    stack_pointer: int


_image: Image | None = None
PAGE = 4096
# The guest's memory grown to this share of the JS heap limit means the heap was exhausted: a
# program that reaches it is stopped with MemoryLimitError (checked in the interrupt handler).
EXHAUSTED_FRACTION = 0.9


def _memory(ctx: quickjs_rs.Context) -> bytes:
    inst = ctx._engine_ctx._inst
    return bytes(inst.mem.read(inst.store, 0, inst.mem.data_len(inst.store)))


def prelude_image() -> Image:
    """The guest's memory with the prelude compiled, as the pages that differ from a fresh context.

    Restoring it into a new context saves ~2 ms of parsing per advance, and writing only the
    changed pages (about 60 of 350) keeps a context's resident memory and the copy small. Only our
    prelude ever ran in it, so restoring it shares no tenant state. (quickjs-rs has a Snapshot API
    doing a whole-memory version of this, copied twice through Python.)
    """
    global _image
    if _image is None:
        warm_guest()
        with quickjs_rs.Runtime() as pristine_rt:
            pristine = _memory(pristine_rt.new_context())
        with quickjs_rs.Runtime() as runtime:
            ctx = runtime.new_context()
            ctx.register("__host", lambda text: text)  # host functions are routed by name
            ctx.eval(PRELUDE + "\nundefined;", filename="prelude.js")
            memory = _memory(ctx)
            stack_pointer = ctx._engine_ctx._inst.sp.value(ctx._engine_ctx._inst.store)
        chunks: list[tuple[int, bytes]] = []
        for offset in range(0, len(memory), PAGE):
            page = memory[offset:offset + PAGE]
            if page != pristine[offset:offset + PAGE] and (offset < len(pristine) or any(page)):
                if chunks and chunks[-1][0] + len(chunks[-1][1]) == offset:
                    chunks[-1] = (chunks[-1][0], chunks[-1][1] + page)  # merge adjacent pages
                else:
                    chunks.append((offset, page))
        _image = Image(size=len(memory), chunks=tuple(chunks), stack_pointer=stack_pointer)
    return _image


def restore(inst: object, image: Image) -> None:
    """Write the image into a fresh instance (which holds the pristine memory everywhere else)."""
    current = inst.mem.data_len(inst.store)
    if image.size > current:
        inst.mem.grow(inst.store, (image.size - current + 65535) // 65536)
    base = ctypes.addressof(inst.mem.data_ptr(inst.store).contents)
    for offset, data in image.chunks:
        ctypes.memmove(base + offset, data, len(data))
    inst.sp.set_value(inst.store, image.stack_pointer)


class ContextPool:
    """Fresh contexts made ahead of need, in a worker's idle time.

    A pooled context has the prelude image restored and has run no tenant code: taking one is
    exactly like creating one, minus ~1.3 ms. Contexts are never reused after a program ran in
    them (that would leak state between instances and break deterministic replay), which is why
    this is a pool of fresh contexts and not a cache of used ones. Bounded by `size`; each idle
    context costs ~1.4 MB resident. Workers refill it after every advance (embedded: engine.worker;
    Celery: after every task, engine.tasks) and when idle, so a worker that never idles still
    takes a prepared context for each instance.
    """

    def __init__(self, size: int):
        self.size = size
        self.items: deque[tuple[quickjs_rs.Runtime, quickjs_rs.Context]] = deque()
        self.hits = self.misses = 0

    def make(self) -> tuple[quickjs_rs.Runtime, quickjs_rs.Context]:
        image = prelude_image()
        runtime = quickjs_rs.Runtime()
        ctx = runtime.new_context()
        restore(ctx._engine_ctx._inst, image)
        return runtime, ctx

    def take(self) -> tuple[quickjs_rs.Runtime, quickjs_rs.Context]:
        if self.items:
            self.hits += 1
            return self.items.popleft()
        self.misses += 1
        return self.make()

    def fill(self) -> int:
        made = 0
        while len(self.items) < self.size:
            self.items.append(self.make())
            made += 1
        return made

    def stats(self) -> dict:
        total = self.hits + self.misses
        return {"size": self.size, "ready": len(self.items), "hits": self.hits, "misses": self.misses,
                "hit_rate": round(self.hits / total, 3) if total else None}


POOL = ContextPool(int(os.environ.get("ENGINE_CONTEXT_POOL", "4")))


class ProgramRun:
    """One advance of one program in a fresh context: start it, drain it, read what it did.

    `host(text: str) -> dict` is called with each message the program flushes (JSON text, not yet
    trusted); its answer goes back as JSON.
    """

    def __init__(self, *, program: str, init: str, host: Callable[[str], dict], limits: Limits,
                 image: tuple[Image, int] | None = None):
        """`image`: a snapshot of this instance's blocked program and its engine handle
        (engine.sandbox.images), restored instead of booting; then call resume(), not start()."""
        self.limits = limits
        self.runtime, self.ctx = POOL.take()
        if image is not None:
            # Before the limits below: the image holds the guest runtime's own copy of them.
            restore(self.ctx._engine_ctx._inst, image[0])
        self.ctx._timeout = limits.time_seconds
        # Our interrupt handler (quickjs-rs's reads the same deadline slot) also records that it
        # fired and which step timeouts had passed: an interrupted job ends silently, and the
        # program may clear a step's deadline while unwinding.
        self.fired: list[str] | None = None
        self.memory_fired = False  # the interrupt handler stopped the program: its heap was exhausted
        self.runtime._engine_rt.set_interrupt_handler(self._interrupt)
        self.runtime.set_module_loader(load=lambda name: program if name == "program" else self.engine_source
                                       if name == ENGINE_MODULE else COMPAT_MODULES.get(name))
        inst = self.ctx._engine_ctx._inst
        # The image already holds the guest side of __host (guest host functions call the host by
        # name); only the Python side of the registration is needed, which saves ~0.5 ms.
        fn_id = self.ctx._next_fn_id
        self.ctx._next_fn_id += 1
        self.ctx._host_registry[fn_id] = lambda text: json.dumps(host(text))
        self.engine: quickjs_rs.Handle | None = None  # start.js's namespace: the runtime's entry points
        self.engine_source = ""
        inst.name_to_fn_id["__host"] = fn_id
        if image is not None:
            # start.js's namespace is an entry of the guest's handle table, restored with the memory.
            self.engine = quickjs_rs.Handle(self.ctx, qjs_engine.QjsHandle._adopt(inst, image[1], context=self.ctx._engine_ctx))
        # The runtime limits live in the guest (the image carries the defaults): apply this tenant's.
        inst.c("set_memory_limit", limits.memory_bytes)
        inst.c("set_max_stack_size", limits.stack_bytes)
        # The JS heap limit above misses large typed-array allocations; the store limit does not.
        inst.store.set_limits(memory_size=limits.memory_bytes + 16 * 1024 * 1024)
        self.deadline = time.monotonic() + limits.time_seconds
        self.step_deadlines: dict[str, float] = {}
        self.guest_seconds = 0.0  # in guarded guest calls, host calls included
        self.host_seconds = 0.0  # in host calls made by the program
        self.init = init

    def close(self) -> None:
        try:
            if self.engine is not None:
                self.engine.dispose()
            self.ctx.close()
            self.runtime.close()
        except Exception:  # a trapped instance may refuse a clean close; it is garbage anyway
            log.debug("sandbox: close after trap", exc_info=True)

    def _guard(self, fn: Callable[[], object]) -> object:
        """Run `fn` under the advance's deadline, turning limit hits into SandboxLimit."""
        self.runtime._deadline = self.effective_deadline()
        started = time.monotonic()
        try:
            return fn()
        except quickjs_rs.TimeoutError:
            raise SandboxLimit("TimeoutError", f"exceeded the time limit of {self.limits.time_seconds:g} s") from None
        except quickjs_rs.InterruptError:
            if self.memory_fired:
                raise SandboxLimit("MemoryLimitError", f"exceeded the memory limit of {self.limits.memory_bytes >> 20} MiB") from None
            raise SandboxLimit("TimeoutError", f"exceeded the time limit of {self.limits.time_seconds:g} s") from None
        except quickjs_rs.MemoryLimitError:
            raise SandboxLimit("MemoryLimitError", f"exceeded the memory limit of {self.limits.memory_bytes >> 20} MiB") from None
        except wasmtime.Trap as e:
            text = str(e)
            if "stack" in text.lower() or "recursion" in text.lower():
                raise SandboxLimit("StackOverflowError", "exceeded the stack limit (recursion too deep)") from None
            if self.memory_exhausted():  # the guest's own allocator gave up (it aborts: a trap)
                raise SandboxLimit("MemoryLimitError", f"exceeded the memory limit of {self.limits.memory_bytes >> 20} MiB") from None
            raise SandboxLimit("SandboxTrap", "the sandbox stopped: " + text.splitlines()[0][:200]) from None
        except wasmtime.WasmtimeError as e:
            raise SandboxLimit("MemoryLimitError", f"exceeded the memory limit of {self.limits.memory_bytes >> 20} MiB ({str(e).splitlines()[0][:120]})") from None
        finally:
            self.runtime._deadline = None
            self.guest_seconds += time.monotonic() - started

    def start(self) -> None:
        """Evaluate the prelude and the program module, and call run(event, step)."""
        if len(self.init) < 4096:
            # A small init goes in as a string literal of the boot call: cheaper than a global.
            boot = f"__boot({json.dumps(self.init)})"
        else:
            # A large one is set as a global (deleted at boot, before any tenant code): a long
            # escaped literal makes JSON.parse slow.
            self.ctx.globals["__init"] = self.init
            boot = "__boot((() => { const i = globalThis.__init; delete globalThis.__init; return i; })())"
        self.engine_source = f"export const {{ start, interrupted, settle, rollback, resume, forget, finish }} = {boot};"
        # The engine module boots the runtime; then the program's module (tenant code) is evaluated.
        try:
            self.engine = self._guard(lambda: self.ctx.eval_handle(START_JS, module=True, filename="start.js"))
        except quickjs_rs.JSError as e:
            if limit := self.memory_limit_hit(e):
                raise limit from None
            raise ProgramLoadError(str(e).splitlines()[0][:2000] if str(e) else type(e).__name__) from None
        if self.memory_fired:  # an interrupted module evaluation ends silently
            raise SandboxLimit("MemoryLimitError", f"exceeded the memory limit of {self.limits.memory_bytes >> 20} MiB")

    def resume(self, delta: str) -> bool:
        """Go on from a restored image: the runtime decides its blocked operation anew with this
        advance's `delta` ({now, clock, inbox}); drain() runs what follows. False: the image held
        no resumable operation and nothing ran (the caller replays in a fresh context)."""
        def call() -> bool:
            result = self.engine.call_method("resume", delta)
            try:
                return result.to_python() is True
            finally:
                result.dispose()

        return self._guard(call)

    def forget(self) -> bool:
        """Before an image is taken: the runtime drops what only a replay reads (resume.js) and the
        garbage is collected. False: the program is not resumable (nothing was dropped)."""
        def call() -> bool:
            result = self.engine.call_method("forget")
            try:
                return result.to_python() is True
            finally:
                result.dispose()

        if not self._guard(call):
            return False
        self.collect()
        return True

    def guest(self) -> tuple[object, int]:
        """The guest instance and the engine handle's id, for an image (engine.sandbox.images) of
        the program as it is now: only when it is blocked (after finish())."""
        return self.ctx._engine_ctx._inst, self.engine._engine_handle._handle

    def memory_limit_hit(self, error: Exception) -> SandboxLimit | None:
        """A program's top-level error that was really memory exhaustion, as the typed limit."""
        text = str(error)
        if "out of memory" in text or (text.strip() in ("null", "Error: null", "") and self.memory_exhausted()):
            return SandboxLimit("MemoryLimitError", f"exceeded the memory limit of {self.limits.memory_bytes >> 20} MiB")
        return None

    def collect(self) -> None:
        """Free unreachable cycles (a bomb's garbage) before the runtime runs again; only between
        guest calls (the guest refuses a collection from inside a host call)."""
        self.runtime.run_gc()

    def memory_exhausted(self) -> bool:
        """Whether the guest's heap has come within reach of its limit at some point in this advance.

        Wasm linear memory never shrinks, so its size is a high-water mark the program cannot
        lower: where QuickJS cannot even allocate an error and throws `null`, this tells memory
        exhaustion from a program that threw `null` itself."""
        inst = self.ctx._engine_ctx._inst
        return inst.mem.data_len(inst.store) >= self.limits.memory_bytes * EXHAUSTED_FRACTION

    def drain(self) -> None:
        """Run the job queue until nothing is left to run (the program finished or is blocked)."""
        # Context.eval does not drain promise jobs; the engine context's run_pending_jobs does, up
        # to 100,000 jobs a call: call it until the queue is empty (or the deadline interrupts).
        def run() -> None:
            while self.ctx._engine_ctx.run_pending_jobs() and self.fired is None and not self.memory_fired:
                pass

        self._guard(run)
        if self.memory_fired:  # an interrupted job ends silently
            raise SandboxLimit("MemoryLimitError", f"exceeded the memory limit of {self.limits.memory_bytes >> 20} MiB")

    # ---- deadlines: the advance's time limit, and the timeouts of steps that asked for one ----
    def effective_deadline(self) -> float:
        return min(self.deadline, *self.step_deadlines.values()) if self.step_deadlines else self.deadline

    def _apply_deadline(self) -> None:
        if self.runtime._deadline is not None:  # only while the guest runs
            self.runtime._deadline = self.effective_deadline()

    def extend_deadline(self, seconds: float) -> None:
        """Time spent in the host does not count against the advance's limit (it does for steps)."""
        self.deadline += seconds
        self.host_seconds += seconds
        self._apply_deadline()

    def waited(self, seconds: float) -> None:
        """The host waited between guest calls (for capability calls): not the program's time."""
        self.deadline += seconds

    def cpu_ms(self) -> int:
        """Time the tenant's code ran in the sandbox (metered), host calls excluded."""
        return int(max(0.0, self.guest_seconds - self.host_seconds) * 1000)

    def set_step_deadline(self, key: str, timeout_ms: int) -> None:
        self.step_deadlines[key] = time.monotonic() + timeout_ms / 1000
        self._apply_deadline()

    def clear_step_deadline(self, key: str) -> None:
        self.step_deadlines.pop(key, None)
        self._apply_deadline()

    def expired_steps(self) -> list[str]:
        now = time.monotonic()
        return [key for key, deadline in self.step_deadlines.items() if deadline <= now]

    def _interrupt(self) -> bool:
        # Memory first: a heap at its limit makes QuickJS throw whatever it can (often `null`) into
        # code that may catch it; stopping the program here makes every shape a MemoryLimitError.
        if not self.memory_fired and self.memory_exhausted():
            self.memory_fired = True
            return True
        deadline = self.runtime._deadline
        if deadline is None or time.monotonic() < deadline:
            return False
        if self.fired is None:
            self.fired = self.expired_steps()
        return True

    def timed_out(self) -> bool:
        return self.fired is not None or time.monotonic() >= self.effective_deadline()

    def timed_out_steps(self) -> list[str]:
        return self.fired if self.fired else self.expired_steps()

    def interrupted(self, name: str, message: str, expired: list[str]) -> int:
        info = json.dumps({"name": name, "message": message})
        return self._guard(lambda: self.engine.call_method("interrupted", info, json.dumps(expired)).to_python())

    def settle(self, call_id: int, reply: str) -> None:
        """Hand the program the reply (JSON text) of a capability call that ran while it went on;
        its continuation runs at the next drain()."""
        try:
            self._guard(lambda: self.engine.call_method("settle", call_id, reply).dispose())
        except quickjs_rs.JSError as e:  # the runtime's own code threw: the realm is not sound
            raise SandboxLimit("SandboxTrap", "the sandbox stopped: " + str(e).splitlines()[0][:200]) from None

    def rollback(self, plan: str) -> None:
        """Start the rollback phase (engine.sandbox.rollback.js); drain() runs it."""
        self._guard(lambda: self.engine.call_method("rollback", plan).dispose())

    def pending_deadlines(self) -> list[str]:
        """Keys of steps whose deadline is still set after a drain: what they await can never
        settle (nothing runs between advances), so they are as good as timed out."""
        return list(self.step_deadlines)

    def finish(self) -> str:
        """The runtime's final message (JSON text, not yet trusted)."""
        def call() -> str:
            result = self.engine.call_method("finish")
            try:
                return result.to_python()
            finally:
                result.dispose()

        return self._guard(call)
