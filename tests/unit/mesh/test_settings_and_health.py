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
