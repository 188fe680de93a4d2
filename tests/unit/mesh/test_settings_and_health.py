from __future__ import annotations

import urllib.error
import urllib.request

from mesh import MeshSettings
from mesh.health import Health, HealthServer
from mesh.metrics import PrometheusSensor


def test_security_options_from_the_environment_reach_the_client_config(monkeypatch):
    monkeypatch.setenv("STT_BOOTSTRAP_SERVERS", "broker:9093")
    monkeypatch.setenv("STT_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("STT_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("STT_SASL_USERNAME", "svc")
    monkeypatch.setenv("STT_SASL_PASSWORD", "secret")
    monkeypatch.setenv("STT_KAFKA_EXTRA", '{"socket.keepalive.enable": "true"}')
    conf = MeshSettings().consumer_config("g")
    assert conf["bootstrap.servers"] == "broker:9093"
    assert conf["security.protocol"] == "SASL_SSL"
    assert conf["sasl.password"] == "secret"
    assert conf["socket.keepalive.enable"] == "true"
    assert conf["enable.auto.offset.store"] is False
    producer = MeshSettings().producer_config()
    assert producer["enable.idempotence"] is True and producer["acks"] == "all"


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def test_probes_follow_loop_state_and_metrics_show_sensor_series():
    health, sensor = Health(), PrometheusSensor("svc")
    sensor.on_message_in("topic-a")
    sensor.observe("asr_rtf", 0.25, model="tiny.en")
    server = HealthServer(health, sensor.registry, "127.0.0.1", 0).start()
    try:
        assert _get(server.port, "/healthz")[0] == 200
        assert _get(server.port, "/readyz")[0] == 503
        health.ready = True
        assert _get(server.port, "/readyz")[0] == 200
        status, body = _get(server.port, "/metrics")
        assert status == 200
        assert 'stt_messages_in_total{service="svc",topic="topic-a"} 1.0' in body
        assert 'stt_asr_rtf_count{model="tiny.en",service="svc"} 1.0' in body
        health.stopped = True
        assert _get(server.port, "/healthz")[0] == 503
        assert _get(server.port, "/nope")[0] == 404
    finally:
        server.stop()


def test_every_time_budget_derives_from_the_explicit_poll_interval(monkeypatch):
    import pytest

    conf = MeshSettings().consumer_config("g")
    assert conf["max.poll.interval.ms"] == 300_000 and conf["session.timeout.ms"] == 45_000
    monkeypatch.setenv("STT_MAX_POLL_INTERVAL_MS", "100000")
    settings = MeshSettings()
    assert settings.consumer_config("g")["max.poll.interval.ms"] == 100_000
    assert settings.liveness_s() == 40.0 and settings.work_budget_s() == 80.0
    # the stall limit is the longest rebalance: poll interval + session timeout + 15 s
    assert settings.unassigned_limit_s(settings.consumer_config("g")) == 100 + 45 + 15
    # an explicit librdkafka option wins over the derived ones
    extra = MeshSettings(kafka_extra={"max.poll.interval.ms": "50000"}).consumer_config("g")
    assert extra["max.poll.interval.ms"] == "50000"
    with pytest.raises(ValueError, match="at least session_timeout_ms"):
        MeshSettings(max_poll_interval_ms=10_000, session_timeout_ms=20_000)


def test_the_loop_liveness_window_follows_the_poll_interval():
    from mesh import Processor

    proc = Processor(
        MeshSettings(metrics_port=None, max_poll_interval_ms=50_000),
        service="svc",
        topics=["in"],
        group_id="g",
        handler=lambda m: [],
        consumer=object(),
        publisher=object(),  # type: ignore[arg-type]
    )
    assert proc.health.stall_after_s == 20.0


def test_work_counts_as_long_after_a_twentieth_of_the_poll_interval_unless_set():
    assert MeshSettings().pause_after_s() == 15.0
    assert MeshSettings(max_poll_interval_ms=60_000, session_timeout_ms=10_000).pause_after_s() == 3.0
    assert MeshSettings(long_work_after_s=0.5).pause_after_s() == 0.5
