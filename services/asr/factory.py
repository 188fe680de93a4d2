"""Building engines from settings: registry lookup, device choice, model load.

Kept apart from ``engine.py`` so nothing loads weights at import time and tests can build a
worker around fakes without touching this module.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from services.asr.config import AsrSettings, Pool
from services.asr.device import choose_device, load_with_fallback
from services.asr.engine import Engine, WhisperEngine
from services.asr.models import resolve
from services.asr.results import ModelInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Engines:
    main: Engine
    fallback: Engine | None = None
    low_snr: Engine | None = None
    candidate: Engine | None = None  # the rollout's candidate arm


def build_engine(name: str, settings: AsrSettings) -> WhisperEngine:
    from faster_whisper import WhisperModel

    resolved = resolve(
        name, settings.model_cache_dir, settings.model_paths, allow_download=settings.allow_download
    )
    choice = choose_device(settings.device, settings.compute_type, settings.cpu_compute_type)
    model, choice = load_with_fallback(
        WhisperModel,
        str(resolved.path),
        choice,
        settings.cpu_compute_type,
        device_index=settings.device_index,
        cpu_threads=settings.cpu_threads,
    )
    log.info(
        "loaded %s (%s) on %s/%s: %s",
        resolved.name,
        resolved.version,
        choice.device,
        choice.compute_type,
        choice.reason,
    )
    info = ModelInfo(resolved.name, resolved.version, resolved.sha256, choice.compute_type, choice.device)
    return WhisperEngine(model, info, settings.decode)


def build_engines(
    settings: AsrSettings,
    pool: Pool | None = None,
    *,
    build: Callable[[str, AsrSettings], WhisperEngine] = build_engine,
) -> Engines:
    """Main model of the pool, plus fallback, low-SNR and candidate models (each loaded once).

    The candidate decodes with the rollout's overrides; when it names weights loaded already
    (the main model with another beam size or VAD threshold) it shares them.
    """
    loaded: dict[str, WhisperEngine] = {}

    def get(name: str | None) -> WhisperEngine | None:
        if name is None:
            return None
        if name not in loaded:
            loaded[name] = build(name, settings)
        return loaded[name]

    main = get(settings.main_model(pool))
    assert main is not None
    fallback = get(settings.fallback_model)
    if fallback is main:
        fallback = None  # retrying on the same weights would only fail the same way
    low_snr = get(settings.low_snr_model) if settings.low_snr_db is not None else None
    return Engines(main, fallback, low_snr, _candidate(settings, get(settings.rollout.candidate_model), main))


def _candidate(
    settings: AsrSettings, engine: WhisperEngine | None, main: WhisperEngine
) -> WhisperEngine | None:
    if engine is None:
        return None
    options = settings.candidate_options()
    if options != engine.options:
        return engine.with_options(options)
    if engine is main:
        log.warning(
            "rollout candidate %s is the main model with no decode overrides: "
            "there is nothing to compare, no candidate arm",
            settings.rollout.candidate_model,
        )
        return None
    return engine
