"""infra/compose.yaml, checked statically (no container engine runs here): it parses, has
the whole stack (Kafka, ClickHouse, every service and pool, Prometheus, Grafana), builds each
service from its own Dockerfile, sets only real settings, and mounts files that exist;
Prometheus' config passes ``promtool check config``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.unit.deploy.test_k8s import settings_class

INFRA = Path(__file__).resolve().parents[3] / "infra"
COMPOSE = yaml.safe_load((INFRA / "compose.yaml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]


def test_the_whole_stack_is_there() -> None:
    assert {
        "kafka",
        "clickhouse",
        "ingest",
        "ingest-http",
        "asr-realtime",
        "asr-batch",
        "diarize-realtime",
        "diarize-batch",
        "redact",
        "quality",
        "sink",
        "prometheus",
        "grafana",
    } <= set(SERVICES)


def test_each_service_builds_from_a_dockerfile_that_exists() -> None:
    for name, svc in SERVICES.items():
        if "build" in svc:
            dockerfile = (INFRA / svc["build"]["context"] / svc["build"]["dockerfile"]).resolve()
            assert dockerfile.is_file(), f"{name}: {dockerfile}"


def test_every_stt_variable_is_a_real_setting() -> None:
    for name, svc in SERVICES.items():
        for var in svc.get("environment") or {}:
            if not var.startswith("STT_"):
                continue
            cls = settings_class(var)
            field = var.removeprefix(cls.model_config.get("env_prefix", "").upper()).split("__")[0].lower()
            assert field in cls.model_fields, f"{name}: {var} is not a setting of {cls.__name__}"


def test_mounted_files_exist_and_prometheus_config_is_valid() -> None:
    for name, svc in SERVICES.items():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (INFRA / source).exists(), f"{name}: {source}"
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: `make system-deps` installs Debian's prometheus package"
    out = subprocess.run(
        [tool, "check", "config", str(INFRA / "prometheus" / "prometheus.yml")],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    config = yaml.safe_load((INFRA / "prometheus" / "prometheus.yml").read_text())
    scraped = {
        t.split(":")[0]
        for job in config["scrape_configs"]
        for sc in job["static_configs"]
        for t in sc["targets"]
    }
    assert scraped <= set(SERVICES), scraped - set(SERVICES)


def test_the_gpu_override_runs_asr_and_diarize_from_their_cuda_images_with_a_gpu_each() -> None:
    gpu = yaml.safe_load((INFRA / "compose.gpu.yaml").read_text())["services"]
    assert set(gpu) == {"asr-realtime", "asr-batch", "diarize-realtime", "diarize-batch"} <= set(SERVICES)
    for name, svc in gpu.items():
        dockerfile = INFRA / svc["build"]["context"] / svc["build"]["dockerfile"]
        assert dockerfile.name == "Dockerfile.gpu" and dockerfile.resolve().is_file(), name
        assert dockerfile.parent.name == name.split("-")[0], f"{name} builds another service's image"
        (device,) = svc["deploy"]["resources"]["reservations"]["devices"]
        assert device["driver"] == "nvidia" and device["count"] == 1 and "gpu" in device["capabilities"]
