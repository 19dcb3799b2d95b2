"""Telling live consumers (engine.consumers) that an instance has news, across processes.

Invariant: a notification is only a hint. The database is the source of every durable event a
consumer sends; a lost, late or duplicated notification costs latency (the consumer still polls
on a slow timer), never an event. The one thing carried only by notifications is ephemeral: the
host's wall time at which an attempt began or ended in the sandbox, before its batch commits
(`attempt_running`, `attempt_ended`), which the live view shows as unconfirmed until the durable
events arrive.

Transports, chosen by deployment mode:
- distributed (REDIS_URL): channels_redis `group_send` to the instance's and the workflow's groups,
  whose members are web processes (one channel each, `Hub`), not consumers;
- embedded: a datagram on a Unix socket to every web process (each daphne binds one in
  `ENGINE_LIVE_DIR` when its first consumer connects). No server to run, and a dead web
  process's socket is removed by the first sender that finds it refusing.
Either way a web process hands a notification to its own consumers of that group (`Hub`).

Senders never block on the transport: `publish` puts the message on a queue drained by one
thread per process, in order, so a commit's notification never overtakes an attempt's.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections import OrderedDict, deque
from pathlib import Path
from typing import Any

from django.conf import settings

log = logging.getLogger(__name__)

MAX_DATAGRAM = 60_000
COALESCE_SECONDS = 0.004  # under the default Unix datagram limit (net.core.wmem_default: 212 KB)


def group_for_instance(instance_id: Any) -> str:
    return f"instance.{instance_id}"


def group_for_workflow(workflow_id: Any) -> str:
    return f"workflow.{workflow_id}"


def live_dir() -> Path:
    return Path(getattr(settings, "ENGINE_LIVE_DIR", settings.VAR_DIR / "live"))


# ---- sending (engine workers, Celery workers, web processes) ---------------------------------------

_workflows: OrderedDict[str, Any] = OrderedDict()  # instance id -> workflow id (never changes)


def workflow_of(instance_id: Any) -> Any:
    key = str(instance_id)
    if key not in _workflows:
        from .models import Instance

        _workflows[key] = Instance.objects.filter(pk=instance_id).values_list("workflow_id", flat=True).first()
        if len(_workflows) > 10_000:
            _workflows.popitem(last=False)
    return _workflows[key]


def publish(instance_id: Any, *, workflow_id: Any = None, ephemeral: list[dict] | None = None) -> None:
    """Say that `instance_id` has new rows (and, optionally, ephemeral events). Never blocks."""
    if workflow_id is None and not ephemeral:
        workflow_id = workflow_of(instance_id)
    message = {"i": str(instance_id), "w": workflow_id}
    if ephemeral:
        message["e"] = ephemeral
    _publisher().put(message)


class Publisher:
    """One thread per process that hands messages to the transport, in the order they came.

    It wakes at most once per COALESCE_SECONDS: waking a thread per message made the engine's
    thread wait for the GIL (about 2 ms each, measured), which a program of 1,000 tiny steps
    paid 2,000 times; now it pays for a deque append, and messages wait at most a few ms."""

    def __init__(self) -> None:
        self.items: deque[dict] = deque()
        self.wake = threading.Event()
        self.pid = os.getpid()
        self.sock: socket.socket | None = None
        self.targets: list[str] = []
        self.targets_mtime = -1.0
        self.sent = 0
        threading.Thread(target=self.run, daemon=True, name="live-publisher").start()

    def put(self, message: dict) -> None:
        self.items.append(message)
        if not self.wake.is_set():
            self.wake.set()

    def run(self) -> None:
        redis = bool(settings.REDIS_URL)
        loop = asyncio.new_event_loop() if redis else None
        if redis:  # connect now, not with the first attempt of the first step (~1 s on a busy machine)
            try:
                from channels.layers import get_channel_layer

                loop.run_until_complete(get_channel_layer().group_discard("live.warm", "live.warm"))
            except Exception:
                log.debug("live: Redis not reachable yet", exc_info=True)
        while True:
            self.wake.wait()
            time.sleep(COALESCE_SECONDS)  # what comes meanwhile goes in the same round
            self.wake.clear()
            batch = []
            while self.items:
                batch.append(self.items.popleft())
            if not batch:
                continue
            try:
                if redis:
                    loop.run_until_complete(self.send_redis(batch))
                else:
                    self.send_datagrams(batch)
                self.sent += len(batch)
            except Exception:  # the transport is down: consumers still poll the database
                log.debug("live: %d notifications not sent", len(batch), exc_info=True)

    async def send_redis(self, batch: list[dict]) -> None:
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        for message in coalesce(batch):
            group = group_for_instance(message["i"])
            payload = {"type": "progress.new", "group": group, **({"ephemeral": message["e"]} if "e" in message else {})}
            await layer.group_send(group, payload)
            if message.get("w") is not None and "e" not in message:
                group = group_for_workflow(message["w"])
                await layer.group_send(group, {"type": "progress.new", "group": group})

    def send_datagrams(self, batch: list[dict]) -> None:
        directory = live_dir()
        try:
            mtime = directory.stat().st_mtime
        except FileNotFoundError:
            return  # no web process listens
        if mtime != self.targets_mtime:  # a web process started or went away
            self.targets_mtime = mtime
            self.targets = [str(p) for p in directory.glob("*.sock")]
        if self.sock is None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.sock.setblocking(False)
        for message in coalesce(batch):
            data = json.dumps(message, separators=(",", ":")).encode()
            if len(data) > MAX_DATAGRAM:
                data = json.dumps({"i": message["i"], "w": message.get("w")}).encode()  # the hint alone
            for target in list(self.targets):
                try:
                    self.sock.sendto(data, target)
                except (ConnectionRefusedError, FileNotFoundError):
                    # Nobody reads it any more (a web process that died): remove it.
                    try:
                        os.unlink(target)
                    except OSError:
                        pass
                    self.targets.remove(target)
                except BlockingIOError:  # that process is behind: it will poll
                    pass
                except OSError:
                    log.debug("live: datagram to %s failed", target, exc_info=True)


def coalesce(batch: list[dict]) -> list[dict]:
    """Hints for the same instance collapse into one, after its ephemeral events, which are
    merged into one message (the last EPHEMERAL_KEPT of them: a burst of tiny steps is shown by
    its durable events anyway)."""
    out: list[dict] = []
    hinted: set[str] = set()
    for message in reversed(batch):
        if "e" not in message and message["i"] not in hinted:
            hinted.add(message["i"])
            out.append(message)
    out.reverse()
    ephemeral: dict[str, list[dict]] = {}
    for message in batch:
        if "e" in message:
            ephemeral.setdefault(message["i"], []).extend(message["e"])
    first = [{"i": i, "e": events[-EPHEMERAL_KEPT:]} for i, events in ephemeral.items()]
    return first + out


EPHEMERAL_KEPT = 50


_lock = threading.Lock()
_instance: Publisher | None = None


def warm() -> None:
    """Start this process's publisher (and its Redis connection) before the first step runs."""
    _publisher()


