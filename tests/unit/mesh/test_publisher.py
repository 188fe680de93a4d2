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


def test_a_message_over_message_max_bytes_raises_a_clear_non_retryable_error():
    import pytest

    from mesh import MessageTooLarge, NonRetryableError

    pub = Publisher(MeshSettings(bootstrap_servers="127.0.0.1:1", message_max_bytes=1_000_000), service="t")
    try:
        expected = r"a 2000000-byte message for big exceeds message.max.bytes \(1000000"
        with pytest.raises(MessageTooLarge, match=expected):
            pub.send_raw("big", b"x" * 2_000_000, None, [])
        assert issubclass(MessageTooLarge, NonRetryableError)
    finally:
        pub._producer.purge()
        pub._closed = True
