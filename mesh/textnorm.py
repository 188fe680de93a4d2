"""English text normaliser for word error rate (WER), applied to reference and hypothesis alike.

WER should count recognition errors, not style: "Mr. Dashwood" and "mister dashwood", "I'm"
and "I am", "ill-disposed" and "ill disposed", "42" and "forty two" are the same words. Whisper's
own normaliser ships only with the openai-whisper package (and torch), so this is a small,
deliberate one. Rules, in order:

1. Unicode NFKC, lowercase, curly quotes to straight.
2. Numbers become words, so both sides use one form: "42" -> "forty two", "3.5" -> "three
   point five", "1,000" -> "one thousand", "21st" -> "twenty first", "%" -> "percent",
   "$5" -> "five dollars". Four-digit numbers 1100-1999 and 2010-2099 are read as years
   ("nineteen ninety nine", "twenty twenty four"); other numbers are read as cardinals.
3. Contractions are expanded, because both spellings are correct transcriptions:
   n't -> " not" (won't -> will not, can't -> can not), 're, 'm, 'll, 've, 'd -> are, am,
   will, have, would. "'s" is expanded to " is" only after pronouns and question words
   (it's, that's, what's, he's, ...): after nouns it is a possessive and is kept.
4. Titles are spelt out the way read-speech references write them: mr -> mister,
   mrs -> missus, dr -> doctor; "ok" -> "okay"; "&" -> "and".
5. Hesitations that Whisper leaves out (uh, um, hmm, mm, mhm, er, erm) are removed.
6. Hyphens and dashes separate words; every other punctuation mark (apostrophes of
   possessives included) is removed; whitespace is collapsed.

Spelling variants (colour/color) are not unified.
"""

from __future__ import annotations

import re
import unicodedata

# fmt: off
ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
        "eighteen", "nineteen")
TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
SCALES = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"))
ORDINAL = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
           "nine": "ninth", "twelve": "twelfth"}
HESITATIONS = {"uh", "um", "umm", "hmm", "mm", "mhm", "er", "erm"}
S_IS = "it that what he she there here where who how"
WORDS = {"mr": "mister", "mrs": "missus", "dr": "doctor", "ok": "okay"}
CONTRACTIONS = ((r"\bwon't\b", "will not"), (r"\bcan't\b", "can not"), (r"\bshan't\b", "shall not"),
                (r"\blet's\b", "let us"), (r"n't\b", " not"), (r"'re\b", " are"), (r"'m\b", " am"),
                (r"'ll\b", " will"), (r"'ve\b", " have"), (r"'d\b", " would"),
                (rf"\b({S_IS.replace(' ', '|')})'s\b", r"\1 is"))
# fmt: on


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("&", " and ")
    text = _numbers(text)
    for pattern, replacement in CONTRACTIONS:
        text = re.sub(pattern, replacement, text)
    text = re.sub(r"[-\u2010-\u2015]", " ", text)
    text = re.sub(r"[^\w\s]", "", text)
    words = [WORDS.get(w, w) for w in text.split() if w not in HESITATIONS]
    return " ".join(words)


def _numbers(text: str) -> str:
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    text = re.sub(r"\$(\d+(?:\.\d+)?)", r"\1 dollars", text)
    text = text.replace("%", " percent")
    text = re.sub(r"\b(\d+)(st|nd|rd|th)\b", lambda m: ordinal(int(m.group(1))), text)
    text = re.sub(
        r"\b(\d+)\.(\d+)\b",
        lambda m: f"{cardinal(int(m.group(1)))} point " + " ".join(ONES[int(d)] for d in m.group(2)),
        text,
    )
    return re.sub(r"\b\d+\b", lambda m: number(m.group(0)), text)


def number(digits: str) -> str:
    """Words for an integer written in digits; years read in pairs."""
    value = int(digits)
    if len(digits) == 4 and (1100 <= value <= 1999 or 2010 <= value <= 2099):
        high, low = divmod(value, 100)
        tail = "hundred" if low == 0 else (f"oh {ONES[low]}" if low < 10 else cardinal(low))
        return f"{cardinal(high)} {tail}"
    return cardinal(value)


def cardinal(value: int) -> str:
    if value < 20:
        return ONES[value]
    if value < 100:
        tens, ones = divmod(value, 10)
        return TENS[tens] + (f" {ONES[ones]}" if ones else "")
    if value < 1000:
        hundreds, rest = divmod(value, 100)
        return f"{ONES[hundreds]} hundred" + (f" {cardinal(rest)}" if rest else "")
    for size, name in SCALES:
        if value >= size:
            high, rest = divmod(value, size)
            return f"{cardinal(high)} {name}" + (f" {cardinal(rest)}" if rest else "")
    raise AssertionError(value)


def ordinal(value: int) -> str:
    words = cardinal(value).split()
    last = words[-1]
    if last in ORDINAL:
        words[-1] = ORDINAL[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


def word_error_rate(references: list[str], hypotheses: list[str]) -> float:
    """Corpus WER after normalising both sides: all errors over all reference words.

    Words hypothesised for an empty reference count as insertions.
    """
    import jiwer

    pairs = [(normalize(r), normalize(h)) for r, h in zip(references, hypotheses, strict=True)]
    words = sum(len(r.split()) for r, _ in pairs)
    if words == 0:
        raise ValueError("no reference words")
    spoken = [(r, h) for r, h in pairs if r]
    errors = sum(len(h.split()) for r, h in pairs if not r)  # text where nothing was said
    if spoken:
        out = jiwer.process_words([r for r, _ in spoken], [h for _, h in spoken])
        errors += out.substitutions + out.deletions + out.insertions
    return errors / words
