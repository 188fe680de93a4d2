"""Publisher lifecycle without a broker."""

from __future__ import annotations

from mesh import MeshSettings, Publisher


class FakeProducer:
    def __init__(self) -> None:
        self.flushes = 0
        self.closes = 0

    def flush(self, timeout: float) -> int:
        self.flushes += 1
        return 0

    def close(self) -> None:
        self.closes += 1


def test_close_flushes_then_releases_the_producer_once():
    producer = FakeProducer()
    pub = Publisher(MeshSettings(metrics_port=None), service="t", producer=producer)
    pub.close()
    pub.close()
    assert (producer.flushes, producer.closes) == (1, 1)
