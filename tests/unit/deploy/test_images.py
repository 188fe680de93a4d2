"""The per-service images, checked statically (no container engine runs here): each copies
only the shared runtime (mesh/, schemas/) and its own service, installs only its own extra,
runs as a non-root user with a health check, and starts a module that exists. The GPU variants
(``Dockerfile.gpu`` of asr and diarize) pass the same checks, start from a CUDA base whose major
version is the one their engine (CTranslate2, torch) is built for, match their CPU image apart
from the base, and are the images the Kubernetes manifests request GPUs for (``*-gpu``)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
GPU_DOCKERFILES = sorted(ROOT.glob("services/*/Dockerfile.gpu"))
DOCKERFILES = sorted(ROOT.glob("services/*/Dockerfile")) + GPU_DOCKERFILES
ALLOWED_ALWAYS = {"pyproject.toml", "README.md", "constraints.txt", "mesh", "schemas", "services/__init__.py"}
EXTRA_PATHS = {"sink": {"infra/__init__.py", "infra/clickhouse"}}  # the ClickHouse migrations


def service_of(path: Path) -> str:
    return path.parent.name


def image_of(path: Path) -> str:
    """``asr`` for services/asr/Dockerfile, ``asr-gpu`` for its Dockerfile.gpu."""
    return service_of(path) + ("-gpu" if path.suffix == ".gpu" else "")


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=image_of)
def test_an_image_copies_only_the_shared_runtime_and_its_own_service(dockerfile: Path) -> None:
    svc = service_of(dockerfile)
    sources = {
        src
        for line in dockerfile.read_text().splitlines()
        if line.startswith("COPY ")
        for src in line.split()[1:-1]
    }
    allowed = ALLOWED_ALWAYS | {f"services/{svc}"} | EXTRA_PATHS.get(svc, set())
    assert sources <= allowed, f"{svc} image copies {sorted(sources - allowed)}"
    for src in sources:
        assert (ROOT / src).exists(), f"{svc} image copies {src}, which does not exist"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=image_of)
def test_an_image_installs_its_extra_runs_as_non_root_and_starts_an_existing_module(dockerfile: Path) -> None:
    svc, text = service_of(dockerfile), dockerfile.read_text()
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    installed = re.findall(r'pip install -c constraints\.txt "\.\[([\w,]+)\]"', text)
    assert installed and set(installed[0].split(",")) <= {svc, *(e for e in extras if e != "all")}
    assert svc in installed[0].split(",") and "all" not in installed[0]
    assert re.search(r"^USER (?!root)\S+", text, flags=re.M), f"{svc} runs as root"
    assert "HEALTHCHECK" in text
    [entry] = re.findall(r'^ENTRYPOINT \["python", "-m", "([\w.]+)"\]', text, flags=re.M)
    module = ROOT.joinpath(*entry.split("."))
    assert (module / "__main__.py").is_file() or module.with_suffix(".py").is_file(), entry


# -- GPU variants -------------------------------------------------------------------------------
CUDA_BASE = re.compile(r"^FROM nvidia/cuda:(\d+)\.(\d+)\.(\d+)-(base|runtime|cudnn-runtime)-ubuntu\d+\.\d+$")


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments dropped."""
    out, pending = [], ""
    for line in dockerfile.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip().removesuffix("\\") + " " if line.rstrip().endswith("\\") else line
        if not line.rstrip().endswith("\\"):
            word, _, rest = pending.strip().partition(" ")
            out.append((word.upper(), " ".join(rest.split())))
            pending = ""
    return out


def env_of(dockerfile: Path) -> dict[str, str]:
    return dict(
        pair.split("=", 1)
        for kind, args in instructions(dockerfile)
        if kind == "ENV"
        for pair in args.split()
    )


def constraint(name: str) -> str:
    [line] = [x for x in (ROOT / "constraints.txt").read_text().splitlines() if x.startswith(f"{name}==")]
    return line.split("==", 1)[1]


