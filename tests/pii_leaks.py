"""Whether a text still holds the spoken PII of the e2e call, in any rendering the ASR gives.

Shared by the end-to-end redaction test and the unit tests that feed the redactor the ASR
renderings seen on real machines.
"""

from __future__ import annotations

import re

NUMBERS = {"PHONE_NUMBER": "5552134689", "CREDIT_CARD": "4111111111111111"}
# fmt: off
WORDS = {"zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
         "six": "6", "seven": "7", "eight": "8", "nine": "9"}
# fmt: on


REPEATS = {"double": 2, "triple": 3}


def digit_stream(text: str) -> str:
    """Digits and digit words of ``text`` in order, everything else dropped: every rendering
    the ASR may give a number reads the same ("4 -1 -1", "4\u22121", "4,111", "four one",
    "double one" -> "411..."), so no separator hides a leak."""
    out, repeat = [], 1
    for t in re.findall(r"[a-z]+|\d", text.lower()):
        if t in REPEATS:
            repeat = REPEATS[t]
            continue
        if t in WORDS or t.isdigit():
            out.append(WORDS.get(t, t) * repeat)
        repeat = 1
    return "".join(out)


def leaks(text: str) -> list[str]:
    found = [
        name
        for name, digits in NUMBERS.items()
        if any(digits[i : i + 6] in digit_stream(text) for i in range(len(digits) - 5))
    ]
    lowered = text.lower()
    found += [form for form in ("smith", "example dot com", "example.com", "john.smith") if form in lowered]
    return found
