"""The Kubernetes manifests (infra/k8s/), checked statically: no cluster runs here.

They are what ``python -m infra.k8s.generate`` writes; every document parses and has the
fields its kind needs; every service and pool has a Deployment with probes and resource
requests (GPUs for asr and diarize); every consumer group scales on its lag with a threshold,
an activation threshold and at most as many replicas as its topic has partitions; and every
STT_* variable a manifest sets is a real setting of the service it configures.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from infra.k8s import generate

K8S = Path(generate.__file__).resolve().parent
FILES = sorted(K8S.glob("*.yaml"))
SETTINGS = {
    "STT_ASR_": ("services.asr.config", "AsrSettings"),
    "STT_DIARIZE_": ("services.diarize.config", "DiarizeSettings"),
    "STT_REDACT_": ("services.redact.config", "RedactSettings"),
    "STT_QUALITY_": ("services.quality.config", "QualitySettings"),
    "STT_SINK_": ("services.sink.config", "SinkSettings"),
    "STT_INGEST_": ("services.ingest.config", "IngestSettings"),
    "STT_": ("mesh.settings", "MeshSettings"),
}


def docs() -> list[dict[str, Any]]:
    return [d for f in FILES for d in yaml.safe_load_all(f.read_text())]


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [d for d in docs() if d["kind"] == kind]


def test_the_files_are_what_the_generator_writes() -> None:
    expected = {f"{w['name']}.yaml": generate.render(w) for w in generate.WORKLOADS}
    assert {f.name: f.read_text() for f in FILES} == expected, "run `python -m infra.k8s.generate`"


def test_each_service_and_pool_has_a_deployment_with_probes_and_requests() -> None:
    deployments = {d["metadata"]["name"]: d for d in of_kind("Deployment")}
    assert {
        "ingest",
        "ingest-http",
        "asr-realtime",
        "asr-batch",
        "diarize-realtime",
        "diarize-batch",
        "redact",
        "quality",
        "sink",
    } <= set(deployments)
    for name, d in deployments.items():
        [c] = d["spec"]["template"]["spec"]["containers"]
        assert {"livenessProbe", "readinessProbe", "startupProbe"} <= set(c), name
        assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"], name
        assert c["securityContext"]["runAsNonRoot"] is True, name
        gpu = c["resources"].get("limits", {}).get("nvidia.com/gpu")
        assert (gpu is not None) == name.startswith(("asr", "diarize")), name
        labels = d["spec"]["template"]["metadata"]["labels"]
        assert d["spec"]["selector"]["matchLabels"].items() <= labels.items(), name


def test_every_group_scales_on_lag_up_to_its_partition_count() -> None:
    scaled = of_kind("ScaledObject")
    targets = {d["metadata"]["name"] for d in of_kind("Deployment")}
    assert len(scaled) == sum(1 for w in generate.WORKLOADS if w["group"])
    for s in scaled:
        [trigger] = s["spec"]["triggers"]
        meta = trigger["metadata"]
        assert trigger["type"] == "kafka" and s["spec"]["scaleTargetRef"]["name"] in targets
        assert int(meta["lagThreshold"]) > 0 and int(meta["activationLagThreshold"]) >= 0
        assert 1 <= s["spec"]["maxReplicaCount"] <= generate.partitions(meta["topic"]), s["metadata"]["name"]
    # the realtime pools may grow further than the batch ones: their topic has more partitions
    by_name = {s["metadata"]["name"]: s["spec"]["maxReplicaCount"] for s in scaled}
    assert by_name["asr-realtime"] == generate.partitions("stt.audio.chunks.realtime.v1") == 6
    assert by_name["asr-batch"] == generate.partitions("stt.audio.chunks.batch.v1") == 3


def settings_class(var: str) -> type[BaseSettings]:
    prefix = next(p for p in SETTINGS if var.startswith(p))
    module, name = SETTINGS[prefix]
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("doc", of_kind("Deployment"), ids=lambda d: d["metadata"]["name"])
def test_every_variable_a_manifest_sets_is_a_real_setting(doc: dict[str, Any]) -> None:
    [c] = doc["spec"]["template"]["spec"]["containers"]
    for var in (e["name"] for e in c["env"]):
        cls = settings_class(var)
        prefix = cls.model_config.get("env_prefix", "")
        field = var.removeprefix(prefix.upper()).split("__")[0].lower()
        name = doc["metadata"]["name"]
        assert field in cls.model_fields, f"{name}: {var} is not a setting of {cls.__name__}"


def test_the_setting_check_would_catch_a_typo() -> None:
    cls = settings_class("STT_ASR_MODLE")
    assert "modle" not in cls.model_fields


# Kubernetes' own OpenAPI schemas, as kubernetes-validate ships them (strict: no unknown
# fields). KEDA's ScaledObject is a CRD with no schema there; the scaling test above checks it.
SCHEMA_KINDS = {"Deployment", "Service"}


@pytest.mark.parametrize(
    "doc",
    [d for d in docs() if d["kind"] in SCHEMA_KINDS],
    ids=lambda d: f"{d['kind']}/{d['metadata']['name']}",
)
def test_every_core_manifest_passes_the_kubernetes_schema(doc: dict[str, Any]) -> None:
    import kubernetes_validate

    kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


def test_every_manifest_kind_is_schema_checked_or_a_known_crd() -> None:
    assert {d["kind"] for d in docs()} == SCHEMA_KINDS | {"ScaledObject"}


def test_the_schema_check_would_catch_a_misplaced_field() -> None:
    import kubernetes_validate

    (deployment, *_) = of_kind("Deployment")
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    container = broken["spec"]["template"]["spec"]["containers"][0]
    container["resource"] = container.pop("resources")  # a typo kubectl would reject
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, kubernetes_validate.latest_version(), strict=True)
