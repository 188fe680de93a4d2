"""faust-streaming with two fixes for races of a restarted worker, which otherwise looks
ready and consumes nothing (seen in faust-streaming 0.15 against Kafka 4.3). The quality
service and the Faust compatibility test both run this ``App``."""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_kafka
from mode.utils.objects import cached_property
from mode.utils.queues import FlowControlEvent


class _Consumer(faust_kafka.Consumer):
    """faust-streaming's consumer, seeking *every* stream partition after a rebalance or a
    table recovery, not only those the group has a committed offset for.

    While a restarted worker restores its tables, Faust pauses the changelog partitions it
    has read and its set of active partitions is empty for a moment. The consumer thread,
    which shares that set, reads an empty set as "all partitions" and hands over the buffered
    records of every stream partition, which Faust then drops as not active. The seek to the
    committed offsets that ends the recovery fetches them again, except on a partition the
    group never committed (a topic partition it had seen no message on): its first records
    were lost until the next restart, and the worker looked idle after "Worker ready". Those
    partitions are sought to their earliest offset here, as ``consumer_auto_offset_reset``
    says."""

    async def perform_seek(self) -> None:
        await super().perform_seek()
        fresh = [
            tp
            for tp in self.assignment()
            if not self._is_changelog_tp(tp) and not self._committed_offset.get(tp)
        ]
        if fresh:
            await self.seek_wait(dict(await self.earliest_offsets(*fresh)))


class _Transport(faust_kafka.Transport):
    Consumer = _Consumer


class _FlowControl(FlowControlEvent):
    """Faust's flow control, whose ``resume`` clears the streams' queues only when the flow was
    suspended. The end of a table recovery resumes the flow a second time, after the stream
    partitions were resumed and sought, and that clear dropped the events they had delivered
    meanwhile (events of the current generation, which nothing fetched again)."""

    def resume(self) -> None:
        if self.is_active():
            return
        super().resume()


class App(faust.App):
    """faust.App with the two fixes above (see ``_Consumer`` and ``_FlowControl``)."""

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)

    @cached_property
    def flow_control(self) -> FlowControlEvent:
        return _FlowControl(loop=self.loop)
