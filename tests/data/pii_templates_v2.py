"""Templates, pools and value renderers of the dev sets "dev4" to "dev8" and of the "test6"
held-out split (see make_pii_eval.py's docstring for what was written when; dev5 to dev8
were written as the held-out splits "test2" to "test5" and moved to dev after their first
scoring).

The renderers say numbers the ways ASR engines and callers write and say them: digit words,
numerals, mixtures, spaces, hyphens, minus signs ("4 -1 -1"), dots, commas, "dash", "oh",
"double"/"triple". Renderings marked TEST2-ONLY are drawn for dev5 (ex-test2) and test3
rows, TEST3-ONLY for dev6 (ex-test3) and test4 rows, TEST4-ONLY for test4 rows alone.
"""

from __future__ import annotations

import random

DIGIT = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TEEN = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
        "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# Styles for digit strings. The first list is drawn for every set, the second (TEST2-ONLY)
# for dev5 and test3, the third (TEST3-ONLY) for test3.
STYLES = ["words", "words_oh", "words_double", "numerals", "numerals_hyphen", "singles",
          "minus", "dash_words", "mixed", "dots"]
STYLES_TEST2_ONLY = ["thousands", "unicode_dash", "inner_mix", "comma_singles", "pairs",
                     "words_no_breaks"]
STYLES_TEST3_ONLY = ["numeral_pairs", "hyphen_words", "spaced_hyphens", "slashes",
                     "uneven_numerals", "nought_words"]
STYLES_TEST4_ONLY = ["period_groups", "paren_first", "word_numeral_hyphen", "double_spaces",
                     "words_dash_numerals", "tens_and_units"]


