"""Restore the capitals that lower-case ASR output lost, so NER and the name gazetteer can
see names again ("okay john smith i have updated the record" -> "okay John Smith i ...").

Whisper usually capitalises names; other engines and the small models often do not, and a
spaCy model trained on edited text finds almost no lower-case name. Truecasing changes only
the case of first letters, so every offset of the truecased text is an offset of the
original one: NER runs on the truecased text, recognizers report spans of the original.

Which words are capitalised (fail closed: a wrongly capitalised word costs a little
precision, a name left lower-case leaks):
* a known given name (``gazetteer.census_given_names``) that is not a common lower-case word;
* a known surname right after a given name ("john smith");
* a word more often written capitalised than not ("london", "leeds"), and after a place
  preposition ("in", "from", "to" ...) or a street type ("baker street london") also a word
  the model has never seen;
* a word of four or more letters that the model has never seen in either casing and that is
  no common word: the rare words of a call are mostly names ("ngozi", "okonjo").

"Common lower-case word" comes from the medium spaCy model's vector table, whose 514,000
keys are the tokens of its training text in frequency order: a word is common in lower
case when its lower-case form ranks within three times the rank of its capitalised form
("will" 49 vs "Will" 1,258 is a word; "john" 20,151 vs "John" 344 is not). The ranks are
held as one sorted array of key hashes (a few MB), not as a dictionary of strings. A model
without vectors leaves only the given-name and surname rules.
"""

from __future__ import annotations

import functools
import itertools
import logging
from collections.abc import Callable

import numpy as np
from presidio_analyzer import EntityRecognizer, RecognizerResult
from spacy.language import Language

from services.redact import gazetteer, spoken
from services.redact.names import CALENDAR_WORDS, COMMON_WORDS
from services.redact.recognizers import STREET_TYPES

log = logging.getLogger(__name__)
RANK_RATIO = 3
UNSEEN = float("inf")
# fmt: off
PLACE_PREPOSITIONS = frozenset({"in", "from", "to", "near", "at", "outside", "around",
                                "visiting", "into", *STREET_TYPES.split("|")})
# fmt: on
NOT_NAMES = COMMON_WORDS | CALENDAR_WORDS


@functools.cache
def census_surnames() -> frozenset[str]:
    """Lower-cased surnames from the ``names`` package (US Census 1990), or an empty set."""
    try:
        return frozenset(gazetteer.read_census_names("dist.all.last"))
    except (ModuleNotFoundError, FileNotFoundError):
        return frozenset()


class Ranks:
    """Frequency rank of every key of a spaCy vector table, by string."""

    def __init__(self, keys: np.ndarray, key_of: Callable[[str], int]):
        order = np.argsort(keys, kind="stable")
        self._keys = keys[order]
        self._ranks = order
        self._key_of = key_of

    @classmethod
    def from_nlp(cls, nlp: Language) -> Ranks:
        key2row = getattr(nlp.vocab.vectors, "key2row", None) or {}
        # The vocabulary's own key: spaCy's symbols ("mark", "lemma" ...) are small ids, not
        # string hashes; looking a str up never adds it to the store.
        return cls(
            np.fromiter(key2row.keys(), dtype=np.uint64, count=len(key2row)),
            key_of=nlp.vocab.strings.__getitem__,
        )

    def __len__(self) -> int:
        return len(self._keys)

    def get(self, word: str) -> float:
        if not len(self._keys):
            return UNSEEN
        key = np.uint64(self._key_of(word))
        i = int(np.searchsorted(self._keys, key))
        return float(self._ranks[i]) if i < len(self._keys) and self._keys[i] == key else UNSEEN


class Truecaser:
    """Capitalises the names and places of lower-case text (see the module docstring)."""

    def __init__(
        self,
        ranks: Ranks | None = None,
        given_names: frozenset[str] | None = None,
        surnames: frozenset[str] | None = None,
    ):
        self.ranks = ranks if ranks is not None else Ranks(np.zeros(0, dtype=np.uint64), hash)
        self.given = given_names if given_names is not None else gazetteer.census_given_names()
        self.surnames = surnames if surnames is not None else census_surnames()

    @classmethod
    def from_nlp(cls, nlp: Language) -> Truecaser:
        ranks = Ranks.from_nlp(nlp)
        if not len(ranks):
            log.info("spaCy model has no vectors: truecasing by name lists only")
        return cls(ranks)

    def common_lower(self, word: str) -> bool:
        """True when ``word`` is an everyday lower-case word (not mostly a name)."""
        if word in NOT_NAMES:
            return True
        low = self.ranks.get(word)
        return low != UNSEEN and low < RANK_RATIO * self.ranks.get(word.capitalize())

    def mostly_capitalised(self, word: str) -> bool:
        cap = self.ranks.get(word.capitalize())
        return cap != UNSEEN and cap * RANK_RATIO <= self.ranks.get(word)

    def unknown(self, word: str) -> bool:
        return (
            bool(len(self.ranks))
            and self.ranks.get(word) == UNSEEN
            and self.ranks.get(word.capitalize()) == UNSEEN
        )

    def truecase(self, text: str) -> str:
        """``text`` with the first letter of its lower-case names capitalised."""
        if not any(c.isalpha() and c.islower() for c in text):
            return text
        chars = list(text)
        prev_name = False
        prev_word = ""
        for tok in spoken.tokenize(text):
            core = tok.core
            if core.endswith(("'s", "\u2019s")) and len(core) > 3:  # "guinevere's"
                core = core[:-2]
            word = core.lower()
            if not (core.isalpha() and core.islower() and len(core) > 1):
                prev_name = core[:1].isupper() and word in self.given
                prev_word = word
                continue
            name = self._is_name(word, prev_name, prev_word)
            if name:
                chars[tok.start] = core[0].upper()
            prev_name = name and word in self.given
            prev_word = word
        return "".join(chars)

    def acronym(self, word: str) -> bool:
        """\"iban", "bbc": more often written in capitals than capitalised."""
        upper = self.ranks.get(word.upper())
        return upper != UNSEEN and upper < self.ranks.get(word.capitalize())

    def _is_name(self, word: str, prev_name: bool, prev_word: str) -> bool:
        if self.common_lower(word) or self.acronym(word):
            return False
        if word in self.given:
            return True
        if prev_name and word in self.surnames:
            return True
        if len(word) > 2 and self.mostly_capitalised(word):
            return True
        if prev_word in PLACE_PREPOSITIONS and self.unknown(word):
            return True
        return len(word) >= 4 and self.unknown(word)


