"""PERSON from the way people introduce and address each other on a call.

A small NER model trained on written text misses many conversational names ("Yes, Marcus, I
can hold", "my wife Natalia", lower-case ASR output after "my name is") and often calls a
lone first name a place. ``NameCueRecognizer`` adds names found through cues:

* after introductions and titles: "my name is X", "this is X", "speaking with X", "Mr. X";
* after relations: "my wife X", "my manager X";
* vocatives: "Yes, X," / "Thanks, X." / "Hi X";
* before reporting verbs: "X said", "X told me", "X here";
* spelled names: letters after "spell"/"spelled", or letters spelling a word said just
  before them ("Santos, S A N T O S");
* two or three capitalised words in a row that NER did not call a place, product or date
  (ORG does not count: the small model calls many unfamiliar full names ORG), and a lone
  capitalised word inside a sentence that NER left unlabelled;
* in text with no capital letters at all (ASR without casing), lower-case words after the
  cues above, minus words that usually follow them ("my wife said", "I'm upset").

Cue-backed names score just above spaCy NER (0.85) so they win over a GPE guess for the same
words when overlapping spans are merged; names found from shape alone score below it.
"""

from __future__ import annotations

from presidio_analyzer import EntityRecognizer, RecognizerResult
from spacy.lang.en.stop_words import STOP_WORDS

from services.redact import spoken
from services.redact.recognizers import STREET_TYPES

# Words that look like names only because they start a sentence or follow a cue.
# fmt: off
COMMON_WORDS = frozenset(STOP_WORDS) | frozenset({
    "yes", "yeah", "yep", "no", "nope", "okay", "ok", "sure", "thanks", "thank", "great",
    "perfect", "alright", "right", "well", "so", "hello", "hi", "hey", "good", "absolutely",
    "um", "uh", "oh", "hmm", "let", "let's", "just", "can", "could", "would", "will", "please",
    "sorry", "actually", "one", "two", "three", "four", "five", "six", "seven", "eight",
    "nine", "zero", "and", "but", "that's", "it's", "there's", "what's", "i'm", "i'll",
    "i've", "i'd", "we're", "we'll", "we've", "you're", "got", "awesome", "wonderful",
    "excellent", "fine", "correct", "exactly", "true", "bye", "goodbye", "wait", "hold",
    "look", "listen", "see", "now", "then", "also", "anyway", "basically", "honestly",
    "really", "cool", "understood", "certainly", "definitely", "maybe", "probably",
    "unfortunately", "hopefully", "last", "next", "first", "double", "triple", "my", "your",
    "our", "their", "his", "her", "calling", "speaking", "here", "customer", "support",
    "service", "billing", "account", "card", "social", "charge", "send", "press", "reach",
    "room", "visa", "mastercard", "amex", "discover", "date", "birth", "email", "phone",
    "number", "address", "order", "sir", "madam", "ma'am", "team", "department", "manager",
    "agent", "operator", "happy", "glad", "afraid", "able", "new", "still", "looking",
    "trying", "going", "regarding", "following", "confused", "interested", "wondering",
    "done", "ready", "everyone", "guys", "folks", "bank", "listed", "changed", "spelled",
    "mr", "mrs", "ms", "miss", "dr", "mister", "doctor", "professor", "er", "erm",
    "morning", "afternoon", "evening", "night",
})
CALENDAR_WORDS = frozenset({
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december", "monday", "tuesday", "wednesday", "thursday",
    "friday", "saturday", "sunday", "today", "tomorrow", "yesterday"})
PREFIX_CUES: dict[tuple[str, ...], bool] = {  # cue words -> lower-case names allowed after
    ("my", "name", "is"): True, ("name", "is"): True, ("name's",): True, ("call", "me"): True,
    ("named",): True, ("mr",): True, ("mrs",): True, ("ms",): True, ("miss",): True,
    ("dr",): True, ("speaking", "with"): True, ("speaking", "to"): True,
    ("speak", "with"): True, ("speak", "to"): True,
    ("talking", "to"): True, ("talk", "to"): True, ("ask", "for"): True,
    ("this", "is"): False, ("i'm",): False, ("i", "am"): False, ("tell",): False,
    ("add",): False, ("call",): False, ("called",): False, ("behalf", "of"): False,
    ("reached",): False, ("it's",): False, ("me", "and"): False, ("put",): False,
    ("is", "this"): False, ("calling", "for"): False,
    **{cue: True for cue in (
        ("first", "name"), ("first", "name", "is"), ("last", "name"), ("last", "name", "is"),
        ("surname",), ("surname", "is"), ("maiden", "name"), ("maiden", "name", "is"),
        ("full", "name"), ("full", "name", "is"))},
    **{(rel,): False for rel in (
        "wife", "husband", "son", "daughter", "mother", "mom", "father", "dad", "brother",
        "sister", "boss", "manager", "colleague", "friend", "partner", "landlord", "neighbor",
        "neighbour", "grandson", "granddaughter", "grandmother", "grandfather", "uncle",
        "aunt", "cousin", "supervisor", "assistant", "roommate", "fiance", "fiancee")},
}
VOCATIVE_CUES = frozenset({"yes", "yeah", "okay", "ok", "thanks", "hi", "hello", "hey",
                           "sorry", "sure", "right", "bye", "goodbye", "morning", "afternoon",
                           "evening", "dear", "great", "perfect", "you"})
