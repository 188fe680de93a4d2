"""``/metrics``, ``/healthz`` and ``/readyz`` on a small threaded HTTP server.

Liveness (``/healthz``) means the loop has polled recently and has not been found stalled:
a consumer that stays without a partition assignment longer than any healthy rebalance takes
is marked ``stalled`` by the loop (see ``mesh.rebalance``), which then exits non-zero.

Readiness (``/readyz``) means alive and holding an assignment, set on assign and cleared on
revoke or loss; a rebalance shorter than ``rebalance_grace_s`` keeps it, so routine rebalances
do not flap it. A member whose assignment is empty (more members than partitions) is assigned.
Outputs waiting for acknowledgement longer than the same grace also clear it: the loop does
not poll while it waits, so the rebalance callbacks that would report a lost assignment (the
broker is gone) only run once it is back. Producer-only services (the HTTP intake) set
``ready`` themselves once they reach the broker.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


class Health:
    """State the loop updates and the probes read."""

    def __init__(
        self,
        stall_after_s: float = 120.0,
        *,
        rebalance_grace_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stall_after_s, self.rebalance_grace_s, self._clock = stall_after_s, rebalance_grace_s, clock
        self.last_beat = clock()
        self.ready = False
        self.stopped = False
        self.stalled: str | None = None  # why the loop gave up on its consumer
        self._unassigned_since: float | None = None
        self._was_assigned = False
        self._acks_since: float | None = None

    def beat(self) -> None:
        self.last_beat = self._clock()

    def assigned(self) -> None:
        self.ready, self._was_assigned, self._unassigned_since = True, True, None

    def unassigned(self) -> None:
        """Subscribed, revoked or lost: the clock of ``unassigned_for`` starts (once)."""
        self.ready = False
        if self._unassigned_since is None:
            self._unassigned_since = self._clock()

    def unassigned_for(self) -> float:
        return 0.0 if self._unassigned_since is None else self._clock() - self._unassigned_since

    @contextlib.contextmanager
    def awaiting_acks(self) -> Iterator[None]:
        """Around a flush of outputs."""
        self._acks_since = self._clock()
        try:
            yield
        finally:
            self._acks_since = None

    def alive(self) -> bool:
        return (
            not self.stopped and self.stalled is None and self._clock() - self.last_beat < self.stall_after_s
        )

    def is_ready(self) -> bool:
        rebalancing = self._was_assigned and self._unassigned_since is not None
        in_grace = rebalancing and self.unassigned_for() < self.rebalance_grace_s
        acks_late = self._acks_since is not None and self._clock() - self._acks_since > self.rebalance_grace_s
        return self.alive() and (self.ready or in_grace) and not acks_late


class BackgroundServer:
    """A ThreadingHTTPServer on its own daemon thread; port 0 picks a free port."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], host: str, port: int, name: str) -> None:
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name=name)

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class HealthServer(BackgroundServer):
    def __init__(self, health: Health, registry: CollectorRegistry, host: str, port: int) -> None:
        super().__init__(_handler_class(health, registry), host, port, "health")


def _handler_class(health: Health, registry: CollectorRegistry) -> type[BaseHTTPRequestHandler]:
    routes: dict[str, Callable[[], tuple[int, str, bytes]]] = {
        "/metrics": lambda: (200, CONTENT_TYPE_LATEST, generate_latest(registry)),
        "/healthz": lambda: _probe(health.alive()),
        "/readyz": lambda: _probe(health.is_ready()),
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            route = routes.get(self.path.split("?")[0])
            status, ctype, body = route() if route else (404, "text/plain", b"not found\n")
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler


def _probe(ok: bool) -> tuple[int, str, bytes]:
    return (200, "text/plain", b"ok\n") if ok else (503, "text/plain", b"unavailable\n")