def say_pair(two: str) -> str:
    n = int(two)
    if n < 10:
        return f"oh {DIGIT[n]}"
    if n < 20:
        return TEEN[n - 10]
    return TENS[n // 10] + ("" if n % 10 == 0 else f" {DIGIT[n % 10]}")


def _words(group: str, oh: bool = False, double: bool = False) -> str:
    out, i = [], 0
    while i < len(group):
        run = 1
        while double and i + run < len(group) and group[i + run] == group[i] and run < 3:
            run += 1
        word = "oh" if group[i] == "0" and oh else DIGIT[int(group[i])]
        out.append(("triple " if run == 3 else "double " if run == 2 else "") + word)
        i += run
    return " ".join(out)


def split_groups(digits: str, groups: list[int]) -> list[str]:
    parts, pos = [], 0
    for g in groups:
        parts.append(digits[pos: pos + g])
        pos += g
    if pos < len(digits):
        parts.append(digits[pos:])
    return [p for p in parts if p]


def render_digits(digits: str, groups: list[int], rng: random.Random, style: str) -> str:
    """One rendering of ``digits`` read out in ``groups``."""
    parts = split_groups(digits, groups)
    if style == "words":
        return rng.choice([", ", " ", ", "]).join(_words(p) for p in parts)
    if style == "words_oh":
        return ", ".join(_words(p, oh=True) for p in parts)
    if style == "words_double":
        return rng.choice([", ", " "]).join(_words(p, oh=rng.random() < 0.5, double=True)
                                            for p in parts)
    if style == "numerals":
        return " ".join(parts)
    if style == "numerals_hyphen":
        return "-".join(parts)
    if style == "singles":  # "4 1 1 1 1 1 ..."
        return " ".join(digits)
    if style == "minus":  # Whisper: "4 -1 -1 -1 ..."
        return " ".join([digits[0], *(f"-{d}" for d in digits[1:])])
    if style == "dash_words":
        return " dash ".join(_words(p, oh=rng.random() < 0.5) for p in parts)
    if style == "mixed":
        return rng.choice([" ", ", "]).join(p if rng.random() < 0.5 else _words(p)
                                            for p in parts)
    if style == "dots":
        return ".".join(parts)
    # TEST2-ONLY renderings
    if style == "thousands":  # "4,111,111,111,111,111"
        head = len(digits) % 3 or 3
        chunks = [digits[:head]] + [digits[k:k + 3] for k in range(head, len(digits), 3)]
        return ",".join(chunks)
    if style == "unicode_dash":  # en dashes between groups, or a minus sign before digits
        if rng.random() < 0.5:
            return "\u2013".join(parts)
        return " ".join([digits[0], *(f"\u2212{d}" for d in digits[1:])])
    if style == "inner_mix":  # "4 one 1 one, ..."
        return ", ".join(" ".join(d if rng.random() < 0.5 else DIGIT[int(d)] for d in p)
                         for p in parts)
    if style == "comma_singles":  # "4, 1, 1, 1, ..."
        return ", ".join(digits)
    if style == "pairs":  # "forty one eleven ..."
        said = []
        for p in parts:
            if len(p) % 2 == 0 and all(p[k] != "0" for k in range(0, len(p), 2)):
                said.append(" ".join(say_pair(p[k:k + 2]) for k in range(0, len(p), 2)))
            else:
                said.append(_words(p))
        return ", ".join(said)
    if style == "words_no_breaks":
        return " ".join(_words(p, oh=rng.random() < 0.3) for p in parts)
    # TEST3-ONLY renderings
    if style == "numeral_pairs":  # "41 11 11 11 ..."
        return " ".join(digits[k:k + 2] for k in range(0, len(digits), 2))
    if style == "hyphen_words":  # "four-one-one-one five-five..."
        return " ".join("-".join(DIGIT[int(d)] for d in p) for p in parts)
    if style == "spaced_hyphens":  # "4111 - 1111 - 1111"
        return " - ".join(parts)
    if style == "slashes":  # "4111/1111/1111/1111"
        return "/".join(parts)
    if style == "uneven_numerals":  # ASR word boundaries anywhere: "41 111 1111 11 ..."
        out, k = [], 0
        while k < len(digits):
            n = rng.randint(1, 4)
            out.append(digits[k:k + n])
            k += n
        return " ".join(out)
    if style == "nought_words":  # "four nought nought one ..."
        return ", ".join(" ".join("nought" if d == "0" else DIGIT[int(d)] for d in p)
                         for p in parts)
    # TEST4-ONLY renderings
    if style == "period_groups":  # Whisper ends a sentence after each group: "4111. 1111."
        return ". ".join(parts)
    if style == "paren_first":  # "(4111) 1111-1111-1111"
        return f"({parts[0]}) " + "-".join(parts[1:]) if len(parts) > 1 else parts[0]
    if style == "word_numeral_hyphen":  # "four-1-one-1"
        return " ".join("-".join(d if k % 2 else DIGIT[int(d)] for k, d in enumerate(p))
                        for p in parts)
    if style == "double_spaces":
        return "  ".join(parts)
    if style == "words_dash_numerals":  # "four one one one - 1111 - ..."
        return " - ".join(_words(p) if k % 2 == 0 else p for k, p in enumerate(parts))
    if style == "tens_and_units":  # "forty one, one one ..." (first pair of a group as tens)
        said = []
        for p in parts:
            if len(p) >= 2 and p[0] != "0" and p[0] != "1":
                said.append(f"{say_pair(p[:2])} {_words(p[2:])}".strip())
            else:
                said.append(_words(p))
        return ", ".join(said)
    raise KeyError(style)


def pick_style(rng: random.Random, level: int) -> str:
    """level 0: dev4, 1: dev5 (written as test2), 2: test3."""
    return rng.choice(STYLES + (STYLES_TEST2_ONLY if level else [])
                      + (STYLES_TEST3_ONLY if level >= 2 else [])
                      + (STYLES_TEST4_ONLY if level >= 3 else []))


def _luhn_check(body: str) -> str:
    for check in "0123456789":
        total = 0
        for k, ch in enumerate(reversed(body + check)):
            d = int(ch) * (2 if k % 2 else 1)
            total += d - 9 if d > 9 else d
        if total % 10 == 0:
            return check
    raise AssertionError("unreachable")


def card_digits(rng: random.Random) -> tuple[str, list[int]]:
    """A card number whose checksum passes half of the time (ASR mishears digits)."""
    kind = rng.choice(["visa", "visa", "mc", "mc2", "disc", "amex", "visa19"])
    prefix, length, groups = {
        "visa": ("4", 16, [4, 4, 4, 4]), "mc": ("5" + rng.choice("12345"), 16, [4, 4, 4, 4]),
        "mc2": ("22" + rng.choice("23456789"), 16, [4, 4, 4, 4]),
        "disc": ("6011", 16, [4, 4, 4, 4]), "amex": (rng.choice(["34", "37"]), 15, [4, 6, 5]),
        "visa19": ("4", 19, [4, 4, 4, 4, 3]),
    }[kind]
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    check = _luhn_check(body)
    if rng.random() < 0.5:
        check = rng.choice([c for c in "0123456789" if c != check])
    return body + check, groups


def card(rng: random.Random, level: int) -> str:
    digits, groups = card_digits(rng)
    return render_digits(digits, groups, rng, pick_style(rng, level))


def phone(rng: random.Random, level: int) -> str:
    area = rng.choice("23456789") + "".join(rng.choice("0123456789") for _ in range(2))
    exch = rng.choice("23456789") + "".join(rng.choice("0123456789") for _ in range(2))
    line = "".join(rng.choice("0123456789") for _ in range(4))
    style = pick_style(rng, level)
    if style == "dots" and rng.random() < 0.5:
        return f"({area}) {exch}.{line}"
    return render_digits(area + exch + line, [3, 3, 4], rng, style)


def ssn(rng: random.Random, level: int) -> str:
    digits = f"{rng.randint(1, 665):03d}{rng.randint(1, 99):02d}{rng.randint(1, 9999):04d}"
    return render_digits(digits, [3, 2, 4], rng, pick_style(rng, level))


def long_number(rng: random.Random, level: int) -> str:
    """An unlabelled-by-kind number of 7, 8 or 20-24 digits (order, case, tracking numbers,
    or a number said with no word in front). Lengths 9-19 are left out: there a number's
    shape makes it a phone, SSN or card (see the guideline)."""
    n = rng.choice([7, 8, 20, 21, 22, 24] + ([12] if level else []))
    first = rng.choice("13456789") if n != 12 else rng.choice("789")
    digits = first + "".join(rng.choice("0123456789") for _ in range(n - 1))
    if n == 8 and digits[:2] in ("01", "02", "03", "04", "05", "06", "07", "08", "09", "10",
                                 "11", "12"):
        digits = "9" + digits[1:]  # never a date shape (MMDDYYYY)
    size = rng.choice([3, 4, 4, 5])
    groups = [size] * (n // size + 1)
    return render_digits(digits, groups, rng, pick_style(rng, level))


def account_number(rng: random.Random, level: int) -> str:
    """Account and reference numbers: 6-12 digits, sometimes led by letters."""
    n = rng.randint(6, 12)
    digits = rng.choice("123456789") + "".join(rng.choice("0123456789") for _ in range(n - 1))
    style = pick_style(rng, level)
    said = render_digits(digits, [4, 4, 4], rng, style)
    r = rng.random()
    if r < 0.25:
        letters = "".join(rng.choice(LETTERS) for _ in range(2))
        if style in ("numerals", "numerals_hyphen", "dots", "thousands"):
            return f"{letters}{said}" if rng.random() < 0.5 else f"{letters}-{said}"
        return f"{' '.join(letters)} {said}"
    return said


def say_octet(n: int, rng: random.Random, level: int) -> str:
    s = str(n)
    form = rng.choice(["digits", "words", "number"] + (["hundreds"] if level else [])
                      + (["spaced_words"] if level >= 2 else []))
    if form == "spaced_words" and len(s) > 1:  # TEST3-ONLY: "one-nine-two"
        return "-".join(DIGIT[int(c)] for c in s)
    if level >= 3 and len(s) == 3 and s[1:] != "00" and rng.random() < 0.3:
        rest = DIGIT[int(s[2])] if s[1] == "0" else say_pair(s[1:])
        return f"{DIGIT[int(s[0])]} hundred and {rest}"  # TEST4-ONLY
    if form == "digits":
        return s
    if form == "words" or len(s) == 1:
        return " ".join(DIGIT[int(c)] for c in s)
    if len(s) == 2:
        return TEEN[n - 10] if n < 20 else say_pair(s)
    if form == "hundreds":  # TEST2-ONLY: "one hundred sixty eight"
        rest = s[1:]
        tail = "" if rest == "00" else " " + (DIGIT[int(rest[1])] if rest[0] == "0"
                                              else say_pair(rest))
        return f"{DIGIT[int(s[0])]} hundred{tail}"
    return f"{DIGIT[int(s[0])]} {say_pair(s[1:])}"  # "one sixty eight"


def ip(rng: random.Random, level: int) -> str:
    first = rng.choice([10, 172, 192, rng.randint(1, 223)])
    octets = [first] + [rng.randint(0, 255) for _ in range(3)]
    if first == 192:
        octets[1] = 168
    written = rng.random() < 0.3
    if written:
        sep = rng.choice([".", ". "] if level else ["."]) if level < 2 else \
            rng.choice([".", ". ", " . "])
        if level >= 3 and rng.random() < 0.3:
            sep = ", dot, "  # TEST4-ONLY
        return sep.join(str(o) for o in octets)
    sep = rng.choice([" dot ", " dot ", " point "])
    return sep.join(say_octet(o, rng, level) for o in octets)


NATO = dict(zip(LETTERS, [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett",
    "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
    "uniform", "victor", "whiskey", "x-ray", "yankee", "zulu"], strict=True))
IBAN_LENGTHS = {"GB": 22, "DE": 22, "FR": 27, "NL": 18, "ES": 24, "IE": 22, "IT": 27, "BE": 16}
IBAN_BANKS = {"GB": ["WEST", "NWBK", "BARC", "MIDL", "LOYD"], "NL": ["ABNA", "INGB", "RABO"],
              "IE": ["AIBK", "BOFI"]}


def iban_value(rng: random.Random) -> str:
    country = rng.choice(sorted(IBAN_LENGTHS))
    n = IBAN_LENGTHS[country] - 4
    bank = rng.choice(IBAN_BANKS[country]) if country in IBAN_BANKS else ""
    bban = bank + "".join(rng.choice("0123456789") for _ in range(n - len(bank)))
    if country == "IT":
        bban = rng.choice(LETTERS) + bban[1:]
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = f"{98 - int(numeric) % 97:02d}"
    if rng.random() < 0.4:  # a misheard character: the checksum fails
        check = f"{(int(check) + rng.randint(1, 9)) % 100:02d}"
    return country + check + bban


def iban(rng: random.Random, level: int) -> str:
    value = iban_value(rng)
    form = rng.choice(["spelled", "spelled", "groups", "spelled_groups"]
                      + (["pairs", "lower_spelled"] if level else [])
                      + (["lower_groups", "dashed_groups"] if level >= 2 else []))
    if level >= 3 and rng.random() < 0.25:  # TEST4-ONLY: spelling alphabet
        return " ".join(NATO[c] if c.isalpha() else DIGIT[int(c)] for c in value)
    if form == "lower_groups":  # TEST3-ONLY: "gb82 west 1234 ..."
        return " ".join(value[k:k + 4] for k in range(0, len(value), 4)).lower()
    if form == "dashed_groups":  # TEST3-ONLY: "GB82-WEST-1234-..."
        return "-".join(value[k:k + 4] for k in range(0, len(value), 4))
    if form == "groups":
        return " ".join(value[k:k + 4] for k in range(0, len(value), 4))

    def spell(ch: str) -> str:
        return DIGIT[int(ch)] if ch.isdigit() else ch

    if form == "spelled":
        return " ".join(spell(c) for c in value)
    if form == "spelled_groups":
        groups = [value[k:k + 4] for k in range(0, len(value), 4)]
        return ", ".join(" ".join(spell(c) for c in g) for g in groups)
    if form == "pairs":  # TEST2-ONLY: "G B eighty two W E S T ..."
        rest = " ".join(spell(c) for c in value[4:])
        return f"{value[0]} {value[1]} {say_pair(value[2:4])} {rest}"
    return " ".join(spell(c) for c in value).lower()  # TEST2-ONLY: "g b eight two ..."


def house_number(rng: random.Random) -> str:
    n = rng.randint(1, 240)
    if rng.random() < 0.5:
        return str(n)
    if n < 10:
        return DIGIT[n]
    if n < 100:
        return say_pair(f"{n:02d}")
    return f"{DIGIT[n // 100]} {say_pair(f'{n % 100:02d}')}" if n % 100 else \
        f"{DIGIT[n // 100]} hundred"


# --- dev4: the set the new recognizers were built on -------------------------------------

FIRST_4 = ["Harold", "Ngozi", "Rafael", "Siobhan", "Viktor", "Leticia", "Emeka", "Agnes",
           "Ruben", "Marisol", "Stefan", "Keiko", "Desmond", "Paloma", "Ibrahim", "Colette",
           "Jasper", "Winifred", "Darnell", "Svetlana", "Hamza", "Imogen", "Lorenzo", "Thandiwe"]
LAST_4 = ["Whitaker", "Oyelaran", "Navarro", "Gallagher", "Petrov", "Romero", "Chukwu",
          "Lindholm", "Cardenas", "Hoffmann", "Mendoza", "Ferreira", "Kaminski", "Ogunleye",
          "Brooks", "Harrison", "Sato", "Dubois", "Quinn", "Morales", "Walsh", "Jensen"]
CITY_4 = ["Leeds", "Bristol", "Manchester", "Edinburgh", "Cardiff", "Belfast", "Houston",
          "Sheffield", "Nottingham", "Glasgow", "Liverpool", "Oxford", "Cambridge", "Brighton"]
STREET_4 = ["Baker", "Station", "Victoria", "Queen", "Church", "Green", "Mill", "Kings",
            "Manor", "Albert", "Windsor", "Grove"]
STREET_TYPE_4 = ["Street", "Road", "Lane", "Avenue", "Close", "Drive", "Crescent", "Way"]

DEV4_TEMPLATES: dict[str, list[str]] = {
    "card4": [
        "And my card number is {CARD}.",
        "the card is {CARD}",
        "Okay so that's {CARD}, expiry oh nine twenty eight.",
        "{CARD}",
        "Right, I'm reading it off the card now, {CARD}.",
        "it's a visa debit {CARD} yeah",
    ],
    "phone4": [
        "my number is {PHONE}",
        "Call me back on {PHONE}.",
        "The mobile is {PHONE}, that's the best one.",
    ],
    "ssn4": [
        "My social security number is {SSN}.",
        "ssn {SSN}",
    ],
    "long4": [
        "{LONG}",
        "Okay I've got it here, {LONG}.",
        "The number on the letter is {LONG}.",
        "Your order number is {LONG}.",
        "uh let me read it {LONG} is that right",
        "Tracking says {LONG}.",
    ],
    "account4": [
        "My account number is {ACCT}.",
        "account number {ACCT}",
        "The reference is {ACCT}.",
        "Quote reference {ACCT} when you call.",
        "Membership number {ACCT}.",
        "Your policy number is {ACCT}.",
    ],
    "ip4": [
        "The IP address is {IP}.",
        "my ip is {IP}",
        "It's connecting from {IP}.",
    ],
    "iban4": [
        "My IBAN is {IBAN}.",
        "The IBAN is {IBAN}, that's for the refund.",
        "iban {IBAN}",
    ],
    "person4": [
        "okay {PERSONL} i have updated the record",
        "thanks {FIRSTL} have a good day",
        "i spoke to {PERSONL} last week",
        "so {FIRSTL} told me it was fixed",
        "Okay {PERSON}, I've updated the record.",
        "yes this is for {PERSONL}",
    ],
    "location4": [
        "I live at {ADDRL} {CITYL}",
        "send it to {ADDR}, {CITY}",
        "it's {ADDRL} in {CITYL}",
        "we moved to {CITYL} last year",
    ],
    "negative4": [
        "I'll call you at four.",
        "There were two agents on the line.",
        "Your ticket number is {SHORT}.",
        "The product code is {CODE}.",
        "It was about one thousand two hundred dollars.",
        "We open at 9:30 tomorrow.",
        "The appointment is at ten fifteen.",
        "It costs $1,499.99 with tax.",
        "I've been waiting forty five minutes.",
        "The case number is {SHORT}.",
        "We have about 3,500 members in the area.",
        "Press 1 for sales and 2 for support.",
        "That was back in 2019.",
        "It's version 4.2.1 now.",
        "I bought three of them for nineteen ninety nine each.",
        "About 2,000,000 dollars in total.",
    ],
}

# --- dev5: written as the held-out split "test2", moved to dev after its first scoring ----

FIRST_5 = ["Eleanor", "Kunle", "Ximena", "Bartholomew", "Adaeze", "Pieter", "Roisin", "Mehmet",
           "Lavinia", "Tadeusz", "Chinonso", "Margit", "Horatio", "Yolanda", "Anselm", "Priscilla",
           "Dagny", "Lorcan", "Fumiko", "Gideon", "Rosalie", "Emeric", "Zora", "Maximo",
           "Philomena", "Oisin", "Sunniva", "Augustin"]
LAST_5 = ["Featherstone", "Adebayo", "Echeverria", "Kowalczyk", "Ashworth", "Mbeki", "Varela",
          "Thornton", "Lindberg", "Okoro", "Pemberton", "Sandoval", "Halvorsen", "Rutherford",
          "Achterberg", "Oyelowo", "Castaneda", "Whitmore", "Nakagawa", "Eriksen", "Blackwood",
          "Montalvo", "Fairbanks", "Okwuosa"]
CITY_5 = ["London", "Coventry", "Leicester", "Swansea", "Aberdeen", "Dundee", "Norwich",
          "Plymouth", "Exeter", "Derby", "Cleveland", "Sacramento", "Spokane", "Dublin",
          "Galway", "Cork"]
STREET_5 = ["Hollybush", "Ashgrove", "Beechwood", "Larkhill", "Thornfield", "Primrose",
            "Hawkins", "Lowther", "Sherwood", "Carlisle", "Marlborough", "Oakfield"]
STREET_TYPE_5 = ["Street", "Road", "Lane", "Avenue", "Close", "Gardens", "Terrace", "Place"]

TEST2_TEMPLATES: dict[str, list[str]] = {
    "card5": [
        "the long number on the card is {CARD}",
        "Payment card: {CARD}.",
        "ok ready {CARD} and the expiry is [DATE_TIME: next march]",
        "Sorry, I'll repeat that, {CARD}.",
        "Can you take it off {CARD} please?",
        "so it's {CARD}",
    ],
    "phone5": [
        "you can ring me on {PHONE}",
        "Landline's {PHONE}.",
        "try my cell {PHONE} if i don't pick up",
    ],
    "ssn5": [
        "my social is {SSN}",
        "Social security, {SSN}.",
    ],
    "long5": [
        "{LONG} is what it says",
        "hold on it's {LONG}",
        "The confirmation on my screen shows {LONG}.",
        "I have a number here, {LONG}, does that help?",
        "shipment {LONG}",
        "Er, {LONG}.",
    ],
    "account5": [
        "my acct number is {ACCT}",
        "Customer reference: {ACCT}.",
        "the ref number they gave me was {ACCT}",
        "Account {ACCT}, under my name.",
        "Your membership number is {ACCT}.",
        "policy number {ACCT}",
        "The account number, um, {ACCT}.",
    ],
    "ip5": [
        "the router says {IP}",
        "Our server sits at {IP}.",
        "ok the ip address shows {IP}",
        "Can you whitelist {IP}?",
    ],
    "iban5": [
        "the iban for the transfer is {IBAN}",
        "Send it to {IBAN}, that's my account abroad.",
        "Bank details: {IBAN}.",
    ],
    "person5": [
        "alright {PERSONL} you're all set",
        "thanks for holding {FIRSTL}",
        "i was dealing with {PERSONL} before",
        "{PERSONL} is the second driver",
        "yeah {FIRSTL} already sent it over",
        "please pass this on to {PERSONL}",
        "Sure {FIRST}, one moment.",
        "it belonged to {FIRSTL} before me",
    ],
    "location5": [
        "the address is {ADDRL} {CITYL}",
        "deliver to {ADDRL} {CITYL} please",
        "{ADDR}, {CITY}.",
        "i'm in {CITYL} at the moment",
        "we're over at {ADDRL}",
    ],
    "negative5": [
        "I'll ring you back at six.",
        "Two agents already told me that.",
        "Ticket {SHORT} is still open.",
        "It's model {CODE}.",
        "The fee was $2,350.00 in the end.",
        "Let's say 4:15 on Friday.",
        "I got there at half past seven.",
        "We've sent 12,000 letters this year.",
        "That's 1,000,000 dollars, right?",
        "Order {SHORT}, placed on Monday.",
        "It happened on [DATE_TIME: 03/15/2024].",
        "My flight was on [DATE_TIME: March 3rd, 2021].",
        "I paid twelve ninety nine for it.",
        "About 30% of the calls.",
        "Room 1204, fourth floor.",
        "Set the thermostat to 72.",
        "We have 3 kids and 2 dogs.",
        "The firmware is 10.2.1.",
        "Back in 1998 we had the old plan.",
        "Case number {SHORTW}.",
        "Between 9 and 5 on weekdays.",
        "it was like four or five hundred quid",
    ],
}


# --- dev6: written as the held-out split "test3", moved to dev after its first scoring ----

FIRST_6 = ["Bernadette", "Obinna", "Greta", "Anwar", "Mireille", "Caspian", "Folasade",
           "Henrietta", "Ignatius", "Juniper", "Kasimir", "Leopold", "Marguerite", "Nnamdi",
           "Ottilie", "Percival", "Radomir", "Seraphina", "Tiberius", "Ulrike", "Wilhelmina",
           "Xavier", "Yevgenia", "Zebedee", "Alastair", "Benedikt"]
LAST_6 = ["Abernathy", "Brightwater", "Chiwetel", "Drummond", "Engstrom", "Fitzgerald",
          "Gonsalves", "Holloway", "Iwu", "Jablonski", "Kirkpatrick", "Lockhart", "Mbatha",
          "Norrington", "Oduya", "Prendergast", "Quarshie", "Rasmussen", "Sutherland",
          "Trevelyan", "Umeh", "Vanterpool"]
CITY_6 = ["Bournemouth", "Ipswich", "Wolverhampton", "Stockport", "Gloucester", "Limerick",
          "Inverness", "Portsmouth", "Lancaster", "Harrogate", "Omaha", "Tallahassee",
          "Fresno", "Kilkenny"]
STREET_6 = ["Wheatfield", "Brackenbury", "Coppice", "Dovecote", "Foxglove", "Heatherdale",
            "Juniper", "Kestrel", "Meadowsweet", "Nightingale", "Rowan", "Willowbrook"]
STREET_TYPE_6 = ["Street", "Road", "Lane", "Avenue", "Close", "Drive", "Way", "Court", "Mews",
                 "Grove"]

TEST3_TEMPLATES: dict[str, list[str]] = {
    "card6": [
        "right the card digits are {CARD}",
        "I'd like to pay by card, number {CARD}.",
        "{CARD}, expiring in the summer",
        "um it's the visa {CARD} I think",
        "Can you charge {CARD} today?",
        "card ending well the full thing is {CARD}",
    ],
    "phone6": [
        "best to call {PHONE} after lunch",
        "My work line is {PHONE}.",
        "text me on {PHONE} instead",
    ],
    "ssn6": [
        "the social on file is {SSN}",
        "SSN's {SSN}, yeah.",
    ],
    "long6": [
        "so the number at the top is {LONG}",
        "{LONG}, that's everything on the slip",
        "It's showing {LONG} on my end.",
        "parcel {LONG} hasn't arrived",
        "Quick one, {LONG}.",
        "um {LONG} right",
    ],
    "account6": [
        "customer id {ACCT}",
        "My bank account number is {ACCT}.",
        "the reference on the invoice is {ACCT}",
        "Membership {ACCT}, if that helps.",
        "uh policy {ACCT}",
        "Account number: {ACCT}.",
        "I was given reference number {ACCT} last time",
    ],
    "ip6": [
        "the camera is on {IP}",
        "Ping {IP} and see if it answers.",
        "my laptop says {IP}",
        "Gateway address: {IP}.",
    ],
    "iban6": [
        "my iban's {IBAN}",
        "Transfer it to IBAN {IBAN}.",
        "The account abroad is {IBAN}.",
    ],
    "person6": [
        "morning {FIRSTL} how are you",
        "i've got {PERSONL} on the other line",
        "{PERSONL} signed for it",
        "can you put {FIRSTL} on please",
        "ok {PERSONL} thanks for waiting",
        "it was {FIRSTL} who called me",
        "{PERSON} will be the contact.",
        "so {PERSONL} is the name on the lease",
    ],
    "location6": [
        "post it to {ADDRL} {CITYL}",
        "{ADDRL} {CITYL} is the billing address",
        "i'm based near {CITYL}",
        "It's {ADDR}, {CITY}.",
        "we're at {ADDRL} now",
    ],
    "negative6": [
        "Call me after three.",
        "Both agents said the same thing.",
        "My ticket is {SHORT}.",
        "The item code is {CODE}.",
        "It was $3,999.00 in total.",
        "Can we make it 11:45?",
        "quarter to six works",
        "We handled 15,000 calls last year.",
        "that's 2,500,000 euros apparently",
        "Order {SHORTW}, please check.",
        "It took about 9 days.",
        "The deadline was [DATE_TIME: 04/30/2025].",
        "I spent forty nine ninety five on it.",
        "About 45% of customers.",
        "Suite 1802, top floor.",
        "We have 2 cars and 4 bikes.",
        "The app version is 12.4.3.",
        "That was in 2004.",
        "Reference {SHORTW} is the old one.",
        "From 8 to 6 on Saturdays.",
        "the two of us called three times",
        "it weighs about 1,200 grams",
    ],
}

FREEFORM_TEST3 = [
    "okay [PERSON: margaret oduya] your booking is confirmed",
    "card number [CREDIT_CARD: 4 -9 -1 -6 -3 -3 -8 -1 -2 -2 -0 -7 -4 -5 -5 -9]",
    "it's [LONG_NUMBER: 31 0042 9981 2277 6153 04] on the form",
    "the nas is at [IP_ADDRESS: one nine two dot one six eight dot zero dot two five four]",
    "[IBAN_CODE: F R seven six three zero zero zero six zero zero zero zero one one two three "
    "four five six seven eight nine one eight nine]",
    "we live at [LOCATION: nine kestrel close] [LOCATION: ipswich]",
    "i was talking to [PERSON: bartholomew] earlier",
    "Card is [CREDIT_CARD: 3714 496353 98431].",
    "acct [ACCOUNT_NUMBER: 5529 1178 30]",
    "reference [ACCOUNT_NUMBER: X R nine nine four one oh two]",
    "Ring [PHONE_NUMBER: 4 -1 -5 -5 -5 -5 -0 -1 -3 -2] for the office.",
    "SSN [US_SSN: 078 05 1120].",
    "The switch is [IP_ADDRESS: 10.20.30.40].",
    "[PERSON: tobenna okeke] dropped it off",
    "[LONG_NUMBER: 99 88 77 66 55 44 33 22 11 00 99], that's the code on the box",
    "It's at four, not three.",
    "Ticket 61523 please.",
    "The part is M-44.",
    "I paid 1,099 dollars.",
    "It's on [DATE_TIME: the 2nd of June, 2024].",
    "Count came to 3,318.",
    "Two agents, one manager.",
    "Extension 3310.",
    "see you at half eight",
    "my card's [CREDIT_CARD: five four double oh, triple one two, three four five six, "
    "seven eight nine oh]",
    "[PERSON: winifred] from billing rang me",
    "the flat is [LOCATION: fourteen rowan mews] [LOCATION: harrogate]",
    "the ip is [IP_ADDRESS: one seventy two point sixteen point ten point one]",
    "it's [IBAN_CODE: NL91 ABNA 0417 1643 00]",
]

# --- dev7: written as the held-out split "test4", moved to dev after its first scoring ----

FIRST_7 = ["Araminta", "Bolaji", "Cordelia", "Dashiell", "Eudora", "Fyodor", "Gwendolyn",
           "Hyacinth", "Isidore", "Jocasta", "Kofoworola", "Lysander", "Mehitabel", "Nkechi",
           "Octavian", "Persephone", "Quillon", "Rosamund", "Sigrid", "Thaddeus", "Ursula",
           "Vesna", "Wolfgang", "Yaroslav", "Zenobia"]
LAST_7 = ["Ashcombe", "Blumenthal", "Chukwuemeka", "Dunmore", "Etherington", "Fairweather",
          "Grimshaw", "Hollingsworth", "Ironside", "Jorgensen", "Kowalewski", "Latimer",
          "Mortimer", "Nwachukwu", "Ormsby", "Pickering", "Quigley", "Ravenscroft",
          "Stanhope", "Thistlewood", "Underhill", "Vasquez-Rios"]
CITY_7 = ["Doncaster", "Peterborough", "Chelmsford", "Colchester", "Worcester", "Aylesbury",
          "Stirling", "Waterford", "Wexford", "Carlisle", "Boise", "Savannah", "Anchorage",
          "Shrewsbury"]
STREET_7 = ["Brambleside", "Cobblestone", "Damson", "Elderberry", "Fernhill", "Gorse",
            "Hazelwood", "Ivybridge", "Larchmont", "Moorland", "Pennyroyal", "Thornbury"]
STREET_TYPE_7 = ["Street", "Road", "Lane", "Avenue", "Close", "Crescent", "Drive", "Place",
                 "Terrace", "Gardens"]

TEST4_TEMPLATES: dict[str, list[str]] = {
    "card7": [
        "yeah the card's {CARD} ok",
        "Could you take payment from {CARD}?",
        "the sixteen digits are {CARD}",
        "Hmm, {CARD}, is that what you have?",
        "my debit card {CARD} please",
        "It's {CARD} and the CVV is on the back.",
    ],
    "phone7": [
        "ring me back on {PHONE} yeah",
        "Her mobile is {PHONE}.",
        "contact number {PHONE}",
    ],
    "ssn7": [
        "social security {SSN} right",
        "The SSN you have should be {SSN}.",
    ],
    "long7": [
        "{LONG} is the one on the receipt",
        "ok so {LONG}",
        "The consignment number reads {LONG}.",
        "write this down {LONG}",
        "Yes, {LONG}, correct.",
        "the barcode under it says {LONG}",
    ],
    "account7": [
        "acc no {ACCT}",
        "Customer number {ACCT}.",
        "my member id is {ACCT}",
        "Reference code {ACCT}, please.",
        "the account it's going into is {ACCT}",
        "Policy ref {ACCT}.",
        "savings account {ACCT}",
    ],
    "ip7": [
        "the printer's ip is {IP}",
        "Try {IP} in the browser.",
        "it's connecting to {IP} apparently",
        "Static IP: {IP}.",
    ],
    "iban7": [
        "i'll read the iban {IBAN}",
        "Pay it into {IBAN}.",
        "IBAN please: {IBAN}.",
    ],
    "person7": [
        "{PERSONL} here returning your call",
        "is this {FIRSTL}",
        "i'm calling for {PERSONL}",
        "it's {FIRSTL} again sorry",
        "{FIRSTL} speaking how can i help",
        "so i've got {PERSONL} down as the payer",
        "Thanks {FIRST}, bye.",
        "we sent it to {PERSONL} last week",
    ],
    "location7": [
        "the delivery address is {ADDRL} {CITYL}",
        "i'm at {ADDRL} {CITYL} till five",
        "we moved from {CITYL} in may",
        "{ADDR}, {CITY}, that's the one.",
        "send the engineer to {ADDRL}",
    ],
    "negative7": [
        "I'll phone at seven.",
        "Three agents and still no answer.",
        "Ticket number {SHORT}.",
        "The model is {CODE}.",
        "That's \u00a349.99 a month.",
        "We can do 14:30.",
        "quarter past two then",
        "It was from 1999-2003.",
        "1,500 quid, give or take.",
        "Case {SHORTW}, still open.",
        "We've had 40,000 signups.",
        "that's 3,000,000 pounds in total",
        "Floor 2, room 101.",
        "It's 20% cheaper.",
        "I've got 2 sons.",
        "Version 2.10.4 fixed it.",
        "In 1987 we moved.",
        "It's five past nine.",
        "Around 7 or 8 people.",
        "Order {SHORT}, from Tuesday.",
        "the three of them paid twice",
        "about 2,300 miles",
    ],
}

FREEFORM_TEST4 = [
    "yeah [PERSON: percival ashcombe] here",
    "card's [CREDIT_CARD: 5 -2 -3 -1 -8 -8 -0 -4 -7 -7 -6 -2 -9 -0 -0 -1]",
    "[LONG_NUMBER: 4 4 0 1 9 8 7 3 6 6 2 0 0 1 5 9 8 3 2 7 1] was printed on it",
    "the router is [IP_ADDRESS: one nine two dot one six eight dot one dot one]",
    "[IBAN_CODE: D E eight nine three seven zero four zero zero four four zero five three two "
    "zero one three zero zero zero]",
    "i'm at [LOCATION: twenty two gorse lane] [LOCATION: stirling]",
    "i was speaking to [PERSON: lysander] this morning",
    "Amex: [CREDIT_CARD: 3400 000000 00009].",
    "acct no [ACCOUNT_NUMBER: 77120 4431]",
    "my ref is [ACCOUNT_NUMBER: K J four four oh nine one]",
    "Call [PHONE_NUMBER: 3 -1 -2 -5 -5 -5 -0 -1 -7 -6] tomorrow.",
    "SSN [US_SSN: 219-09-9999].",
    "The camera's on [IP_ADDRESS: 192.168.100.7].",
    "[PERSON: chiamaka obi] left a message",
    "[LONG_NUMBER: 12 34 56 78 90 12 34 56 78 90], that's on the parcel",
    "It's half past four.",
    "Ticket 7720.",
    "The part's Z-9.",
    "I paid 2,499 dollars.",
    "It's on the [DATE_TIME: 5th of March, 2022].",
    "We counted 4,210.",
    "Two agents helped.",
    "Extension 5102.",
    "see you at ten to eight",
    "my card's [CREDIT_CARD: four nine triple one, two two double three, four four five five, "
    "six six seven seven]",
    "[PERSON: rosamund] from accounts emailed me",
    "the cottage is [LOCATION: three damson close] [LOCATION: worcester]",
    "the ip is [IP_ADDRESS: ten point one point two point three]",
    "it's [IBAN_CODE: GB33 BUKB 2020 1555 5555 55]",
]

# --- dev8: written as the held-out split "test5", moved to dev after its first scoring ----
# New templates, pools, values, free-form lines and ASR scripts; its renderings are drawn
# from all of the earlier ones (no TEST5-only rendering).

FIRST_8 = ["Adelaide", "Bjorn", "Chimamanda", "Dorothea", "Emrys", "Florian", "Guinevere",
           "Hamish", "Ines", "Jeremiah", "Keziah", "Lucinda", "Magnus", "Nneka", "Orlaith",
           "Ptolemy", "Rhiannon", "Solomon", "Temperance", "Uzoma", "Valentina", "Wendell",
           "Yolande", "Zachariah", "Ambrose", "Beatrix"]
LAST_8 = ["Abbington", "Bellweather", "Crabtree", "Dimitriou", "Eastwood", "Farraday",
          "Goldsworthy", "Hargreaves", "Ibekwe", "Jarvis", "Knowles", "Llewellyn", "Mcintyre",
          "Nakamura-Price", "Okonkwo", "Pennington", "Radcliffe", "Summerfield", "Tolliver",
          "Umberto", "Whitlock", "Yardley"]
CITY_8 = ["Sunderland", "Blackpool", "Middlesbrough", "Huddersfield", "Salisbury", "Truro",
          "Bangor", "Derry", "Sligo", "Tulsa", "Spokane", "Durham", "Canterbury", "Hereford"]
STREET_8 = ["Applegarth", "Bluebell", "Chantry", "Dairy", "Fieldfare", "Granary", "Holly",
            "Kingfisher", "Lavender", "Millstream", "Orchard", "Sandpiper"]
STREET_TYPE_8 = ["Street", "Road", "Lane", "Avenue", "Close", "Drive", "Way", "Court", "Mews",
                 "Crescent", "Grove", "Terrace"]

TEST5_TEMPLATES: dict[str, list[str]] = {
    "card8": [
        "so the card is {CARD}",
        "Card number? Sure, {CARD}.",
        "i'll give you the card {CARD} now",
        "{CARD} is my credit card",
        "Right, the long number across the front, {CARD}.",
        "use my mastercard {CARD}",
    ],
    "phone8": [
        "my phone's {PHONE}",
        "You can get me on {PHONE} most days.",
        "the number to ring is {PHONE}",
    ],
    "ssn8": [
        "my social's {SSN} yeah",
        "Social security number is {SSN}.",
    ],
    "long8": [
        "it's {LONG} on the letter",
        "The number they quoted was {LONG}.",
        "{LONG}",
        "uh yeah {LONG} I think",
        "my tracking number's {LONG}",
        "Can you look up {LONG}?",
    ],
    "account8": [
        "account number {ACCT} please",
        "The reference you need is {ACCT}.",
        "my acct is {ACCT}",
        "Membership no. {ACCT}.",
        "customer reference {ACCT} yeah",
        "Policy number: {ACCT}.",
        "it's account {ACCT} at the branch",
    ],
    "ip8": [
        "the ip on the sticker is {IP}",
        "Can you reach {IP} from there?",
        "my gateway's {IP}",
        "Server IP, {IP}.",
    ],
    "iban8": [
        "the iban is {IBAN}",
        "My IBAN, {IBAN}, for the refund.",
        "Please send it to IBAN {IBAN}.",
    ],
    "person8": [
        "hello {FIRSTL} it's me again",
        "i'm speaking to {PERSONL} am i",
        "{PERSONL} wants to cancel",
        "okay {FIRSTL} lovely",
        "yes {PERSONL} is my partner",
        "put it in {FIRSTL}'s name",
        "Hi {PERSON}, thanks for calling.",
        "that's for {PERSONL} then",
    ],
    "location8": [
        "i live at {ADDRL} {CITYL}",
        "the parcel went to {ADDRL} {CITYL} instead",
        "we're just outside {CITYL}",
        "It's {ADDR}, {CITY}.",
        "deliver it to {ADDRL} please",
    ],
    "negative8": [
        "I'll ring at eight.",
        "Two agents were on it.",
        "My ticket is {SHORT}, still open.",
        "Product {CODE}, the blue one.",
        "It was $2,199.99 all in.",
        "Shall we say 16:15?",
        "half seven works for me",
        "We sold 25,000 units.",
        "that's 4,000,000 dollars",
        "Order number {SHORT}.",
        "It's 10% off today.",
        "I've got 3 cats.",
        "Build 5.0.2 is out.",
        "Back in 2011 we switched.",
        "It's ten to nine now.",
        "Maybe 5 or 6 of them.",
        "Aisle 14, shelf 2.",
        "the four of us called",
        "It's 120 miles away.",
        "Case {SHORTW} was closed.",
    ],
}

FREEFORM_TEST5 = [
    "okay [PERSON: rhiannon llewellyn] that's all updated",
    "it's [CREDIT_CARD: 4 -5 -5 -6 -7 -3 -7 -5 -8 -6 -8 -9 -9 -8 -5 -5] yeah",
    "[LONG_NUMBER: 5520 1187 3390 2241 7765 03] is on the docket",
    "the box is on [IP_ADDRESS: one nine two dot one six eight dot two dot twenty]",
    "[IBAN_CODE: G B two nine N W B K six zero one six one three three one nine two six eight "
    "one nine]",
    "we're at [LOCATION: eight bluebell lane] [LOCATION: truro]",
    "i spoke to [PERSON: hamish] yesterday",
    "Card: [CREDIT_CARD: 6011 1111 1111 1117].",
    "account [ACCOUNT_NUMBER: 40 81 92 17 55]",
    "reference [ACCOUNT_NUMBER: T Q eight eight four one nine six]",
    "Phone [PHONE_NUMBER: 6 -1 -7 -5 -5 -5 -0 -1 -4 -2] anytime.",
    "My SSN is [US_SSN: 536-22-8719].",
    "It's on [IP_ADDRESS: 172.31.5.9].",
    "[PERSON: uzoma ibekwe] phoned earlier",
    "the number is [LONG_NUMBER: 7 7 0 0 1 2 3 9 8 8 4 5 6 6 1 2 0 9 3 3]",
    "It's at nine, not ten.",
    "Ticket 55102.",
    "The code is K-7.",
    "I spent 3,499 dollars.",
    "It's on the [DATE_TIME: 12th of May, 2023].",
    "There were 1,204 of them.",
    "Two agents called back.",
    "Extension 4471.",
    "see you at half past six",
    "my card's [CREDIT_CARD: five five double oh, one two three four, double five six six, "
    "seven seven eight eight]",
    "[PERSON: lucinda] from the office rang",
    "the flat's at [LOCATION: twelve granary court] [LOCATION: durham]",
    "the ip address is [IP_ADDRESS: ten point zero point one point two]",
    "it's [IBAN_CODE: DE89 3704 0044 0532 0130 00]",
]

# --- test6: the held-out split (see make_pii_eval.py's docstring) -------------------------
# New templates, pools, values, free-form lines and ASR scripts; renderings drawn from all
# the earlier ones. Lower-case names sit in many positions, and lower-case brand names and
# other capitalisable words are among the must-keep lines.

FIRST_9 = ["Apollonia", "Barnaby", "Clementine", "Desmond", "Eleni", "Fergus", "Gaspard",
           "Hortense", "Idris", "Jemima", "Kwabena", "Lavinia", "Marcellus", "Niamh", "Osric",
           "Philippa", "Raphael", "Saoirse", "Tarquin", "Undine", "Vivienne", "Wilfred",
           "Ximena", "Yusuf", "Zuleika", "Augustus"]
LAST_9 = ["Ackroyd", "Beauchamp", "Cholmondeley", "Dlamini", "Entwistle", "Featherby",
          "Greenhalgh", "Heathcote", "Illingworth", "Jowett", "Kettering", "Lindqvist",
          "Maclachlan", "Nwankwo", "Oyediran", "Pilkington", "Rowntree", "Sowerby",
          "Threlfall", "Uttley", "Wainwright", "Yeboah"]
CITY_9 = ["Scarborough", "Lowestoft", "Kendal", "Penzance", "Falmouth", "Bideford", "Oban",
          "Tralee", "Athlone", "Reno", "Fargo", "Macclesfield", "Grimsby", "Whitby"]
STREET_9 = ["Ashdown", "Brookfield", "Clover", "Deerpark", "Elmtree", "Foxhollow", "Greenacre",
            "Hawthorn", "Larkspur", "Mayfield", "Primrose", "Stonecroft"]
STREET_TYPE_9 = ["Street", "Road", "Lane", "Avenue", "Close", "Drive", "Way", "Court", "Place",
                 "Crescent", "Grove", "Gardens"]

TEST6_TEMPLATES: dict[str, list[str]] = {
    "card9": [
        "card number is {CARD} thanks",
        "Okay, {CARD}, and it expires next year.",
        "{CARD} that's the card",
        "pay with {CARD}",
        "The card you have should be {CARD}.",
        "so the visa is {CARD}",
    ],
    "phone9": [
        "call me on {PHONE}",
        "The number is {PHONE}, that's my mobile.",
        "my cell's {PHONE} ok",
    ],
    "ssn9": [
        "social is {SSN}",
        "My SSN, {SSN}.",
    ],
    "long9": [
        "{LONG} that's it",
        "Reading from the form: {LONG}.",
        "the docket says {LONG}",
        "Is it {LONG}?",
        "uh {LONG}",
        "my order number is {LONG}",
    ],
    "account9": [
        "account {ACCT}",
        "My account number's {ACCT}.",
        "the ref is {ACCT}",
        "Customer number: {ACCT}.",
        "membership number {ACCT} yeah",
        "Your policy reference is {ACCT}.",
        "acct {ACCT}",
    ],
    "ip9": [
        "the ip is {IP}",
        "Can you ping {IP}?",
        "it's on {IP} I think",
        "Device address: {IP}.",
    ],
    "iban9": [
        "iban {IBAN}",
        "My IBAN is {IBAN}.",
        "send it to {IBAN} please",
    ],
    "person9": [
        "hiya {FIRSTL} you alright",
        "i was helped by {PERSONL} last time",
        "{PERSONL} is my mum",
        "thanks {FIRSTL} that's brilliant",
        "this is {FIRSTL} from the office",
        "could {FIRSTL} ring me back",
        "Hello {PERSON}, how can I help?",
        "i'll tell {FIRSTL} you called",
        "my husband {FIRSTL} set it up",
        "so {PERSONL} and i share it",
    ],
    "location9": [
        "i'm at {ADDRL} {CITYL}",
        "the van went to {ADDRL} {CITYL}",
        "we live near {CITYL}",
        "It's {ADDR}, {CITY}.",
        "my address is {ADDRL}",
    ],
    "negative9": [
        "I'll call at noon.",
        "Two agents transferred me.",
        "Ticket {SHORT} please.",
        "Model {CODE}, the new one.",
        "It was $1,850.00 all in.",
        "Can we do 10:15?",
        "twenty past three is fine",
        "We shipped 30,000 orders.",
        "that's 5,000,000 dollars",
        "i use netflix and spotify",
        "it came from amazon",
        "my iphone keeps crashing",
        "i paid with paypal",
        "we bank with barclays",
        "it's on youtube",
        "i watched it on the bbc",
        "Case {SHORTW} again.",
        "About 15% of them.",
        "We have 4 dogs.",
        "Update 3.1.4 broke it.",
        "Back in 2015.",
        "it's quarter to ten",
    ],
}

FREEFORM_TEST6 = [
    "okay [PERSON: saoirse wainwright] you're all sorted",
    "it's [CREDIT_CARD: 4 -0 -2 -4 -0 -0 -7 -1 -5 -5 -3 -2 -1 -6 -7 -8] yeah",
    "[LONG_NUMBER: 3311 9087 2264 5510 9983 71] is the reference on the bill",
    "the nas is [IP_ADDRESS: one nine two dot one six eight dot four dot forty]",
    "[IBAN_CODE: I E two nine A I B K nine three one one five two one two three four five "
    "six seven eight]",
    "we're at [LOCATION: nine larkspur drive] [LOCATION: kendal]",
    "i talked to [PERSON: barnaby] this morning",
    "Card: [CREDIT_CARD: 5105 1051 0510 5100].",
    "account [ACCOUNT_NUMBER: 55 18 42 90 31]",
    "reference [ACCOUNT_NUMBER: W Z five five one nine two eight]",
    "Phone [PHONE_NUMBER: 2 -0 -2 -5 -5 -5 -0 -1 -9 -3] later.",
    "My SSN is [US_SSN: 412-71-6033].",
    "It's on [IP_ADDRESS: 10.44.0.12].",
    "[PERSON: kwabena yeboah] dropped by",
    "the code is [LONG_NUMBER: 8 8 1 0 0 2 7 3 6 4 9 5 5 1 2 0 7 7 3 1]",
    "It's at six, not seven.",
    "Ticket 30481.",
    "The part's Q-4.",
    "I spent 2,750 dollars.",
    "It's on the [DATE_TIME: 3rd of April, 2021].",
    "There were 1,860 of them.",
    "Two agents answered.",
    "Extension 2210.",
    "see you at quarter past five",
    "my card's [CREDIT_CARD: four four double one, two two three three, double four five five, "
    "six six seven seven]",
    "[PERSON: jemima] from sales phoned",
    "the house is [LOCATION: seven brookfield road] [LOCATION: oban]",
    "the ip address is [IP_ADDRESS: ten point one point one point five]",
    "it's [IBAN_CODE: GB82 WEST 1234 5698 7654 32]",
]

def short_number(rng: random.Random) -> str:
    n = rng.randint(3, 6)
    return rng.choice("123456789") + "".join(rng.choice("0123456789") for _ in range(n - 1))


def short_words(rng: random.Random) -> str:
    return " ".join(DIGIT[int(c)] for c in short_number(rng))


def product_code(rng: random.Random) -> str:
    letters = "".join(rng.choice(LETTERS) for _ in range(rng.randint(1, 3)))
    digits = str(rng.randint(10, 9999))
    return rng.choice([f"{letters}-{digits}", f"{letters}{digits}", f"{' '.join(letters)} "
                       f"{' '.join(digits)}"])


# Free-form lines written by hand; [TYPE: text] marks a label.
FREEFORM_DEV4 = [
    "okay [PERSON: john smith] i have updated the record",
    "[CREDIT_CARD: 4 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1] is the card",
    "And my card number is [CREDIT_CARD: 4 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1].",
    "it's [LONG_NUMBER: seven seven three nine oh two one five five four eight two oh one six "
    "three nine nine oh two]",
    "the server is [IP_ADDRESS: one nine two dot one six eight dot one dot ten]",
    "my iban is [IBAN_CODE: G B eight two W E S T one two three four five six nine eight seven "
    "six five four three two]",
    "we're at [LOCATION: twelve baker street] [LOCATION: london]",
    "the number is [CREDIT_CARD: 5 4 2 4 1 8 0 0 1 2 3 4 5 6 7 8]",
    "account number [ACCOUNT_NUMBER: double four seven one, two two nine oh]",
    "The ticket is 4471, it's still open.",
    "reference [ACCOUNT_NUMBER: A B four four nine one two seven]",
    "I spoke with [PERSON: maria gonzalez] about it.",
    "my card is [CREDIT_CARD: four triple one, two two two two, three three three three, "
    "four four four four]",
    "I'll call you at four thirty.",
    "There were two agents and three supervisors.",
]

FREEFORM_TEST2 = [
    "right so [PERSON: helen mcallister] that's all done for you now",
    "it's [CREDIT_CARD: 4 -5 -3 -9 -1 -2 -0 -0 -7 -7 -6 -1 -3 -3 -2 -8], sorry, mumbling",
    "[LONG_NUMBER: eight eight one two, oh oh four seven, five five one nine, two six three oh, "
    "nine nine one four]",
    "so the gateway is [IP_ADDRESS: ten dot zero dot zero dot one]",
    "IBAN [IBAN_CODE: D E four four five zero zero one zero five one seven five four zero seven "
    "three two four nine three one]",
    "ship it to [LOCATION: forty two station road] [LOCATION: leeds]",
    "[PERSON: kwame asante] called earlier about the claim",
    "My card, [CREDIT_CARD: 5500-0000-0000-0005].",
    "i think the account is [ACCOUNT_NUMBER: 00417 22981]",
    "the customer reference is [ACCOUNT_NUMBER: Z K seven seven oh one three four]",
    "Please call [PHONE_NUMBER: 2 1 2 -5 -5 -5 -0 -1 -9 -8].",
    "social [US_SSN: 123-45-6789]",
    "The printer is on [IP_ADDRESS: 172.16.254.3].",
    "i'm [PERSON: oluwaseun bakare] by the way",
    "[CREDIT_CARD: 3 7 8 2 8 2 2 4 6 3 1 0 0 0 5]",
    "Number's [LONG_NUMBER: 90210 33814 77125 00419], it's printed on the back.",
    "We're at 4 in the afternoon, give or take.",
    "My daughter's ticket is 88124.",
    "the product code is zed x four nine",
    "I paid 1,250 pounds for it.",
    "It's on [DATE_TIME: the 14th of February, 2023].",
    "Count was 2,417 last month.",
    "The two agents were very helpful.",
    "Extension 2045 please.",
    "i'll be in at nine fifteen",
    "my card's [CREDIT_CARD: double four double one, triple two three, four five six seven, "
    "eight nine oh one]",
    "[PERSON: amelia] from the other team sorted it",
    "the house is [LOCATION: seven ash grove] [LOCATION: bath]",
    "okay the ip is [IP_ADDRESS: one ninety two point one sixty eight point zero point "
    "twenty]",
    "it's [IBAN_CODE: GB29 NWBK 6016 1331 9268 19]",
]

# Scripts for the ASR rows: espeak-ng says them, faster-whisper tiny.en and base transcribe
# them (tests/data/make_pii_asr.py), and the transcripts are labelled by hand in
# pii_asr_labels.txt.
ASR_SCRIPTS = {
    "dev4": [
        "Okay John Smith, I have updated the record.",
        "And my card number is four one one one, one one one one, one one one one, "
        "one one one one.",
        "The IP address is one nine two dot one six eight dot one dot ten.",
        "My account number is four four seven one two two nine oh.",
        "My IBAN is G B eight two W E S T one two three four five six nine eight seven six "
        "five four three two.",
        "I live at twelve Baker Street, London.",
        "Your order number is seven seven three nine zero two one five five four.",
        "My phone number is five five five, two one three, four six eight nine.",
        "My social security number is one two three, four five, six seven eight nine.",
        "I will call you at four, there are two agents here.",
    ],
    "test6": [
        "Okay, Saoirse Wainwright, you are all sorted.",
        "It is four zero two four, zero zero seven one, five five three two, one six seven "
        "eight.",
        "The reference on the bill is three three one one nine zero eight seven two two six "
        "four five five one zero nine nine eight three seven one.",
        "The NAS is one nine two dot one six eight dot four dot forty.",
        "The IBAN is I E two nine A I B K nine three one one five two one two three four five "
        "six seven eight.",
        "We are at nine Larkspur Drive, Kendal.",
        "Kwabena Yeboah dropped by this afternoon.",
        "My account number is five five one eight four two nine zero three one.",
        "Phone two zero two, five five five, zero one nine three later.",
        "It is at six, not seven, and two agents answered.",
        "My social security number is four one two, seven one, six zero three three.",
        "Ticket three zero four eight one, and I spent twenty seven fifty.",
    ],
    "dev8": [
        "Okay, Rhiannon Llewellyn, that is all updated.",
        "It is four five five six, seven three seven five, eight six eight nine, nine eight "
        "five five.",
        "The number is five five two zero one one eight seven three three nine zero two two "
        "four one seven seven six five zero three.",
        "The box is on one nine two dot one six eight dot two dot twenty.",
        "The IBAN is G B two nine N W B K six zero one six one three three one nine two six "
        "eight one nine.",
        "We are at eight Bluebell Lane, Truro.",
        "Uzoma Ibekwe phoned earlier about the parcel.",
        "My account number is four zero eight one nine two one seven five five.",
        "Phone six one seven, five five five, zero one four two anytime.",
        "It is at nine, not ten, and two agents called back.",
        "My social security number is five three six, two two, eight seven one nine.",
        "Ticket five five one zero two, and I spent thirty four ninety nine.",
    ],
    "dev7": [
        "Yeah, Percival Ashcombe here, returning your call.",
        "The card is five two three one, eight eight zero four, seven seven six two, "
        "nine zero zero one.",
        "It is four four zero one nine eight seven three six six two zero zero one five nine "
        "eight three two seven one.",
        "The router is one nine two dot one six eight dot one dot one.",
        "The IBAN is D E eight nine three seven zero four zero zero four four zero five three "
        "two zero one three zero zero zero.",
        "I am at twenty two Gorse Lane, Stirling.",
        "Chiamaka Obi left a message for you.",
        "My account number is seven seven one two zero four four three one.",
        "Call three one two, five five five, zero one seven six tomorrow.",
        "It is half past four, and three agents were there.",
        "My social security number is two one nine, zero nine, nine nine nine nine.",
        "Ticket seven seven two zero, and I paid twenty four ninety nine.",
    ],
    "dev6": [
        "Morning, Margaret Oduya, your booking is confirmed.",
        "The card number is four nine one six, three three eight one, two two zero seven, "
        "four five five nine.",
        "It is three one zero zero four two nine nine eight one two two seven seven six one "
        "five three zero four.",
        "The NAS is at one nine two dot one six eight dot zero dot two five four.",
        "The IBAN is F R seven six three zero zero zero six zero zero zero zero one one two "
        "three four five six seven eight nine one eight nine.",
        "We live at nine Kestrel Close, Ipswich.",
        "Tobenna Okeke dropped it off this morning.",
        "My bank account number is five five two nine one one seven eight three zero.",
        "Ring four one five, five five five, zero one three two for the office.",
        "It is at four, not three, and two agents were there.",
        "My social security number is zero seven eight, zero five, one one two zero.",
        "Ticket six one five two three, and I paid ten ninety nine.",
    ],
    "dev5": [
        "Right, Helen McAllister, that is all done for you now.",
        "The card is five four two four, one eight zero zero, one two three four, "
        "five six seven eight.",
        "It is four five three nine one two zero zero seven seven six one three three two "
        "eight.",
        "The number is eight eight one two zero zero four seven five five one nine two six "
        "three zero nine nine one four.",
        "The gateway is ten dot zero dot zero dot one.",
        "The IBAN is D E four four five zero zero one zero five one seven five four zero "
        "seven three two four nine three one.",
        "Ship it to forty two Station Road, Leeds.",
        "Kwame Asante called earlier about the claim.",
        "The customer reference is Z K seven seven zero one three four.",
        "Please call two one two, five five five, zero one nine eight.",
        "My ticket number is eight eight one two four, and the product code is X J nine.",
        "I paid twelve hundred dollars, and I will be in at nine fifteen.",
        "The printer is on one seven two dot one six dot two five four dot three.",
        "My social is five one two, four four, seven three eight two.",
    ],
}


def render(slot: str, rng: random.Random, pools: dict[str, list[str]],
           level: int) -> tuple[str, str | None]:
    """The text of one template slot and its label type (None: not labelled)."""
    numbers = {"CARD": (card, "CREDIT_CARD"), "PHONE": (phone, "PHONE_NUMBER"),
               "SSN": (ssn, "US_SSN"), "LONG": (long_number, "LONG_NUMBER"),
               "ACCT": (account_number, "ACCOUNT_NUMBER"), "IP": (ip, "IP_ADDRESS"),
               "IBAN": (iban, "IBAN_CODE")}
    if slot in numbers:
        fn, kind = numbers[slot]
        return fn(rng, level), kind
    lower = slot.endswith("L")
    base = slot[:-1] if lower else slot
    if base == "PERSON":
        value = f"{rng.choice(pools['first'])} {rng.choice(pools['last'])}"
    elif base == "FIRST":
        value = rng.choice(pools["first"])
    elif base == "ADDR":
        value = f"{house_number(rng)} {rng.choice(pools['street'])} {rng.choice(pools['stype'])}"
    elif base == "CITY":
        value = rng.choice(pools["city"])
    elif slot == "SHORT":
        return short_number(rng), None
    elif slot == "SHORTW":
        return short_words(rng), None
    elif slot == "CODE":
        return product_code(rng), None
    else:
        raise KeyError(slot)
    kind = {"PERSON": "PERSON", "FIRST": "PERSON", "ADDR": "LOCATION", "CITY": "LOCATION"}[base]
    return (value.lower() if lower else value), kind


POOLS = {
    "dev4": {"first": FIRST_4, "last": LAST_4, "city": CITY_4, "street": STREET_4,
             "stype": STREET_TYPE_4},
    "dev5": {"first": FIRST_5, "last": LAST_5, "city": CITY_5, "street": STREET_5,
             "stype": STREET_TYPE_5},
    "test6": {"first": FIRST_9, "last": LAST_9, "city": CITY_9, "street": STREET_9,
              "stype": STREET_TYPE_9},
    "dev8": {"first": FIRST_8, "last": LAST_8, "city": CITY_8, "street": STREET_8,
              "stype": STREET_TYPE_8},
    "dev7": {"first": FIRST_7, "last": LAST_7, "city": CITY_7, "street": STREET_7,
              "stype": STREET_TYPE_7},
    "dev6": {"first": FIRST_6, "last": LAST_6, "city": CITY_6, "street": STREET_6,
              "stype": STREET_TYPE_6},
}
SETS = {"dev4": (DEV4_TEMPLATES, FREEFORM_DEV4), "dev5": (TEST2_TEMPLATES, FREEFORM_TEST2),
        "dev6": (TEST3_TEMPLATES, FREEFORM_TEST3), "dev7": (TEST4_TEMPLATES, FREEFORM_TEST4),
        "dev8": (TEST5_TEMPLATES, FREEFORM_TEST5), "test6": (TEST6_TEMPLATES, FREEFORM_TEST6)}
# dev8 (ex-test5) and test6 draw from every earlier rendering (level 3) and add none.
LEVELS = {"dev4": 0, "dev5": 1, "dev6": 2, "dev7": 3, "dev8": 3, "test6": 3}
REPEATS = {"card": 6, "phone": 10, "ssn": 15, "long": 6, "account": 5, "ip": 8, "iban": 10,
           "person": 4, "location": 4, "negative": 2}
