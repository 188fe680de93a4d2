"""Whether a consumer group has live members, watched in the background.

A consumer that waits for another service's output should wait only while that service is
deployed: redaction holds a recording for its speaker turns only while the diarizer's group
has members. The broker knows (the group's membership); asking it is a metadata call that
may block, so a daemon thread asks every ``every_s`` and ``active()`` never blocks the loop.

A question that fails is asked again of a new admin client: after a broker restart an admin
client can be left without any broker for good (like a consumer, confluentinc/librdkafka#5301;
every describe then times out), which would freeze the last answer for the life of the
process: redaction stopped waiting for speaker turns for good once it had seen the diarizer's
group empty before the restart (found by tests/e2e/test_survive.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from mesh.settings import MeshSettings

log = logging.getLogger(__name__)


def _admin(settings: MeshSettings) -> Any:
    from confluent_kafka.admin import AdminClient

    return AdminClient(settings.kafka_common())


class GroupWatch:
    def __init__(
        self,
        settings: MeshSettings,
        group: str,
        every_s: float = 10.0,
        *,
        grace_s: float = 0.0,
        admin: Callable[[MeshSettings], Any] = _admin,
        timeout_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``grace_s``: the group counts as active for this long after it was last seen with a
        member, or after the watch started (a service that is deploying takes a while to load
        its model and join)."""
        self.group, self.every_s, self.timeout_s, self.grace_s = group, every_s, timeout_s, grace_s
        self._clock = clock
        self._seen_at = clock()
        self._settings, self._new_admin = settings, admin
        self._admin = admin(settings)
        self.renewals = 0  # admin clients replaced after a failed question
        self._members: int | None = None  # unknown until the broker answered once
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"watch-{group}")

    def start(self, attempts: int = 3) -> GroupWatch:
        """Ask once before the first message (a coordinator still loading answers
        NOT_COORDINATOR, so up to ``attempts`` times), then every ``every_s`` in the background."""
        for _ in range(attempts):
            if self.check() is not None:
                break
            self._stop.wait(1.0)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def active(self, unknown: bool = True) -> bool:
        """The group had members at the last answer, or within ``grace_s`` of it (or of the
        start); ``unknown`` before any answer."""
        if self._members is None:
            return unknown
        return self._members > 0 or self._clock() - self._seen_at < self.grace_s

    def check(self) -> int | None:
        try:
            [future] = self._admin.describe_consumer_groups(
                [self.group], request_timeout=self.timeout_s
            ).values()
            described = future.result(timeout=self.timeout_s + 5)
            members = len(described.members)
        except Exception as exc:  # a broker that does not answer leaves the last answer standing
            log.debug("describing group %s failed: %s; asking a new admin client next", self.group, exc)
            self._renew()
            return self._members
        if members != self._members:
            log.info("consumer group %s has %d member(s)", self.group, members)
        if members:
            self._seen_at = self._clock()
        self._members = members
        return members

    def _renew(self) -> None:
        try:
            self._admin = self._new_admin(self._settings)
            self.renewals += 1
        except Exception as exc:  # keep the old one; the next failure tries again
            log.debug("no new admin client for group %s: %s", self.group, exc)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s if self._members is not None else min(2.0, self.every_s)):
            self.check()