WEAK_CUES = frozenset({("it's",)})  # common enough before non-names: scored below NER
SUFFIX_CUES = frozenset({"said", "says", "told", "mentioned", "asked", "here", "speaking", "who",
                         "called"})
# Letters spelled out after these are a name ("last name, D O Y L E").
SPELL_CUES = frozenset({"spell", "spelled", "spelling", "spelt", "name", "surname"})


# NER labels that rule a capitalised run out as a name. ORG is not one: the small model
# calls many unfamiliar full names ORG ("Zoe MacLeod"), and over-redacting a company name
# costs less than leaking a person's.
NOT_PERSON_LABELS = frozenset({"PRODUCT", "NORP", "FAC", "EVENT", "WORK_OF_ART", "LAW",
                               "LANGUAGE", "GPE", "LOC", "LOCATION", "DATE", "TIME",
                               "DATE_TIME", "MONEY"})
# Words that make a capitalised run a company or product rather than a person.
BUSINESS_WORDS = frozenset({
    "bank", "inc", "corp", "corporation", "co", "llc", "ltd", "group", "insurance", "airlines",
    "airline", "teams", "depot", "store", "stores", "market", "services", "solutions",
    "university", "college", "hospital", "clinic", "pharmacy", "credit", "union", "plan",
    "premium", "pro", "plus", "prime", "center", "centre", "buy", "mart", "express", "mobile",
    "wireless", "energy", "health", "financial", "capital", "motors", "foods", "labs", "pay"})
# fmt: on
_STREET_WORDS = frozenset(STREET_TYPES.split("|"))


def is_title_word(core: str) -> bool:
    """\"Park", "O'Connor": capitalised, alphabetic, not a common or calendar word."""
    w = core.lower()
    return (
        len(core) > 1
        and core[0].isupper()
        and not core.isupper()
        and core.replace("'", "").isalpha()
        and w not in COMMON_WORDS
        and w not in CALENDAR_WORDS
        and w not in _STREET_WORDS
        and w not in BUSINESS_WORDS
    )


# fmt: off
ARTICLES = frozenset({"the", "a", "an", "my", "your", "our", "their", "his", "her", "this",
                      "that", "these", "those", "some", "any", "new", "old"})
# fmt: on


# Words that follow "i'm" / "my wife" in lower-case text and are not names.
# fmt: off
CASELESS_NON_NAMES = frozenset({
    "upset", "tired", "worried", "available", "home", "late", "back", "busy", "married",
    "single", "retired", "away", "out", "frustrated", "annoyed", "disappointed", "curious",
    "concerned", "aware", "unsure", "positive", "certain", "said", "says", "told", "asked",
    "wants", "needs", "has", "had", "was", "is", "got", "gets", "uses", "handles", "works",
    "lives", "share", "shares", "usually", "always", "never", "also", "just", "still",
    "sick", "fine", "glad", "sure", "new", "old"})
# fmt: on


def _caseless_non_name(core: str) -> bool:
    w = core.lower()
    return w in CASELESS_NON_NAMES or w.endswith(("ing", "ly", "ed"))


def _opens_sentence(toks: list[spoken.Token], i: int) -> bool:
    return i == 0 or toks[i - 1].punct_after.rstrip(" \"')")[-1:] in (".", "?", "!")


def _name_like(core: str, lower_ok: bool) -> bool:
    w = core.lower()
    if not core.replace("'", "").replace("\u2019", "").isalpha() or w in COMMON_WORDS:
        return False
    if w in CALENDAR_WORDS or len(core) == 1:
        return False
    if core[0].isupper() and (len(core) == 1 or not core.isupper()):
        return True
    return lower_ok and core.islower() and not w.endswith(("ing", "ly"))


