"""Write the Kubernetes manifests of infra/k8s/ from one table (``python -m infra.k8s.generate``).

One Deployment per service and pool (the realtime and batch pools of asr and diarize are
separate Deployments, as they are separate consumer groups), probes on the mesh's /healthz
and /readyz, resource requests (GPU requests for asr and diarize), and a KEDA ScaledObject per
consumer group on its Kafka lag. ``maxReplicaCount`` is the partition count of the topic the
group reads (infra/topics.toml): more consumers than partitions sit idle, and KEDA caps there
anyway. The files are generated so the table is the one place to change; a test checks that
the committed files are what this writes.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
TOPICS = tomllib.loads((HERE.parent / "topics.toml").read_text())
IMAGE = "ghcr.io/stt-mesh/{service}:0.1.0"
BOOTSTRAP = "kafka-bootstrap.kafka.svc:9092"


def partitions(topic: str) -> int:
    return int(TOPICS.get(topic, {}).get("partitions", TOPICS["defaults"]["partitions"]))


# name, image (service), args, consumer group, topic the group scales on, lag threshold,
# cpu, memory, gpu, extra env
# fmt: off
WORKLOADS: list[dict[str, Any]] = [
    {"name": "ingest", "service": "ingest", "args": [], "group": "stt-ingest",
     "topic": "stt.recordings.raw.v1", "lag": 20, "cpu": "1", "memory": "2Gi"},
    {"name": "ingest-http", "service": "ingest", "args": ["http"], "group": None, "topic": None,
     "cpu": "1", "memory": "2Gi", "replicas": 2, "port": 8080,
     "env": {"STT_INGEST_RESULTS_URL": "http://sink:8090"}},
    {"name": "asr-realtime", "service": "asr", "args": ["--pool", "realtime"], "group": "stt-asr-realtime",
     "topic": "stt.audio.chunks.realtime.v1", "lag": 4, "cpu": "2", "memory": "4Gi", "gpu": 1},
    {"name": "asr-batch", "service": "asr", "args": ["--pool", "batch"], "group": "stt-asr-batch",
     "topic": "stt.audio.chunks.batch.v1", "lag": 50, "cpu": "2", "memory": "4Gi", "gpu": 1},
    {"name": "diarize-realtime", "service": "diarize", "args": ["--pool", "realtime"],
     "group": "stt-diarize-realtime", "topic": "stt.audio.chunks.realtime.v1", "lag": 8, "cpu": "2",
     "memory": "6Gi", "gpu": 1, "env": {"STT_DIARIZE_STATE_DIR": "/state"}},
    {"name": "diarize-batch", "service": "diarize", "args": ["--pool", "batch"], "group": "stt-diarize-batch",
     "topic": "stt.audio.chunks.batch.v1", "lag": 100, "cpu": "2", "memory": "6Gi", "gpu": 1,
     "env": {"STT_DIARIZE_STATE_DIR": "/state"}},
    {"name": "redact", "service": "redact", "args": [], "group": "stt-redact", "topic": "stt.transcripts.v1",
     "lag": 50, "cpu": "1", "memory": "3Gi"},
    {"name": "quality", "service": "quality", "args": [], "group": "stt-quality",
     "topic": "stt.transcripts.v1", "lag": 100, "cpu": "1", "memory": "2Gi",
     "env": {"STT_QUALITY_DATADIR": "/state"}},
    # against a ClickHouse server the sink scales like any consumer; embedded chDB is one replica
    {"name": "sink", "service": "sink", "args": [], "group": "stt-sink", "topic": "stt.quality.v1",
     "lag": 5000, "cpu": "1", "memory": "2Gi", "port": 8090,
     "env": {"STT_SINK_DSN": "http://stt:password@clickhouse.clickhouse.svc:8123",
             "STT_SINK_MIGRATE_ON_START": "false", "STT_SINK_HTTP_HOST": "0.0.0.0"}},
]
# fmt: on


def deployment(w: dict[str, Any]) -> dict[str, Any]:
    env = {"STT_BOOTSTRAP_SERVERS": BOOTSTRAP, "STT_METRICS_PORT": "9100", **w.get("env", {})}
    resources: dict[str, Any] = {
        "requests": {"cpu": w["cpu"], "memory": w["memory"]},
        "limits": {"memory": w["memory"]},
    }
    if w.get("gpu"):
        resources["limits"]["nvidia.com/gpu"] = w["gpu"]
    container: dict[str, Any] = {
        "name": w["service"],
        "image": IMAGE.format(service=w["service"] + ("-gpu" if w.get("gpu") else "")),
        "args": w["args"],
        "env": [{"name": k, "value": v} for k, v in env.items()],
        "ports": [{"name": "metrics", "containerPort": 9100}]
        + ([{"name": "http", "containerPort": w["port"]}] if w.get("port") else []),
        "resources": resources,
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": "metrics"},
            "periodSeconds": 15,
            "failureThreshold": 4,
        },
        "readinessProbe": {
            "httpGet": {"path": "/readyz" if w["group"] else "/healthz", "port": "metrics"},
            "periodSeconds": 10,
        },
        "startupProbe": {
            "httpGet": {"path": "/healthz", "port": "metrics"},
            "periodSeconds": 10,
            "failureThreshold": 30,
        },
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "allowPrivilegeEscalation": False},
    }
    if w["name"] == "ingest-http":  # the HTTP intake is a producer: its health is the HTTP app's
        container["ports"] = [{"name": "http", "containerPort": 8080}]
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            container[probe]["httpGet"] = {"path": "/healthz", "port": "http"}
    spec: dict[str, Any] = {"containers": [container], "terminationGracePeriodSeconds": 60}
    if "STT_DIARIZE_STATE_DIR" in env or "STT_QUALITY_DATADIR" in env:
        container["volumeMounts"] = [{"name": "state", "mountPath": "/state"}]
        spec["volumes"] = [{"name": "state", "emptyDir": {}}]
    labels = {"app.kubernetes.io/name": w["name"], "app.kubernetes.io/part-of": "stt-mesh"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": w["name"], "labels": labels},
        "spec": {
            "replicas": w.get("replicas", 1),
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": spec},
        },
    }


def scaled_object(w: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": w["name"]},
        "spec": {
            "scaleTargetRef": {"name": w["name"]},
            "minReplicaCount": 1,
            "maxReplicaCount": partitions(w["topic"]),
            "cooldownPeriod": 300,
            "triggers": [
                {
                    "type": "kafka",
                    "metadata": {
                        "bootstrapServers": BOOTSTRAP,
                        "consumerGroup": w["group"],
                        "topic": w["topic"],
                        "lagThreshold": str(w["lag"]),
                        "activationLagThreshold": "1",
                        "offsetResetPolicy": "earliest",
                    },
                }
            ],
        },
    }


def service(w: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": w["name"].removesuffix("-http")},
        "spec": {
            "selector": {"app.kubernetes.io/name": w["name"]},
            "ports": [{"name": "http", "port": w["port"], "targetPort": "http"}],
        },
    }


def documents(w: dict[str, Any]) -> list[dict[str, Any]]:
    docs = [deployment(w)]
    if w.get("port"):
        docs.append(service(w))
    if w["group"]:
        docs.append(scaled_object(w))
    return docs


def render(w: dict[str, Any]) -> str:
    head = f"# {w['name']}: generated by `python -m infra.k8s.generate` from its WORKLOADS table\n"
    return head + yaml.dump_all(documents(w), Dumper=_NoAliases, sort_keys=False)


class _NoAliases(yaml.SafeDumper):
    """Plain YAML: a label map used twice is written twice, not as an anchor and alias."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def main() -> None:
    for w in WORKLOADS:
        (HERE / f"{w['name']}.yaml").write_text(render(w))


if __name__ == "__main__":
    main()