PLACE_CUES = frozenset({"in", "from", "near", "outside", "around", "visiting", "into"})


class TruecasedNameRecognizer(EntityRecognizer):
    """PERSON in text without any capital letter (lower-case ASR): a run of up to three words
    that truecasing capitalised, unless a place word comes right before it ("in", "from",
    "near" ...). Fail closed: NER misses most such names even once capitalised, and calls
    many of them places or companies.

    A run holding a known given name or a word the model never saw scores above NER (0.9),
    so "it was Seraphina" stays a person when NER says GPE; a run of words the model knows
    as mostly capitalised ("netflix", "leeds"), or any run right after "to", scores below
    NER (0.6), so NER's place label wins; a known word NER calls a company or product is
    dropped."""

    KNOWN_SCORE, SHAPE_SCORE = 0.9, 0.6

    def __init__(self, truecaser: Truecaser | None = None, supported_language: str = "en"):
        self.truecaser = truecaser
        super().__init__(
            supported_entities=["PERSON"],
            name="TruecasedNameRecognizer",
            supported_language=supported_language,
        )

    def load(self) -> None:
        return None

    def analyze(self, text, entities, nlp_artifacts=None):
        doc = getattr(nlp_artifacts, "tokens", None)
        if (
            (entities and "PERSON" not in entities)
            or doc is None
            or doc.text == text
            or len(doc.text) != len(text)
            or any(c.isupper() for c in text)
        ):
            return []
        cased, out = doc.text, []
        orgs = [(e.start_char, e.end_char) for e in doc.ents if e.label_ in ("ORG", "PRODUCT")]
        toks = spoken.tokenize(text)
        i = 0
        while i < len(toks):
            k = i
            while k < len(toks) and k - i < 3 and cased[toks[k].start].isupper():
                k += 1
                if toks[k - 1].punct_after.strip():
                    break
            if k == i or (i > 0 and toks[i - 1].core.lower() in PLACE_CUES):
                i = max(k, i + 1)
                continue
            score = self._score(toks[i:k], orgs, toks[i - 1].core.lower() if i else "")
            if score:
                out.append(
                    RecognizerResult(
                        entity_type="PERSON",
                        start=toks[i].start,
                        end=toks[k - 1].end,
                        score=score,
                        recognition_metadata={
                            RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                        },
                    )
                )
            i = k
        return out

    def _score(self, run: list[spoken.Token], orgs: list[tuple[int, int]], prev: str) -> float:
        given = gazetteer.census_given_names()
        words = [t.core.lower().removesuffix("'s") for t in run]
        tc = self.truecaser
        if prev == "to":  # "moved to houston" (a given name too): NER's place label wins
            return self.SHAPE_SCORE
        if any(w in given or (tc is not None and tc.unknown(w)) for w in words):
            return self.KNOWN_SCORE
        if any(s <= run[0].start < e for s, e in orgs):
            return 0.0  # "bought it from amazon": a known word NER calls a company
        return self.SHAPE_SCORE


class TruecasedPlaceRecognizer(EntityRecognizer):
    """LOCATION: a word of lower-case text that truecasing capitalised right after "in",
    "from", "near" ... ("i'm staying in coventry") that is no given name; after "from" also
    not a word NER calls a company or product ("bought it from amazon"). Scored below
    NER, so NER's own label for the word wins; NER misses many lower-case places even
    once they are capitalised."""

    SCORE = 0.6

    def __init__(self, supported_language: str = "en"):
        super().__init__(
            supported_entities=["LOCATION"],
            name="TruecasedPlaceRecognizer",
            supported_language=supported_language,
        )

    def load(self) -> None:
        return None

    def analyze(self, text, entities, nlp_artifacts=None):
        doc = getattr(nlp_artifacts, "tokens", None)
        if (
            (entities and "LOCATION" not in entities)
            or doc is None
            or doc.text == text
            or len(doc.text) != len(text)
        ):
            return []
        cased, given = doc.text, gazetteer.census_given_names()
        orgs = [(e.start_char, e.end_char) for e in doc.ents if e.label_ in ("ORG", "PRODUCT")]
        toks = spoken.tokenize(text)
        out = []
        for prev, tok in itertools.pairwise(toks):
            if (
                prev.core.lower() in PLACE_CUES
                and not prev.punct_after.strip()
                and tok.core.islower()
                and cased[tok.start].isupper()
                and tok.core not in given
                and not (prev.core.lower() == "from" and any(s <= tok.start < e for s, e in orgs))
            ):
                out.append(
                    RecognizerResult(
                        entity_type="LOCATION",
                        start=tok.start,
                        end=tok.end,
                        score=self.SCORE,
                        recognition_metadata={
                            RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                        },
                    )
                )
        return out