def test_asr_and_diarize_and_only_they_have_gpu_variants_named_as_the_manifests_request() -> None:
    from infra.k8s.generate import IMAGE, WORKLOADS, deployment

    assert {service_of(p) for p in GPU_DOCKERFILES} == {"asr", "diarize"}
    gpu_images = {
        deployment(w)["spec"]["template"]["spec"]["containers"][0]["image"] for w in WORKLOADS if w.get("gpu")
    }
    assert gpu_images == {IMAGE.format(service=image_of(p)) for p in GPU_DOCKERFILES}
    for p in GPU_DOCKERFILES:  # the build command in the header tags the image the manifests run
        assert f"-t {IMAGE.format(service=image_of(p))} ." in p.read_text(), p


@pytest.mark.parametrize("dockerfile", GPU_DOCKERFILES, ids=image_of)
def test_a_gpu_image_starts_from_a_cuda_runtime_base_with_python_3_11(dockerfile: Path) -> None:
    froms = [args for kind, args in instructions(dockerfile) if kind == "FROM"]
    assert len(froms) == 1 and CUDA_BASE.match(f"FROM {froms[0]}"), froms  # no devel image, one stage
    env = env_of(dockerfile)
    assert env["PATH"].startswith(f"{env['VIRTUAL_ENV']}/bin:")  # `python` is the venv's 3.11
    runs = " ".join(args for kind, args in instructions(dockerfile) if kind == "RUN")
    assert "python3.11 -m venv " + env["VIRTUAL_ENV"] in runs and "python3.11-venv" in runs


def cuda_major(dockerfile: Path) -> int:
    [base] = [args for kind, args in instructions(dockerfile) if kind == "FROM"]
    match = CUDA_BASE.match(f"FROM {base}")
    assert match
    return int(match.group(1))


def test_the_asr_gpu_base_has_the_cuda_major_ctranslate2_loads_cublas_of() -> None:
    """CTranslate2's PyPI wheel loads cuBLAS from the system; the base image must carry that
    major version (libcublas.so.12 for the 4.x wheels). Read from the installed library."""
    import importlib.metadata
    import mmap

    dist = importlib.metadata.distribution("ctranslate2")
    assert dist.version == constraint("ctranslate2")
    libs = [f for f in dist.files or [] if f.name.startswith("libctranslate2")]
    if not libs:
        pytest.skip("this CTranslate2 build has no separate library to read")
    with open(libs[0].locate(), "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        found = re.findall(rb"libcublas\.so\.(\d+)", data)
    assert found, "CTranslate2 names no cuBLAS library"
    assert {int(m) for m in found} == {cuda_major(ROOT / "services/asr/Dockerfile.gpu")}


def test_the_diarize_gpu_base_has_the_cuda_major_torch_is_built_for() -> None:
    """torch from PyPI brings its CUDA libraries as wheels (cuda-toolkit==X); the base sets the
    host driver requirement, so it must be of the same major version."""
    import importlib.metadata

    assert importlib.metadata.version("torch") == constraint("torch")
    [toolkit] = [r for r in importlib.metadata.requires("torch") or [] if r.startswith("cuda-toolkit")]
    version = re.search(r"==([\d.]+)", toolkit)
    assert version and version.group(1) == constraint("cuda-toolkit")
    assert int(version.group(1).split(".")[0]) == cuda_major(ROOT / "services/diarize/Dockerfile.gpu")


@pytest.mark.parametrize("dockerfile", GPU_DOCKERFILES, ids=image_of)
def test_a_gpu_image_is_its_cpu_image_on_another_base(dockerfile: Path) -> None:
    """Same files, installs, user, ports, volumes, health check, entry point and settings."""
    cpu = dockerfile.with_name("Dockerfile")
    same = ("COPY", "WORKDIR", "USER", "EXPOSE", "VOLUME", "HEALTHCHECK", "ENTRYPOINT", "CMD")

    def kept(path: Path) -> list[tuple[str, str]]:
        return [(k, a) for k, a in instructions(path) if k in same]

    def installs(path: Path) -> list[str]:
        return [a for k, a in instructions(path) if k == "RUN" and "constraints.txt" in a]

    assert kept(dockerfile) == kept(cpu)
    assert installs(dockerfile) == installs(cpu)
    assert env_of(cpu).items() <= env_of(dockerfile).items()
