"""Generate tests/data/pii_asr.jsonl: ASR transcripts of spoken PII from the real models.

    .venv/bin/python tests/data/make_pii_asr.py   # needs espeak-ng; a few minutes on CPU

Each script of ``pii_templates_v2.ASR_SCRIPTS`` is said by espeak-ng (150 words a minute) and
transcribed by faster-whisper tiny.en and base, loaded as the ASR service loads them
(services/asr/models.py), on CPU in int8 with the VAD filter and word timestamps. The
transcript is the text the redaction service analyses: the words joined as
services/redact/worker.build_layout joins them. Rows hold the script, the model and the
transcript; their labels are written by hand in pii_asr_labels.txt, and make_pii_eval.py
merges both into pii_eval.jsonl, so no test needs a model.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE))

from pii_templates_v2 import ASR_SCRIPTS  # noqa: E402

from services.asr.config import AsrSettings  # noqa: E402
from services.asr.models import resolve  # noqa: E402
from services.redact.worker import build_layout  # noqa: E402

OUT = HERE / "pii_asr.jsonl"
MODELS = ("tiny.en", "base")


def transcribe(model, wav: Path) -> str:
    segments, _ = model.transcribe(
        str(wav), language="en", beam_size=5, vad_filter=True, word_timestamps=True
    )
    words = [{"word": w.word, "start_s": w.start, "end_s": w.end} for s in segments for w in (s.words or [])]
    return build_layout([words]).text


def main() -> None:
    """Transcribe the scripts that have no transcript yet; keep the stored ones (they were
    labelled by hand)."""
    from faster_whisper import WhisperModel

    cache = AsrSettings().model_cache_dir
    rows = [json.loads(line) for line in OUT.read_text().splitlines()] if OUT.exists() else []
    have = {(r["split"], r["model"], r["script"]) for r in rows}
    todo = {
        (split, k): script
        for split, scripts in ASR_SCRIPTS.items()
        for k, script in enumerate(scripts)
        if any((split, m, script) not in have for m in MODELS)
    }
    with tempfile.TemporaryDirectory() as tmp:
        wavs = {}
        for (split, k), script in todo.items():
            wav = Path(tmp) / f"{split}-{k:02d}.wav"
            subprocess.run(["espeak-ng", "-s", "150", "-w", str(wav), script], check=True)
            wavs[(split, k)] = wav
        for name in MODELS if wavs else ():
            resolved = resolve(name, cache)
            model = WhisperModel(str(resolved.path), device="cpu", compute_type="int8", cpu_threads=2)
            for (split, k), wav in wavs.items():
                if (split, name, todo[(split, k)]) in have:
                    continue
                rows.append(
                    {
                        "id": f"{split}-asr-{k:02d}-{name}",
                        "split": split,
                        "model": name,
                        "script": todo[(split, k)],
                        "transcript": transcribe(model, wav),
                    }
                )
                print(rows[-1]["id"], rows[-1]["transcript"], flush=True)
    with OUT.open("w") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    print(f"{len(rows)} transcripts in {OUT}")


if __name__ == "__main__":
    main()