class NameCueRecognizer(EntityRecognizer):
    """PERSON from conversational cues: "my name is X", "Mr. X", "Yes, X,", "X said", and
    spelled names after "spell"/"spelled". Scored just above spaCy NER so a cue-backed
    PERSON wins over a small model's GPE guess for the same first name."""

    CUE_SCORE = 0.88
    LOWER_SCORE = 0.6
    FULL_NAME_SCORE = 0.6
    LONE_NAME_SCORE = 0.5

    def __init__(self, supported_language: str = "en"):
        super().__init__(
            supported_entities=["PERSON"], name="NameCueRecognizer", supported_language=supported_language
        )
        self._by_first: dict[str, list[tuple[tuple[str, ...], bool]]] = {}
        for cue, lower_ok in PREFIX_CUES.items():
            self._by_first.setdefault(cue[0], []).append((cue, lower_ok))

    def load(self) -> None:
        return None

    def analyze(self, text, entities, nlp_artifacts=None):
        if entities and "PERSON" not in entities:
            return []
        toks = spoken.tokenize(text)
        words = [t.core.lower().rstrip(".") for t in toks]
        caseless = not any(c.isupper() for c in text)  # ASR without casing: cues only
        doc = getattr(nlp_artifacts, "tokens", None)  # the truecased text (truecase.py)
        truecased = doc is not None and len(doc.text) == len(text)  # the detector's doc
        cased = doc.text if doc is not None and truecased else text
        spans: list[tuple[int, int, float]] = []
        for i, w in enumerate(words):
            for cue, lower_ok in self._by_first.get(w, ()):
                k = i + len(cue)
                allowed = " .," if cue[-1] in ("name", "surname") else " ."
                if tuple(words[i:k]) == cue and not toks[k - 1].punct_after.strip(allowed):
                    spans += self._name_after(
                        toks,
                        k,
                        lower_ok,
                        weak=cue in WEAK_CUES,
                        caseless=caseless,
                        cased=cased if truecased else "",
                    )
            if w in VOCATIVE_CUES and i + 1 < len(toks):
                spans += self._vocative(toks, i + 1, caseless, cased)
            if toks[i].punct_after.startswith(",") and _opens_sentence(toks, i):
                spans += self._opening_address(toks[i])
            if w in SUFFIX_CUES and i > 0 and not toks[i - 1].punct_after.strip():
                spans += self._name_before(toks, i, cased)
            if w in SPELL_CUES:
                spans += self._spelled_after(toks, i + 1)
            spans += self._full_name(toks, i, nlp_artifacts)
            if len(w) == 1 and (i == 0 or len(words[i - 1]) > 1):
                spans += self._spelling_of_previous(toks, words, i)
        return [self._result(s, e, score) for s, e, score in spans]

    def _name_after(
        self,
        toks: list[spoken.Token],
        j: int,
        lower_ok: bool,
        weak: bool = False,
        caseless: bool = False,
        cased: str = "",
    ) -> list:
        """Name words after a cue. After a weak cue in caseless text ("called", "tell"),
        a word counts only if truecasing (``cased``, when given) took it for a name:
        "kwame asante called earlier" holds no name after "called"."""
        strong = lower_ok
        guarded = caseless and not strong  # "my wife said": a verb, not a name
        if guarded and cased and j < len(toks) and not cased[toks[j].start].isupper():
            return []
        if not lower_ok and j < len(toks) and toks[j].core.islower():
            lower_ok = caseless or self._introduced(toks, j)
        end = j
        while (
            end < len(toks)
            and end - j < 3
            and _name_like(toks[end].core, lower_ok)
            and not (guarded and _caseless_non_name(toks[end].core))
        ):
            end += 1
            if toks[end - 1].punct_after.strip():
                break
        if end == j:
            return []
        known = bool(cased) and cased[toks[j].start].isupper()  # truecasing took it for a name
        weak = weak or (toks[j].core.islower() and not strong and not known)
        return [(toks[j].start, toks[end - 1].end, self.LOWER_SCORE if weak else self.CUE_SCORE)]

    @staticmethod
    def _introduced(toks: list[spoken.Token], j: int) -> bool:
        """\"this is sarah calling": a lower-case name counts when a self-introduction
        word follows it within two words."""
        nxt = [t.core.lower() for t in toks[j + 1 : j + 3]]
        return any(w in ("calling", "speaking", "here") for w in nxt)

    def _opening_address(self, tok: spoken.Token) -> list:
        """\"Camila, can you hear me?": a name opening a sentence, scored below NER so that a
        place NER recognises ("Chicago, ...") stays a place."""
        if is_title_word(tok.core) and _name_like(tok.core, False):
            return [(tok.start, tok.end, self.FULL_NAME_SCORE)]
        return []

    def _vocative(self, toks: list[spoken.Token], j: int, caseless: bool = False, cased: str = "") -> list:
        tok = toks[j]
        ends_phrase = bool(tok.punct_after.strip()) or j == len(toks) - 1
        if not ends_phrase or not _name_like(tok.core, caseless):
            return []
        if tok.core[0].isupper():
            return [(tok.start, tok.end, self.CUE_SCORE)]
        if caseless and not _caseless_non_name(tok.core):  # a known name scores as cued
            known = cased[tok.start : tok.start + 1].isupper()
            return [(tok.start, tok.end, self.CUE_SCORE if known else self.LOWER_SCORE)]
        return []

    def _name_before(self, toks: list[spoken.Token], i: int, cased: str) -> list:
        """Capitalised words before a reporting verb ("Rebecca said"); in lower-case text the
        words truecasing capitalised (``cased``: "it was seraphina who called")."""
        k = i
        while (
            k > 0
            and i - k < 3
            and cased[toks[k - 1].start].isupper()
            and _name_like(cased[toks[k - 1].start : toks[k - 1].end], False)
            and (k == i or not toks[k - 1].punct_after.strip())
            and not toks[k - 1].core.endswith("ing")
        ):  # "Tracking says ..."
            k -= 1
        return [(toks[k].start, toks[i - 1].end, self.CUE_SCORE)] if k < i else []

    def _full_name(self, toks: list[spoken.Token], i: int, nlp_artifacts) -> list:
        """A capitalised run NER left alone or mislabelled. Two or three words ("Ana Park")
        are a name unless NER called them a place, product, date...; a lone word ("So Anjali
        was ...") only inside a sentence, where NER labelled nothing and no article precedes
        it ("the Galaxy"). Scored below NER so NER's own PERSON/LOCATION label wins."""
        if i > 0 and is_title_word(toks[i - 1].core) and not toks[i - 1].punct_after.strip():
            return []  # inside a longer capitalised run; that run starts earlier
        k = i
        while k < len(toks) and k - i < 3 and is_title_word(toks[k].core):
            k += 1
            if toks[k - 1].punct_after.strip():
                break
        if k == i:
            return []
        start, end = toks[i].start, toks[k - 1].end
        doc = getattr(nlp_artifacts, "tokens", None)
        ents = [e for e in (doc.ents if doc is not None else ()) if e.start_char < end and start < e.end_char]
        if k - i == 1:
            prev = toks[i - 1].core.lower() if i > 0 else ""
            if ents or prev in ARTICLES or _opens_sentence(toks, i) or toks[i].core.lower().endswith("ly"):
                return []
            return [(start, end, self.LONE_NAME_SCORE)]
        if any(e.label_ in NOT_PERSON_LABELS for e in ents):
            return []
        return [(start, end, self.FULL_NAME_SCORE)]

    def _spelling_of_previous(self, toks: list[spoken.Token], words: list[str], i: int) -> list:
        """\"Santos, S A N T O S": letters spelling a word said just before are a name."""
        k = i
        while k < len(toks) and len(words[k]) == 1 and words[k].isalpha():
            k += 1
        spelled = "".join(words[i:k])
        if k - i < 3 or spelled not in {w.replace("'", "") for w in words[max(0, i - 6) : i]}:
            return []
        return [(toks[i].start, toks[k - 1].end, self.CUE_SCORE)]

    def _spelled_after(self, toks: list[spoken.Token], j: int) -> list:
        k = j
        while k < len(toks) and k - j < 6 and len(toks[k].core) > 1:
            k += 1  # allow "it's", "that's", "my last name" between cue and letters
        start = k
        while k < len(toks) and len(toks[k].core) == 1 and toks[k].core.isalpha():
            k += 1
        if k - start < 3:
            return []
        return [(toks[start].start, toks[k - 1].end, self.CUE_SCORE)]

    def _result(self, start: int, end: int, score: float) -> RecognizerResult:
        return RecognizerResult(
            entity_type="PERSON",
            start=start,
            end=end,
            score=score,
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            },
        )