def _publisher() -> Publisher:
    global _instance
    if _instance is None or _instance.pid != os.getpid():  # a forked worker needs its own thread
        with _lock:
            if _instance is None or _instance.pid != os.getpid():
                _instance = Publisher()
    return _instance


# ---- receiving and fanning out (web processes) ---------------------------------------------------

class Hub:
    """This process's consumers by group (one Hub per event loop). A notification reaches the
    process once (a datagram in embedded mode; in distributed mode one channels_redis message to
    the process's own channel, which joins a group while a local consumer follows it) and is
    handed to each local consumer of its group. 100 viewers of one instance cost one message and
    one database read (engine.consumers shares it), not 100 of each: a channel layer message per
    consumer cost more than sending the events (InMemoryChannelLayer scans every channel on each
    receive)."""

    def __init__(self, layer) -> None:
        self.layer = layer
        self.loop = asyncio.get_running_loop()
        self.groups: dict[str, set] = {}
        self.channel: str | None = None  # distributed mode: this process's channel
        self.closing: list = []  # what to release when the loop is gone (a datagram socket)

    async def start(self) -> None:
        if settings.REDIS_URL:
            # The layer's default prefix: channels_redis reads all of a process's specific channels
            # from one Redis list, named by that prefix (another prefix would never be read).
            self.channel = await self.layer.new_channel()
            self.task = asyncio.ensure_future(self.receive())
        else:
            await self.bind()

    async def bind(self) -> None:
        directory = live_dir()
        directory.mkdir(parents=True, exist_ok=True)
        path = str(directory / f"{os.getpid()}-{uuid.uuid4().hex[:8]}.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.bind(path)
        self.closing.append(path)
        self.transport, _ = await self.loop.create_datagram_endpoint(lambda: _Receiver(self), sock=sock)

    def close(self) -> None:
        """A previous loop's hub (tests run one loop per test): its socket goes with it."""
        try:
            if getattr(self, "transport", None) is not None:
                self.transport.close()
            if getattr(self, "task", None) is not None:
                self.task.cancel()
        except RuntimeError:  # that loop is closed
            pass
        for path in self.closing:
            try:
                os.unlink(path)
            except OSError:
                pass

    async def subscribe(self, group: str, consumer) -> None:
        members = self.groups.setdefault(group, set())
        members.add(consumer)
        if len(members) == 1 and self.channel:
            await self.layer.group_add(group, self.channel)

    async def unsubscribe(self, group: str, consumer) -> None:
        members = self.groups.get(group)
        if members is None:
            return
        members.discard(consumer)
        if not members:
            del self.groups[group]
            if self.channel:
                await self.layer.group_discard(group, self.channel)

    async def deliver(self, group: str, message: dict) -> None:
        for consumer in list(self.groups.get(group, ())):
            try:
                await consumer.progress_new(message)
            except Exception:  # that consumer's socket is gone: it is unsubscribing
                log.debug("live: delivery to a consumer failed", exc_info=True)

    async def receive(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis went away: consumers poll meanwhile
                log.debug("live: receive failed", exc_info=True)
                await asyncio.sleep(1)
                continue
            await self.deliver(message.get("group", ""), message)


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def datagram_received(self, data: bytes, addr) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            return
        asyncio.ensure_future(self.forward(message))

    async def forward(self, message: dict) -> None:
        payload = {"type": "progress.new", **({"ephemeral": message["e"]} if "e" in message else {})}
        await self.hub.deliver(group_for_instance(message.get("i")), payload)
        if message.get("w") is not None and "e" not in message:
            await self.hub.deliver(group_for_workflow(message["w"]), {"type": "progress.new"})


_hubs: dict[int, Hub] = {}


async def hub(layer) -> Hub:
    """This process's hub for the running event loop (made, and its socket bound, on first use)."""
    loop = asyncio.get_running_loop()
    current = _hubs.get(os.getpid())
    failed = current is not None and current.ready.done() and current.ready.exception() is not None  # Redis was down
    if not (current and current.loop is loop) or failed:
        if current:
            current.close()
        current = _hubs[os.getpid()] = Hub(layer)  # before awaiting: consumers connecting meanwhile share it
        current.ready = asyncio.ensure_future(current.start())
    await asyncio.shield(current.ready)
    return current


# ---- attempt times (engine workers) ----------------------------------------------------------------

class AttemptTimes:
    """When each attempt of an advance began and ended, by the host's clock, as the sandbox
    reported it (`marks` in its messages). The rows committed later carry these times; each mark is also
    published at once as an ephemeral event. A mark is the tenant's own message: it is checked,
    bounded, and can only misplace the times of the tenant's own steps."""

    LIMIT = 20_000  # marks kept per advance (a program of many tiny steps stops getting live times)
    # A crossing costs about 0.5 ms (2 ms on a loaded machine): once several steps in a row took
    # under FAST_SECONDS each, the sandbox is told to skip the marks of the next few (up to MAX_SKIP,
    # doubling while the burst lasts); their rows take the time before them, which is off by less
    # than the burst's length. The price: a slow step inside such a window is seen only when it
    # ends, recorded with the burst's time, and ends the burst (the next steps are marked again).
    FAST_SECONDS = 0.001
    MAX_SKIP = 16

    def __init__(self, instance_id: Any, now) -> None:
        self.instance_id = instance_id
        self.now = now  # the clock (engine.clock.now)
        self.times: dict[tuple[str, int, int, str], Any] = {}
        self.unmarked: set[tuple[str, int, int]] = set()  # attempts begun in a fast burst (the runner's)
        self.last = None  # the time of the last command the runner applied (unmarked ones take it)
        self.last_start = None
        self.skip = 0  # marks the sandbox was last told to skip
        self.streak = 0  # fast steps in a row

    def pace(self, at) -> int:
        """How many of the next steps need no mark: 0 unless the recent steps were very fast."""
        if self.last_start is not None and (at - self.last_start).total_seconds() / (self.skip + 1) < self.FAST_SECONDS:
            self.streak += 1
        else:
            self.streak = 0
        self.last_start = at
        self.skip = 0 if self.streak < 3 else min(2 ** (self.streak - 2), self.MAX_SKIP)
        return self.skip

    def record(self, marks: Any) -> int:
        """Note the time of each mark ([kind, step, occurrence, attempt]) and publish them; returns
        how many of the next steps may go unmarked."""
        if not isinstance(marks, list):
            return 0
        at = self.now()
        skip = 0
        events = []
        for mark in marks[:1000]:
            if not (isinstance(mark, list) and len(mark) == 4 and mark[0] in ("start", "end")
                    and isinstance(mark[1], str) and len(mark[1]) <= 256
                    and all(isinstance(v, int) and not isinstance(v, bool) and 0 < v < 1 << 31 for v in mark[2:])):
                continue
            if len(self.times) >= self.LIMIT:
                break
            kind, name, occ, attempt = mark
            self.times[(name, occ, attempt, kind)] = at
            if kind == "start":
                skip = self.pace(at)
                if skip:  # the sandbox drops this attempt's end mark too: it takes its start's time
                    self.unmarked.add((name, occ, attempt))
            events.append({"type": "attempt_running" if kind == "start" else "attempt_ended", "step": name,
                           "attempt": attempt, "timestamp": at.isoformat()})
        if events:
            publish(self.instance_id, ephemeral=events)
        return skip

    def get(self, name: str, occ: int, attempt: int, kind: str):
        return self.times.pop((name, occ, attempt, kind), None)
