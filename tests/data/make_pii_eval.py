"""Generate tests/data/pii_eval.jsonl: call-style utterances with character-span PII labels.

    python tests/data/make_pii_eval.py   # rewrites the .jsonl (deterministic, seeded)

Labelling guideline (what a reviewer checks):
* PERSON: a person's name as said, without titles ("Mr. [Garcia]"), whatever its case
  ("okay [john smith] i have ..."); a spelled-out name ("S M I T H") is PERSON too.
* PHONE_NUMBER / CREDIT_CARD / US_SSN / EMAIL_ADDRESS / IBAN_CODE / IP_ADDRESS: the whole
  value as said, from its first to its last word or numeral (commas inside included),
  however it is rendered: digit words, numerals, mixtures, spaces, hyphens, minus signs
  ("4 -1 -1"), dots, commas, "dash", "oh", "double"/"triple". A card number is a card
  whether or not its checksum passes (ASR mishears digits); so is an IBAN.
* ACCOUNT_NUMBER: an account or reference number after a word that says so ("account",
  "acct", "reference", "ref", "membership"/"member", "policy", "customer" number/ID/
  reference): 5 or more digits, or letters and digits.
* LONG_NUMBER: any other run of 7 or more digits that is not a date, a time or an amount of
  money: order, tracking, case, claim, ticket, serial and confirmation numbers of 7+ digits,
  and digit strings said with no word in front. A cue word decides the type ("order number"
  -> LONG_NUMBER even for ten digits, "card" -> CREDIT_CARD); with no cue, shape does: 13-19
  digits starting with 2-6 are a CREDIT_CARD, ten digits of North American shape (or a "+"
  number) a PHONE_NUMBER, the rest LONG_NUMBER.
* LOCATION: a street address (house number to street type) and a city, state or country,
  each labelled separately, whatever their case ("twelve baker street [london]").
* DATE_TIME: a calendar date (day/month/year, birthdays, appointment dates). Times of day
  ("at four"), weekdays, bare years and relative words ("tomorrow") are not labelled.
* ASR rows (Whisper transcripts): label what a careful reader of the transcript alone would
  redact, with the type of the value that was said (a card misheard as "car number" is
  still CREDIT_CARD); a label runs from the first to the last word or numeral rendering
  part of the value, misheard characters inside it included; words the ASR turned into
  ordinary words that no reader could tell from the sentence around them are left out
  (the full wording heads pii_asr_labels.txt).
* Numbers that are not PII and have fewer than 7 digits (ticket numbers, prices, counts,
  product codes, times, years) and amounts of money of any size are not labelled;
  utterances made only of such numbers are the negatives.

Splits: "dev" holds the template sets dev, dev2 ... dev8; "test" and "test6" are held out.
The older history: "dev" held three template sets, each with its own name/city/street pools
and free-form lines; the recognizers were built and tuned on them. "test" holds a fourth
template set, a fourth set of pools and its own free-form lines, written after the tuning
was finished, so no test sentence shape, name, city or street was seen while tuning (e-mail
local parts draw their surnames from the first pool in every split). The second and third
dev sets were each first written as the held-out split; once their results had been
inspected they were moved to dev and a new test split was written. On the present test split
the small spaCy model was evaluated first; the medium model, now the default, was evaluated
on it afterwards, with no other change.

Fail-closed numbers and lower-case names (pii_templates_v2.py), in the order written:
1. dev4 and a held-out split "test2" were written together, before any recognizer was
   changed for them and before either was run through the detector: templates, pools, value
   renderers (numbers said with mixed separators, minus signs, thousands commas, cards whose
   checksum fails, spoken IPv4 addresses, spelled IBANs, account and reference numbers,
   lower-case names and places), hand-written free-form lines, and ASR rows: scripts said by
   espeak-ng and transcribed by Whisper tiny.en and base (make_pii_asr.py, pii_asr.jsonl),
   labelled by hand afterwards in pii_asr_labels.txt. The numbers the older templates had
   left unlabelled after "order number", "account number" ... ({N7} {N9} {N10} {SAY9}
   {SAY10}) got labels by the guideline above (ACCOUNT_NUMBER after an account cue,
   LONG_NUMBER otherwise); their text did not change.
2. The recognizers for the new kinds were built and tuned on dev4 and the older dev sets.
3. test2 was scored once. It missed targets (recall ACCOUNT_NUMBER 0.90, IBAN_CODE 0.88,
   IP_ADDRESS 0.97, LONG_NUMBER 0.975, LOCATION 0.87; PERSON precision 0.81), so it was
   inspected and became the dev set "dev5" (ids dev5-..., renderings marked TEST2-ONLY),
   with nine labels corrected to the guideline (calendar dates written into must-keep
   lines, e.g. "It happened on [03/15/2024]"; no text changed).
4. Before any recognizer was changed after that, a new held-out split "test3" was written:
   its own templates, pools, free-form lines, renderings marked TEST3-ONLY (numeral pairs,
   hyphenated digit words, spaced hyphens, slashes, uneven numeral groups, "nought", IBANs
   in lower-case or dashed groups, dotted IPs with spaces) and its own ASR scripts. The
   recognizers were then fixed on dev5, and test3 was scored once.
5. test3 missed targets too (recall CREDIT_CARD 0.93, IBAN_CODE 0.94, IP_ADDRESS 0.78,
   LONG_NUMBER 0.93, PHONE_NUMBER 0.94, US_SSN 0.94, ACCOUNT_NUMBER 0.97, PERSON 0.82;
   PERSON precision 0.76: numbers written with slashes, IP octets followed by "and",
   lower-case names after "put ... on", "it was ... who"). It became the dev set "dev6"
   (renderings marked TEST3-ONLY); a short number after an account cue in one of its
   must-keep templates got the ACCOUNT_NUMBER label the guideline gives it (5+ digits).
6. Before any recognizer was changed after that, the held-out split "test4" was written:
   its own templates, pools, free-form lines, renderings marked TEST4-ONLY (Whisper's
   period after each group, a bracketed first group, digits alternating words and numerals
   with hyphens, double spaces, tens-and-units pairs, IBANs in the spelling alphabet,
   "hundred and" octets, ", dot," separators) and its own ASR scripts. The recognizers were
   then fixed on dev6, and test4 was scored once.
7. test4 missed targets (recall ACCOUNT_NUMBER 0.80, IBAN_CODE 0.74, IP_ADDRESS 0.81,
   LONG_NUMBER 0.93, PERSON 0.90, US_SSN 0.97; precision CREDIT_CARD 0.85, LONG_NUMBER 0.74:
   "acc no", cues shadowed by "id"/"code", IBANs in the spelling alphabet, ", dot," and
   "hundred and" in IPs, numbers with a period after each group). It became the dev set
   "dev7" (renderings marked TEST4-ONLY).
8. Before any recognizer was changed after that, the held-out split "test5" was written:
   new templates, pools, values, free-form lines and ASR scripts, with renderings drawn
   from all the earlier ones and none of its own (so it measures how the detector carries
   over to new sentences, names and values, not to renderings it was never shown). The
   recognizers were then fixed on dev7, and test5 was scored once.
9. test5 met most number targets but not all (recall ACCOUNT_NUMBER 0.97, IBAN_CODE 0.94,
   IP_ADDRESS 0.97, LONG_NUMBER 0.975; CREDIT_CARD, PHONE_NUMBER, US_SSN 1.00) and missed
   PERSON by far (0.73: lower-case names that no list knows, after "hello", "okay", "yes",
   before "'s", "speaking to"). It became the dev set "dev8".
10. Before any recognizer was changed after that, the held-out split "test6" was written
   the same way as test5 (new templates, pools, values, free-form lines, ASR scripts;
   renderings from the earlier sets), with lower-case names in many positions and
   lower-case brand names among the must-keep lines ("i use netflix and spotify"). The
   recognizers were then fixed on dev8, and test6 was scored once, at the end.
11. test6, first scoring: on its written rows every number type 1.00 recall, PERSON 0.98,
   precision >= 0.95 for every type; on its 24 Whisper rows same-type recall 0.60 and
   any-type recall 0.95 (a misheard cue or letter changes the type: "my count number",
   "i2 -i -b -k"). One bug it showed was fixed afterwards (the cue guard for lower-case
   names was skipped when truecasing changed nothing: "it's quarter to ten" gave a PERSON);
   nothing else was changed for it. It is the split the targets are asserted on: TARGETS
   on its written rows, the any-type target on its ASR rows (services/redact/evaluation.py).
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pii_templates_v2 as v2

OUT = Path(__file__).with_name("pii_eval.jsonl")
ASR_ROWS = Path(__file__).with_name("pii_asr.jsonl")
ASR_LABELS = Path(__file__).with_name("pii_asr_labels.txt")
HELD_OUT = "test6"
# fmt: off
ACCOUNT_CUES = ("account", "acct", "reference", "ref", "membership", "member", "policy",
                "customer")
DIGIT = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TEEN = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
        "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]

FIRST = ["Sarah", "Miguel", "Priya", "Wei", "Olusegun", "Fatima", "James", "Ana", "Dmitri",
         "Keisha", "Tom", "Mei", "Carlos", "Aisha", "Liam", "Sofia", "Rajesh", "Emily",
         "Hiroshi", "Grace", "Ahmed", "Laura", "Kwame", "Elena", "David", "Yuki", "Marcus",
         "Ingrid", "Pedro", "Hannah", "Tariq", "Chloe", "Jamal", "Natalia", "Brian", "Leila"]
LAST = ["Johnson", "Garcia", "Patel", "Chen", "Adeyemi", "Khan", "O'Connor", "Silva",
        "Ivanov", "Washington", "Nguyen", "Lopez", "Okafor", "Muller", "Kowalski", "Tanaka",
        "Smith", "Rossi", "Haddad", "Brown", "Schmidt", "Mensah", "Fernandez", "Cohen",
        "Yamamoto", "Davies", "Murphy", "Novak", "Reyes", "Sullivan", "Andersen", "Park"]
CITY = ["Springfield", "Chicago", "Austin", "Seattle", "Denver", "Boston", "Phoenix",
        "Atlanta", "Portland", "Miami", "Nashville", "Toronto", "Dallas", "San Diego",
        "Minneapolis", "Sacramento", "Pittsburgh", "Baltimore", "Houston", "Detroit"]
STATE = ["Texas", "Ohio", "California", "Florida", "Oregon", "Georgia", "Illinois",
         "Colorado", "Arizona", "Michigan"]
STREET = ["Elm", "Maple", "Oak", "Cedar", "Pine", "Washington", "Lincoln", "Park", "Lake",
          "Hill", "Sunset", "Highland", "River", "Church", "Mill", "Spring"]
STREET_TYPE = ["Street", "Avenue", "Road", "Lane", "Drive", "Boulevard", "Court", "Way"]
# Pools of the second dev set.
FIRST_T = ["Rosa", "Nikhil", "Zoe", "Kenji", "Amara", "Lucas", "Ifeoma", "Noah", "Camila",
           "Arjun", "Mia", "Omar", "Harper", "Sven", "Lucia", "Ethan", "Nadia", "Diego",
           "Ava", "Tomasz", "Zainab", "Oliver", "Mariam", "Kofi", "Isla", "Mateo", "Chiara",
           "Ben", "Anjali", "Felix"]
LAST_T = ["Ramirez", "Sharma", "Whitfield", "Nakamura", "Obi", "Petersen", "Eze", "Bennett",
          "Castillo", "Iyer", "Larsen", "Farouk", "Doyle", "Lindqvist", "Moretti", "Hughes",
          "Rahman", "Vargas", "Kim", "Zielinski", "Osei", "Fischer", "Abbott", "Delgado",
          "Kaur", "MacLeod", "Baptiste", "Horvat"]
CITY_T = ["Cincinnati", "Raleigh", "Tucson", "Omaha", "Boise", "Albuquerque", "Louisville",
          "Memphis", "Vancouver", "Orlando", "Richmond", "Milwaukee", "Charlotte",
          "Kansas City", "Salt Lake City", "Buffalo", "Madison", "Tulsa"]
STATE_T = ["Kentucky", "Nevada", "Virginia", "Wisconsin", "Tennessee", "North Carolina",
           "New Mexico", "Utah"]
STREET_T = ["Willow", "Chestnut", "Magnolia", "Franklin", "Jefferson", "Meadow", "Ridge",
            "Forest", "Valley", "Orchard", "Bay", "Grant"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
ORDINAL = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
           "ninth", "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth",
           "sixteenth", "seventeenth", "eighteenth", "nineteenth", "twentieth",
           "twenty first", "twenty second", "twenty third", "twenty fourth", "twenty fifth",
           "twenty sixth", "twenty seventh", "twenty eighth"]
DOMAINS = ["gmail", "yahoo", "outlook", "example", "hotmail", "icloud", "acme", "proton"]
TLDS = ["com", "com", "com", "net", "org", "co dot uk", "io"]
# fmt: on


# --- value renderers -------------------------------------------------------------------


def luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    for check in "0123456789":
        digits = body + check
        total = 0
        for k, ch in enumerate(reversed(digits)):
            d = int(ch) * (2 if k % 2 else 1)
            total += d - 9 if d > 9 else d
        if total % 10 == 0:
            return digits
    raise AssertionError("unreachable")


def say_digit(ch: str, rng: random.Random, oh: bool) -> str:
    return "oh" if ch == "0" and oh else DIGIT[int(ch)]


def say_group(group: str, rng: random.Random, style: str) -> str:
    """Say a digit group in one of the ways people read numbers out."""
    if style == "numerals":
        return group
    oh = style in ("oh", "double", "pairs") and rng.random() < 0.7
    if style == "pairs" and len(group) == 4 and group[0] != "0" and group[2] != "0":
        return f"{say_pair(group[:2])} {say_pair(group[2:])}"
    words, i = [], 0
    while i < len(group):
        run = 1
        while i + run < len(group) and group[i + run] == group[i] and run < 3:
            run += 1
        if style == "double" and run >= 2:
            words.append(("triple " if run == 3 else "double ") + say_digit(group[i], rng, oh))
            i += run
            continue
        words.append(say_digit(group[i], rng, oh))
        i += 1
    return " ".join(words)


say_pair = v2.say_pair  # "21" -> "twenty one", "07" -> "oh seven"


def say_number(digits: str, groups: list[int], rng: random.Random, style: str) -> str:
    parts, pos = [], 0
    for g in groups:
        parts.append(digits[pos : pos + g])
        pos += g
    if style == "mixed":
        said = [p if rng.random() < 0.5 else say_group(p, rng, "plain") for p in parts]
        return rng.choice([" ", ", "]).join(said)
    if style == "numerals":
        return rng.choice([" ", "-"]).join(parts)
    said = [say_group(p, rng, style) for p in parts]
    sep = rng.choice([", ", ", ", " "]) if style != "pairs" else ", "
    return sep.join(said)


def phone(rng: random.Random) -> str:
    area = rng.choice("23456789") + rng.choice("0123456789") + rng.choice("0123456789")
    exch = rng.choice("23456789") + "".join(rng.choice("0123456789") for _ in range(2))
    line = "".join(rng.choice("0123456789") for _ in range(4))
    digits = area + exch + line
    style = rng.choice(["numerals", "plain", "oh", "double", "pairs", "mixed", "plain", "oh"])
    if style == "numerals" and rng.random() < 0.4:
        return f"({area}) {exch}-{line}"
    said = say_number(digits, [3, 3, 4], rng, style)
    r = rng.random()
    if r < 0.12:
        return ("plus one " if style != "numerals" else "+1 ") + said
    if r < 0.2 and style != "numerals":
        return "one " + said
    return said


def card(rng: random.Random) -> str:
    kind = rng.choice(["visa", "visa", "mc", "disc", "amex"])
    if kind == "amex":
        digits, groups = luhn_complete(rng.choice(["34", "37"]), 15, rng), [4, 6, 5]
    else:
        prefix = {"visa": "4", "mc": "5" + rng.choice("12345"), "disc": "6011"}[kind]
        digits, groups = luhn_complete(prefix, 16, rng), [4, 4, 4, 4]
    style = rng.choice(["numerals", "plain", "oh", "double", "mixed", "plain"])
    return say_number(digits, groups, rng, style)


def ssn(rng: random.Random) -> str:
    area = f"{rng.randint(1, 665):03d}"
    digits = area + f"{rng.randint(1, 99):02d}" + f"{rng.randint(1, 9999):04d}"
    style = rng.choice(["numerals", "plain", "oh", "double", "mixed", "plain"])
    return say_number(digits, [3, 2, 4], rng, style)


def say_letters(word: str) -> str:
    return " ".join(ch.lower() for ch in word if ch.isalpha())


def email(rng: random.Random, names: list[str]) -> str:
    first, last = rng.choice(names).lower(), rng.choice(LAST).lower().replace("'", "")
    domain, tld = rng.choice(DOMAINS), rng.choice(TLDS)
    form = rng.choice(["written", "dot", "dot", "plain", "spelled", "underscore", "initial", "digits"])
    if form == "written":
        return f"{first}.{last}@{domain}.{tld.replace(' dot ', '.')}"
    if form == "dot":
        return f"{first} dot {last} at {domain} dot {tld}"
    if form == "plain":
        return f"{first}{last} at {domain} dot {tld}"
    if form == "spelled":
        return f"{say_letters(first)} at {domain} dot {tld}"
    if form == "underscore":
        return f"{first} underscore {last} at {domain} dot {tld}"
    if form == "initial":
        return f"{first[0]} {last} at {domain} dot {tld}"
    return f"{first}{rng.randint(10, 99)} at {domain} dot {tld}"


def address(rng: random.Random, streets: list[str]) -> str:
    n = rng.randint(2, 9899)
    number = str(n) if rng.random() < 0.5 else say_house_number(str(n))
    return f"{number} {rng.choice(streets)} {rng.choice(STREET_TYPE)}"


def say_house_number(s: str) -> str:
    """How people say house numbers: 1120 "eleven twenty", 305 "three oh five"."""

    def pair(p: str) -> str:
        return "hundred" if p == "00" else say_pair(p)

    if len(s) == 4:
        return f"{say_pair(s[:2])} {pair(s[2:])}"
    if len(s) == 3:
        return f"{DIGIT[int(s[0])]} {pair(s[1:])}"
    return say_pair(s) if len(s) == 2 else DIGIT[int(s)]


def date(rng: random.Random) -> str:
    m, d, y = rng.randrange(12), rng.randint(1, 28), rng.randint(1950, 2005)
    year_words = f"nineteen {say_pair(str(y)[2:])}" if y < 2000 else f"two thousand {DIGIT[y % 10]}"
    form = rng.choice(["words", "words", "digits", "numeric", "of", "short"])
    if form == "words":
        return f"{MONTHS[m]} {ORDINAL[d - 1]}, {year_words}"
    if form == "digits":
        return f"{MONTHS[m]} {d}, {y}"
    if form == "numeric":
        return f"{m + 1:02d}/{d:02d}/{y}"
    if form == "of":
        return f"the {ORDINAL[d - 1]} of {MONTHS[m]}"
    return f"{MONTHS[m]} {ORDINAL[d - 1]}"


def iban(rng: random.Random) -> str:
    bank = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(4))
    bban = bank + "".join(rng.choice("0123456789") for _ in range(14))
    moved = bban + "GB00"
    numeric = "".join(str(int(c, 36)) for c in moved)
    check = 98 - int(numeric) % 97
    full = f"GB{check:02d}{bban}"
    return " ".join(full[i : i + 4] for i in range(0, len(full), 4))


def ip(rng: random.Random) -> str:
    return ".".join(str(rng.randint(1, 254)) for _ in range(4))


def digits_of(n: int, rng: random.Random) -> str:
    return rng.choice("123456789") + "".join(rng.choice("0123456789") for _ in range(n - 1))


# --- templates -------------------------------------------------------------------------
# Slots: {PERSON} {FIRST} {LAST} {SPELLED} {PHONE} {CARD} {SSN} {EMAIL} {ADDR} {CITY}
# {STATE} {DATE} {IBAN} {IP}; {N7} {N9} {N10} {SAY9} {SAY10} {LAST4} are unlabelled numbers.

TEMPLATES: dict[str, list[str]] = {
    "person": [
        "Hi, this is {PERSON} calling about my account.",
        "Yeah, my name is {PERSON}.",
        "Can I speak with {PERSON}, please?",
        "{PERSON} here, I called yesterday about the refund.",
        "The account is under {PERSON}.",
        "Thank you for calling, my name is {FIRST}, how can I help you today?",
        "I was talking to {FIRST} last week and she said it would be fixed.",
        "Okay, so the card holder is {PERSON}, is that right?",
        "Um, it's for {PERSON}, I'm the one who placed the order.",
        "My wife {FIRST} usually handles the bills.",
        "Please tell {FIRST} that I called.",
        "Sure, the last name is {LAST}, spelled {SPELLED}.",
        "Is this Mr. {LAST}?",
        "I'd like to add {PERSON} as an authorized user.",
        "Yes, {FIRST}, I can hold.",
        "{FIRST} from the billing team transferred me to you.",
        "Uh, the name on the account should be {PERSON}, not {PERSON}.",
        "Okay {FIRST}, I see your account here.",
        "My manager, {PERSON}, will call you back.",
        "Could you spell your last name? Sure, it's {SPELLED}.",
        "Hello, you're speaking with {FIRST}.",
        "So I spoke to a guy named {FIRST} and he told me to call back.",
        "Thanks so much, {FIRST}, you've been really helpful.",
        "It's Dr. {LAST}, I'm calling for my patient.",
    ],
    "phone": [
        "My phone number is {PHONE}.",
        "You can reach me at {PHONE}.",
        "The best number to call is {PHONE}, that's my cell.",
        "Yeah, it's {PHONE}.",
        "Can you text me at {PHONE} when it ships?",
        "My old number was {PHONE} but I changed it.",
        "Call me back on {PHONE} after five.",
        "Uh, the callback number, um, {PHONE}.",
        "Sure, it's {PHONE}, and that's a mobile.",
        "my cell is {PHONE} okay",
        "If the call drops, dial {PHONE}.",
        "My husband's number is {PHONE}.",
        "Okay, let me give you my work line, {PHONE}.",
        "The number we have on file is {PHONE}, is that still good?",
    ],
    "card": [
        "My card number is {CARD}.",
        "It's a Visa, {CARD}.",
        "Okay, the number on the card is {CARD}, expiration oh four twenty seven.",
        "I want to pay with {CARD}.",
        "Let me read it to you, {CARD}.",
        "the credit card is {CARD}",
        "Sure, {CARD}, and the security code is one two three.",
        "Charge it to my debit card, {CARD}.",
        "Uh, {CARD}.",
        "Go ahead and use the Mastercard ending, well the whole number is {CARD}.",
        "Card number, {CARD}, expires in twenty six.",
        "Can you put it on {CARD}?",
    ],
    "ssn": [
        "My social is {SSN}.",
        "Social security number, {SSN}.",
        "Um, the full SSN is {SSN}.",
        "For verification, my social security number is {SSN}.",
        "It's {SSN}.",
        "yeah my ss number is {SSN}",
        "Can I get your social? Sure, {SSN}.",
        "My husband's social is {SSN} and mine is {SSN}.",
        "The social on the application was {SSN}.",
        "Okay, so that's {SSN} for the social.",
    ],
    "email": [
        "My email is {EMAIL}.",
        "Send it to {EMAIL} please.",
        "You can email me at {EMAIL}.",
        "The email on file should be {EMAIL}.",
        "It's {EMAIL}, all lowercase.",
        "uh my email address is {EMAIL}",
        "Please update it to {EMAIL}.",
        "I never got the receipt at {EMAIL}.",
        "Could you resend the link to {EMAIL}?",
        "Yeah, {EMAIL}.",
    ],
    "location": [
        "I live at {ADDR}.",
        "The package should go to {ADDR}, {CITY}.",
        "I'm calling from {CITY}.",
        "We just moved to {CITY}, {STATE}.",
        "Ship it to {ADDR} in {CITY}.",
        "My billing address is {ADDR}, {CITY}, {STATE}.",
        "I'm in {CITY} right now.",
        "The branch in {CITY} was closed when I went.",
        "My mom lives on {ADDR}.",
        "We're out near {CITY}, it's about an hour from {CITY}.",
    ],
    "date": [
        "My date of birth is {DATE}.",
        "I was born on {DATE}.",
        "The appointment is on {DATE}.",
        "The charge went through on {DATE}.",
        "My birthday is {DATE}.",
        "Um, the policy started {DATE}.",
        "I think it was {DATE}, when I opened the account.",
        "Date of birth, {DATE}.",
    ],
    "other": [
        "My IBAN is {IBAN}.",
        "The transfer should go to {IBAN}.",
        "The router's IP address is {IP}.",
        "It says my IP was {IP} when I logged in.",
    ],
    "mixed": [
        "My name is {PERSON} and my number is {PHONE}.",
        "This is {FIRST}, my email is {EMAIL}.",
        "{PERSON}, date of birth {DATE}, social {SSN}.",
        "The card is {CARD} and the billing zip is the same as {ADDR}.",
        "Sure, it's {PERSON}, {ADDR}, {CITY}.",
        "You can call {FIRST} at {PHONE} or email {EMAIL}.",
        "Hi, I'm {PERSON}, I'm calling from {CITY} about my card ending, um, it's {CARD}.",
        "Okay {FIRST}, I have {PHONE} and {EMAIL} on file.",
    ],
    "negative": [
        "I will call you at four.",
        "The order number is A B 1 2.",
        "The product code is X J 9 0 0.",
        "I have two kids.",
        "It was about forty nine ninety nine.",
        "Press one for billing, two for support.",
        "Your order number is {SAY9}.",
        "The tracking number is {N10}.",
        "The reference number is {SAY10}.",
        "I've been a customer for twelve years.",
        "Can you call back in about five minutes?",
        "It costs one hundred and twenty dollars.",
        "The model number is {N7}.",
        "My zip code is nine oh two one oh.",
        "Room two oh five, second floor.",
        "We'll get back to you in three to five business days.",
        "It's version two point three.",
        "Your ticket number is {N7}.",
        "The card ends in {LAST4}.",
        "Yeah, that's about twenty or thirty bucks.",
        "I'll be there at ten thirty tomorrow.",
        "The invoice total was 1,299 dollars.",
        "Okay, one moment please.",
        "I called like three times last week.",
        "Your confirmation number is {N9}.",
        "I bought the Galaxy at Best Buy on Monday.",
        "We use Microsoft Teams for everything.",
        "Can you hold for two minutes?",
        "It's on page forty two of the manual.",
        "My account number is {N10}.",
        "Is the Premium plan still twenty dollars a month?",
        "Okay so that's three items, two of them shipped.",
        "Let me transfer you to the Billing department.",
        "Our hours are nine to five, Monday through Friday.",
        "The case number is {SAY10}.",
        "I need about four or five of them.",
    ],
}

# Second dev set: written as a held-out split, then inspected after its first evaluation.
DEV2_TEMPLATES: dict[str, list[str]] = {
    "person": [
        "Good morning, you've reached {FIRST} at the help desk.",
        "I'm trying to reach {PERSON}, is she available?",
        "The policy holder is my father, {PERSON}.",
        "Yes, I'm {PERSON}, the account owner.",
        "So {FIRST} was supposed to email me the contract.",
        "Can you put a note that {PERSON} called?",
        "I'm calling on behalf of my mother, {PERSON}.",
        "{FIRST}, can you hear me okay?",
        "It's listed under my maiden name, {LAST}.",
        "First name {FIRST}, last name {LAST}.",
        "My son {FIRST} opened the account for me.",
        "Hi {FIRST}, thanks for holding.",
        "The last name is {LAST}, {SPELLED}.",
        "Would {PERSON} be the primary contact?",
        "Mrs. {LAST} asked me to call.",
        "Hey, it's {FIRST} again.",
        "I spoke to someone called {FIRST} on Friday.",
        "Right, {PERSON} is my landlord.",
        "Yeah so me and {FIRST} share the account.",
        "Last name, {SPELLED}.",
    ],
    "phone": [
        "Best callback is {PHONE}.",
        "I'm calling from {PHONE} if you need it.",
        "Do you have a pen? It's {PHONE}.",
        "The home phone is {PHONE} and the cell is {PHONE}.",
        "uh text {PHONE} instead",
        "Please call my office at {PHONE}.",
        "Number's {PHONE}.",
        "You have the wrong number, mine is {PHONE}.",
        "My daughter's cell, {PHONE}.",
        "Fax it to {PHONE}.",
    ],
    "card": [
        "The card I want to use is {CARD}.",
        "My Amex is {CARD}.",
        "Okay, ready? {CARD}.",
        "Card ending, um, actually here's the full number, {CARD}.",
        "Visa, number {CARD}, expiry twelve twenty six.",
        "It's the debit card, {CARD}.",
        "use {CARD} for the payment",
        "The number on the front is {CARD}.",
    ],
    "ssn": [
        "SSN is {SSN}.",
        "My social security is {SSN}.",
        "The last four won't work? Okay, full social, {SSN}.",
        "Do you need my social? It's {SSN}.",
        "Tax ID, well my social, {SSN}.",
        "social is {SSN} yeah",
        "For the credit check, {SSN}.",
        "Ok the SSN on file is {SSN}?",
    ],
    "email": [
        "Email me at {EMAIL}.",
        "My work email is {EMAIL}.",
        "The login is {EMAIL}.",
        "Did you send it to {EMAIL}?",
        "I use {EMAIL} for everything.",
        "You can write that down as {EMAIL}.",
        "My username is my email, {EMAIL}.",
        "Cc my assistant at {EMAIL}.",
    ],
    "location": [
        "My address is {ADDR}, {CITY}.",
        "We live over on {ADDR}.",
        "I'm originally from {CITY}, {STATE}.",
        "The billing address is still {ADDR}.",
        "I'm driving to {CITY} tomorrow.",
        "It was delivered to the wrong house, we're at {ADDR}.",
        "The nearest store is in {CITY}.",
        "We have a place in {CITY} and one in {CITY}.",
    ],
    "date": [
        "DOB is {DATE}.",
        "I was born {DATE}.",
        "The lease started on {DATE}.",
        "Can we schedule it for {DATE}?",
        "My birth date is {DATE}.",
        "It expired on {DATE}.",
    ],
    "other": [
        "Here's the IBAN, {IBAN}.",
        "My server's IP is {IP}.",
    ],
    "mixed": [
        "I'm {PERSON}, {DATE} is my birthday, and my phone is {PHONE}.",
        "Send the card to {PERSON} at {ADDR}, {CITY}.",
        "{FIRST} {LAST}, email {EMAIL}, phone {PHONE}.",
        "The SSN is {SSN} and the card is {CARD}.",
        "Hi, {FIRST} here, I live in {CITY} and my card is {CARD}.",
    ],
    "negative": [
        "Can I call you back at five?",
        "My order is A 7 7 B.",
        "SKU is X Y 4 4 1.",
        "We've got three dogs and two cats.",
        "The subscription is nine ninety nine a month.",
        "Press two to repeat this message.",
        "Order number {SAY9}.",
        "Your claim number is {SAY10}.",
        "The serial number is {N10}.",
        "Give me about ten minutes.",
        "I've called four times already.",
        "The refund was for sixty two fifty.",
        "Error code five oh three.",
        "Flight two forty seven was delayed.",
        "It's on the third floor.",
        "The part number is {N9}.",
        "Yeah it's the twelve month plan.",
        "I'll be home after six.",
        "We spoke on Tuesday.",
        "The iPhone fourteen keeps restarting.",
        "Can you open a ticket with Apple?",
        "Your case ID is {N7}.",
        "It's about twenty five miles.",
        "I paid with PayPal last time.",
        "Extension four four two one.",
        "The total is two hundred forty dollars and twelve cents.",
    ],
}

FREEFORM_DEV2 = [
    "[PERSON: Beatriz] is my caseworker, she's the one who set this up.",
    "can you read back the number, I said [PHONE_NUMBER: seven oh three, two two two, one nine one nine]",
    "We were living in [LOCATION: Albany] until last year.",
    "uh my social is [US_SSN: five one eight, two two, four four three one], sorry, it's been a long day",
    "The email is [EMAIL_ADDRESS: r dot okonkwo at gmail dot com], that's [PERSON: O K O N K W O].",
    "I have the card right here, [CREDIT_CARD: 6011 0009 9013 9424].",
    "Our office moved to [LOCATION: 250 Spruce Street] in [LOCATION: Hartford].",
    "[PERSON: Viktor]'s the one who answered last time.",
    "I think the date was [DATE_TIME: October second, twenty twenty].",
    "Is [PERSON: Mr. Adebayo] available?",
    "My password is sunshine, oh wait, I shouldn't say that.",
    "It's twelve dollars for shipping and four for handling.",
    "I need to update my email to [EMAIL_ADDRESS: dee_walsh@protonmail.com].",
    "Please don't call [PHONE_NUMBER: 555 867 5309] anymore, that's my old line.",
    "The account was opened by [PERSON: Lorenzo Ricci] back in two thousand nine.",
    "We need to ship it to [LOCATION: Fargo], [LOCATION: North Dakota].",
    "Okay so, [CREDIT_CARD: three seven one four, four nine six three, five three nine, "
    "eight four three one]",
    "My kid is turning seven next week.",
    "I was told to call this number by [PERSON: Tamika] at the front desk.",
    "The PIN is four four two one.",
    "Her birthday is [DATE_TIME: June ninth].",
    "Social: [US_SSN: 078-05-1120].",
    "Dial [PHONE_NUMBER: plus four four, two oh, seven nine four six, oh nine five eight] for "
    "the [LOCATION: London] office.",
    "I ordered two of the blue ones and one red.",
    "That's [PERSON: Kowalczyk], [PERSON: K O W A L C Z Y K].",
    "Sure, my IP is [IP_ADDRESS: 10.0.0.12].",
    "My name's [PERSON: Dev], short for [PERSON: Devendra].",
    "They charged my card twice on the fifth.",
    "the router is at [IP_ADDRESS: 192.168.0.1]",
]

# Third dev set: the second set written as a held-out split, inspected after its first
# evaluation and then moved to dev.
# fmt: off
FIRST_H = ["Gloria", "Hamid", "Yasmin", "Connor", "Priyanka", "Andrei", "Naomi", "Tobias",
           "Esther", "Rafael", "Leona", "Jin", "Adaeze", "Malik", "Bianca", "Stefan", "Rania",
           "Owen", "Marisol", "Kai", "Daria", "Emeka", "Vivian", "Hugo", "Soraya", "Declan",
           "Ines", "Jasper", "Fiona", "Arnav"]
LAST_H = ["Alvarado", "Nwosu", "Brennan", "Takahashi", "Kovac", "Mahmoud", "Lindgren",
          "Ferreira", "Walsh", "Chaudhry", "Novotny", "Esposito", "Quinn", "Bauer", "Oyelaran",
          "Sato", "Ramos", "Gallagher", "Petrov", "Mendez", "Holloway", "Achebe", "Dubois",
          "Jensen", "Karimi", "Whitaker"]
CITY_H = ["Spokane", "Savannah", "Lexington", "Fresno", "Rochester", "Des Moines", "Anchorage",
          "Knoxville", "Halifax", "Little Rock", "El Paso", "Jacksonville", "Scranton", "Duluth",
          "Green Bay", "Santa Fe"]
STATE_H = ["Iowa", "Alaska", "Maine", "Montana", "Oklahoma", "South Carolina", "Vermont",
           "Idaho"]
STREET_H = ["Sycamore", "Hawthorne", "Prospect", "Cherry", "Juniper", "Laurel", "Aspen",
            "Beacon", "Cypress", "Dogwood", "Hickory", "Poplar"]
# fmt: on

DEV3_TEMPLATES: dict[str, list[str]] = {
    "person": [
        "Hi there, {FIRST} speaking, how can I help?",
        "I need to cancel the card for {PERSON}, she passed away last month.",
        "Who am I speaking with? {PERSON}.",
        "Can you transfer me to {FIRST} in claims?",
        "The technician was a guy called {FIRST}, he was great.",
        "So my landlord, {PERSON}, says the bill is in his name.",
        "{FIRST} and I both use this account.",
        "Okay, I have it under {LAST}, first name {FIRST}?",
        "I'm {FIRST}, I'm the daughter of the account holder.",
        "Please ask for {PERSON} when you call back.",
        "My mom's name is {PERSON}.",
        "Sorry, was that {FIRST} or something else?",
        "Yes this is {PERSON} returning a missed call.",
        "Mr. {LAST} is out of the office today.",
        "The package was signed for by {PERSON}.",
        "Just so you know, {FIRST} is my nickname.",
        "{LAST}, that's {SPELLED}.",
        "Could I get your name please? Yeah, it's {PERSON}.",
        "Thanks for your patience, {FIRST}.",
        "I was helped by {FIRST} last time and she was lovely.",
    ],
    "phone": [
        "What's a good number for you? {PHONE}.",
        "The number I'm calling from is {PHONE}.",
        "Put down {PHONE} as the contact number.",
        "Alternatively my husband can be reached on {PHONE}.",
        "okay the phone on the account is {PHONE}",
        "Hmm, try {PHONE}, that should work.",
        "Her cell number is {PHONE}, but she rarely answers.",
        "I got a text from {PHONE} saying my account was locked.",
        "You can leave a voicemail at {PHONE}.",
        "That's {PHONE}, right?",
    ],
    "card": [
        "I'd like to pay the balance with {CARD}.",
        "The card number is {CARD}, and the expiry is oh nine twenty eight.",
        "Okay, here it is: {CARD}.",
        "It's a Discover card, {CARD}.",
        "Um, {CARD}, did you get that?",
        "Can you refund it to {CARD} instead?",
        "The Visa ending in, well, it's {CARD}.",
        "Let me read the number off the card, {CARD}.",
    ],
    "ssn": [
        "My social security number? It's {SSN}.",
        "You need the SSN, okay, {SSN}.",
        "The last four are in there, the full one is {SSN}.",
        "For identity verification, {SSN}.",
        "social, uh, {SSN}",
        "Her social is {SSN}.",
        "I'll give you my social, {SSN}, is that enough?",
        "My son's social security number is {SSN}.",
    ],
    "email": [
        "Can you send the invoice to {EMAIL}?",
        "Sure, the email is {EMAIL}.",
        "I registered with {EMAIL}.",
        "Try {EMAIL}, that's my personal one.",
        "Change the email to {EMAIL} please.",
        "My email, {EMAIL}, hasn't received anything.",
        "please cc {EMAIL}",
        "It should be {EMAIL}, with no capitals.",
    ],
    "location": [
        "We're located at {ADDR}, {CITY}.",
        "My old address was {ADDR}.",
        "Our office is in {CITY}, {STATE}.",
        "I'm calling from a hotel in {CITY}.",
        "Please mail the new card to {ADDR}.",
        "The outage is on {ADDR}, the whole block is dark.",
        "We're relocating to {CITY} next month.",
        "My parents live in {CITY}.",
    ],
    "date": [
        "My DOB is {DATE}.",
        "Date of birth is {DATE}.",
        "I opened the account on {DATE}.",
        "The payment is due {DATE}.",
        "Our anniversary is {DATE}, that's the date I used.",
        "She was born on {DATE}.",
    ],
    "other": [
        "The IBAN on the transfer was {IBAN}.",
        "The IP address it shows is {IP}.",
    ],
    "mixed": [
        "This is {PERSON}, my number is {PHONE} and my email is {EMAIL}.",
        "{PERSON}, born {DATE}, living at {ADDR}.",
        "Social is {SSN}, card is {CARD}.",
        "Send it to {FIRST} at {EMAIL} or call {PHONE}.",
        "Hi, it's {FIRST} from {CITY}, my card {CARD} was declined.",
    ],
    "negative": [
        "Can you call me back around three?",
        "The confirmation code is Q 7 X 2.",
        "Model number A 3 1 0 0.",
        "I have three accounts with you.",
        "It's twenty nine ninety nine a month.",
        "Press nine to speak to an agent.",
        "Your reference number is {SAY9}.",
        "The ticket number is {SAY10}.",
        "The order ID is {N10}.",
        "I waited about forty minutes.",
        "That was like five years ago.",
        "My bill went up by fifteen dollars.",
        "Error four oh four when I log in.",
        "Gate twelve, terminal two.",
        "It's the second option in the menu.",
        "The invoice number is {N9}.",
        "Please hold for one moment.",
        "I'll be available after four thirty.",
        "We talked on Wednesday afternoon.",
        "My Samsung TV won't connect.",
        "I bought it on Amazon.",
        "Your membership number is {N7}.",
        "It's about thirty kilometers away.",
        "I use Google Pay mostly.",
        "Dial extension two one five.",
        "That comes to one hundred and five dollars.",
    ],
}

FREEFORM_DEV3 = [
    "So [PERSON: Elif] from your team promised me a callback.",
    "yeah it's [PHONE_NUMBER: nine one seven, five five five, two six one eight], that's my cell",
    "I'm driving up from [LOCATION: Provo] this weekend.",
    "My social, ready? [US_SSN: three two one, six six, oh four four seven].",
    "Email is [EMAIL_ADDRESS: t dot nguyen eighty eight at yahoo dot com].",
    "Card is [CREDIT_CARD: 5555 5555 5555 4444].",
    "We moved into [LOCATION: 19 Foxglove Lane] last spring.",
    "I think [PERSON: Marguerite] handled my last claim.",
    "My date of birth, [DATE_TIME: the twelfth of February, nineteen ninety].",
    "Is this [PERSON: Ms. Abernathy]?",
    "The promo code is SAVE twenty.",
    "It was like four or five hundred bucks.",
    "My work email is [EMAIL_ADDRESS: j.kowal@northwind.io].",
    "Call [PHONE_NUMBER: 202-555-0143] and ask for [PERSON: Terrence].",
    "The account holder is [PERSON: Oluwaseun Adeyemi-Brown].",
    "Ship to [LOCATION: Saskatoon], [LOCATION: Canada].",
    "Okay, [CREDIT_CARD: six zero one one, one one one one, one one one one, one one one seven].",
    "I'm not sure, maybe seven or eight times.",
    "My daughter [PERSON: Keziah] set up the account for me.",
    "Social is [US_SSN: 457-55-5462].",
    "It's [PERSON: Bartholomew], but everyone calls me [PERSON: Bart].",
    "We were at the [LOCATION: Denver] office until last year.",
    "My birthday is [DATE_TIME: November 3rd].",
    "the server is [IP_ADDRESS: 172.16.4.20]",
    "Plus it costs ten dollars extra.",
    "Dial [PHONE_NUMBER: plus three five three, one, two three four, five six seven eight] for "
    "the [LOCATION: Dublin] office.",
]

# Held-out test split: templates, pools and free-form lines written after all tuning on
# the dev sets was finished, and evaluated once.
# fmt: off
FIRST_3 = ["Beatrice", "Oleksandr", "Chidi", "Mirela", "Sanjay", "Ayumi", "Patrick",
           "Lindiwe", "Teodor", "Rosalind", "Farid", "Ingeborg", "Tamar", "Quentin", "Nalani",
           "Wojciech", "Cormac", "Esperanza", "Dwayne", "Annika", "Babajide", "Yusuf",
           "Celeste", "Gwen", "Meera", "Thiago", "Ruth", "Kwabena"]
LAST_3 = ["Okonjo", "Harrington", "Vasquez", "Szabo", "Ndlovu", "Pereira", "Lundqvist", "Tran",
          "O'Sullivan", "Banerjee", "Mazur", "Abiodun", "Fontaine", "Haugen", "Gutierrez",
          "Ishikawa", "Papadopoulos", "Sokolov", "McBride", "Varga", "Nakashima", "Delacroix",
          "Mwangi", "Stewart", "Yilmaz", "Castellanos", "Becker"]
CITY_3 = ["Tacoma", "Chattanooga", "Boulder", "Wichita", "Modesto", "Providence", "Syracuse",
          "Lansing", "Winnipeg", "Reno", "Birmingham", "Columbus", "Fort Worth", "Baton Rouge",
          "Ann Arbor", "Charleston"]
STATE_3 = ["Nebraska", "Delaware", "Arkansas", "Louisiana", "Minnesota", "Hawaii", "Kansas",
           "Missouri"]
STREET_3 = ["Alder", "Birchwood", "Clover", "Elmwood", "Fairview", "Glenwood", "Redwood",
            "Ivy", "Kingsley", "Linden", "Mulberry", "Northgate"]
# fmt: on

TEST_TEMPLATES: dict[str, list[str]] = {
    "person": [
        "Hello, my name's {PERSON} and I'm calling about a charge.",
        "Is {FIRST} there? I was told to ask for her.",
        "You were speaking to {FIRST} earlier, she had to step away.",
        "The beneficiary should be {PERSON}.",
        "I'm the executor for {PERSON}'s estate.",
        "Put it under my partner's name, {PERSON}.",
        "{FIRST} handled the installation and did a great job.",
        "Could you tell {FIRST} to call me back?",
        "We have two people on the lease, me and {PERSON}.",
        "Hi, {FIRST}? It's about your appointment.",
        "Surname {LAST}, given name {FIRST}.",
        "{FIRST} here from accounts, is now a good time?",
        "My brother {PERSON} co-signed the loan.",
        "I'm not {FIRST}, I'm her sister.",
        "Okay so that's {LAST} with a capital letter, {SPELLED}.",
        "Yeah, {PERSON} is the one who set it up.",
        "The doctor's name is Dr. {LAST}.",
        "Last week I talked to {FIRST} and she said to call back.",
        "Your agent today is {FIRST}.",
        "Good afternoon {FIRST}, what can I do for you?",
    ],
    "phone": [
        "Reach me at {PHONE} during the day.",
        "The callback number on file is {PHONE}?",
        "My new number is {PHONE}, please update it.",
        "Someone called me from {PHONE} claiming to be you.",
        "Work number, {PHONE}.",
        "I'll give you my landline instead, {PHONE}.",
        "uh yeah so {PHONE} is my cell",
        "Contact her on {PHONE} after six.",
        "If I'm not there, try {PHONE}.",
        "It's {PHONE}, extension four.",
    ],
    "card": [
        "Please charge {CARD}.",
        "The new card is {CARD}.",
        "I'll use my Mastercard, it's {CARD}.",
        "{CARD}, that's the one.",
        "Card on file should be {CARD}.",
        "Okay, reading it out, {CARD}, security code later.",
        "The Amex number is {CARD}.",
        "Put the deposit on {CARD}.",
    ],
    "ssn": [
        "SSN, {SSN}.",
        "My social's {SSN}.",
        "Sure, social security number {SSN}.",
        "For the background check you'll need {SSN}, that's my social.",
        "It's my husband's social, {SSN}.",
        "Okay, {SSN} is the SSN.",
        "the social is {SSN}",
        "Can you verify {SSN} is on the account?",
    ],
    "email": [
        "Email address: {EMAIL}.",
        "I'll spell the email, {EMAIL}.",
        "Send a copy to {EMAIL} as well.",
        "Is it {EMAIL}? That's what I have.",
        "My login email is {EMAIL}.",
        "Reply to {EMAIL}, not the old one.",
        "hmm it's {EMAIL} I think",
        "Forward everything to {EMAIL}.",
    ],
    "location": [
        "I live on {ADDR}.",
        "Deliver it to {ADDR}, {CITY}, {STATE}.",
        "We're based in {CITY}.",
        "My son lives in {CITY}, {STATE}.",
        "The store at {ADDR} was rude to me.",
        "I'm staying in {CITY} this week.",
        "It shipped to {ADDR} instead of my place.",
        "I grew up in {CITY}.",
    ],
    "date": [
        "Birthday's {DATE}.",
        "My date of birth would be {DATE}.",
        "The contract ends {DATE}.",
        "I was born {DATE}, if that helps.",
        "Can we do {DATE} for the visit?",
        "It started on {DATE}.",
    ],
    "other": [
        "IBAN: {IBAN}.",
        "The device IP is {IP}.",
    ],
    "mixed": [
        "{PERSON} here, my social is {SSN}.",
        "My name is {PERSON}, you can email {EMAIL}.",
        "The card {CARD} belongs to {PERSON}.",
        "{FIRST} lives at {ADDR} in {CITY}.",
        "Call {PHONE} or write to {EMAIL}, ask for {FIRST}.",
    ],
    "negative": [
        "I'll call back at two.",
        "The code on the screen is B 4 4 Z.",
        "It's part number C 2 0 9.",
        "We have four kids and a dog.",
        "The plan is thirty nine ninety nine.",
        "Press three for billing.",
        "Your case number is {SAY9}.",
        "The booking reference is {SAY10}.",
        "Tracking number {N10}.",
        "It took about two weeks.",
        "I've had it for six years.",
        "They charged me eighty dollars.",
        "It says error code seven seven.",
        "Seat fourteen B.",
        "Option four didn't work.",
        "The claim number is {N9}.",
        "Give me a second please.",
        "Let's say around five thirty.",
        "I called on Thursday morning.",
        "My Dell laptop keeps crashing.",
        "I ordered it from Walmart.",
        "Your account ID is {N7}.",
        "It's maybe ten miles from here.",
        "I usually pay with Apple Pay.",
        "Room three twelve.",
        "That's one hundred and ten percent.",
    ],
}

FREEFORM_TEST = [
    "[PERSON: Ottoline] from the front desk gave me this number.",
    "it's [PHONE_NUMBER: three one two, eight eight eight, four two four two], my cell",
    "I'm flying out of [LOCATION: Tallahassee] tonight.",
    "My social is [US_SSN: two two two, three three, four four four four].",
    "Email is [EMAIL_ADDRESS: k m u r p h y at icloud dot com].",
    "The Amex is [CREDIT_CARD: 3782 822463 10005].",
    "We're at [LOCATION: 880 Larkspur Court] now.",
    "I think her name was [PERSON: Philippa].",
    "Date of birth [DATE_TIME: the fourth of July, nineteen sixty eight].",
    "Can I talk to [PERSON: Mr. Whitcombe]?",
    "The coupon code is WINTER ten.",
    "About six or seven hundred dollars, I think.",
    "My email's [EMAIL_ADDRESS: p.osei@fabrikam.org].",
    "Text [PHONE_NUMBER: 415-555-0199] and say it's for [PERSON: Grainne].",
    "The loan is in [PERSON: Adaeze Okafor-Smith]'s name.",
    "Send it to [LOCATION: Regina], [LOCATION: Saskatchewan].",
    "Okay, [CREDIT_CARD: four zero one two, eight eight eight eight, eight eight eight eight, "
    "one eight eight one].",
    "Maybe three or four times a week.",
    "My nephew [PERSON: Tobiah] uses the account too.",
    "SSN [US_SSN: 512-44-7382].",
    "I'm [PERSON: Maximilian], [PERSON: Max] for short.",
    "My anniversary is [DATE_TIME: September 14th].",
    "the camera is on [IP_ADDRESS: 10.1.1.45]",
    "Also, the fee is twenty bucks.",
    "Please call [PHONE_NUMBER: plus six one, two, nine three seven four, four one two three] "
    "for the [LOCATION: Sydney] team.",
]

# Free-form utterances written by hand; [TYPE: text] marks a label.
FREEFORM = [
    "ok so [PERSON: Rebecca] said you guys could waive the fee",
    "yeah the um the number you have is wrong it should be [PHONE_NUMBER: six one seven, "
    "five five five, oh one four two]",
    "we moved from [LOCATION: Cleveland] to [LOCATION: Tampa] in the spring",
    "My social, uh, hold on, [US_SSN: four one two, seven seven, three oh oh nine].",
    "So it's [EMAIL_ADDRESS: m dot alvarez at outlook dot com], [PERSON: Alvarez] with a z.",
    "Right, and can you confirm the card, [CREDIT_CARD: 4716 2930 6627 0511]?",
    "I think [PERSON: Dana] in accounting has the paperwork.",
    "Just a second, I'm writing down four five six, no wait, that's the wrong one.",
    "The last four are two two one oh but I don't have the full number.",
    "Hey it's [PERSON: Marco Bellini] again, returning your call.",
    "it should go to [LOCATION: 1120 Birch Lane], apartment three",
    "Yeah, I was born [DATE_TIME: August twelfth, nineteen seventy], so I'm over fifty.",
    "I'm at [PHONE_NUMBER: 415 555 0172], or you can try my wife's phone.",
    "We have like three hundred customers in that region.",
    "The package weighs about twelve pounds.",
    "[PERSON: Oksana] told me the limit was five thousand.",
    "Could you send that to [EMAIL_ADDRESS: support underscore team at acme dot io]?",
    "okay I'll call you on Thursday at two",
    "The total came to eighty seven fifty after tax.",
    "Uh, [CREDIT_CARD: five four two four, one eight oh oh, one two three four, "
    "five six seven eight]... sorry, let me check that again.",
    "My daughter [PERSON: Isabella] is on the plan too.",
    "We're at [LOCATION: 77 Harbor Road] in [LOCATION: Portsmouth].",
    "Is that the Pro model or the regular one?",
    "I called on the [DATE_TIME: third of May] and nobody picked up.",
    "The technician, I think his name was [PERSON: Ravi], never showed up.",
    "My number's [PHONE_NUMBER: two oh six, four four four, double nine one two].",
    "You guys charged me twice, once for forty and once for sixty.",
    "Is this still [PERSON: Ms. Thompson]'s account?",
    "Reach me at [EMAIL_ADDRESS: kate.obrien@fastmail.com] anytime.",
    "I have a reservation for four people at seven.",
    "I was in [LOCATION: Denver] for work when it happened.",
    "[PERSON: Gabriel Santos], [PERSON: S A N T O S].",
    "My social security number is [US_SSN: 219 09 9999].",
    "the code they gave me was seven seven four two",
    "We've had the account since two thousand twelve I think.",
    "Put [PERSON: Jordan Lee] down as the emergency contact, [PHONE_NUMBER: 312-555-0147].",
]


def fill(template: str, rng: random.Random, pools: dict[str, list[str]]) -> tuple[str, list]:
    """Render a template; return text and labels [(type, start, end)]."""
    out, labels, pos = [], [], 0
    for m in re.finditer(r"\{([A-Z0-9]+)\}", template):
        out.append(template[pos : m.start()])
        value, kind = render(m.group(1), rng, pools)
        start = sum(len(s) for s in out)
        out.append(value)
        if kind == "CUED_NUMBER":
            kind = cued_number_kind("".join(out[:-1]))
        if kind:
            labels.append((kind, start, start + len(value)))
        pos = m.end()
    out.append(template[pos:])
    return "".join(out), labels


def render(slot: str, rng: random.Random, pools: dict[str, list[str]]) -> tuple[str, str | None]:
    if slot == "PERSON":
        return f"{rng.choice(pools['first'])} {rng.choice(pools['last'])}", "PERSON"
    if slot == "FIRST":
        return rng.choice(pools["first"]), "PERSON"
    if slot == "LAST":
        pools["_last"] = [rng.choice(pools["last"])]
        return pools["_last"][0], "PERSON"
    if slot == "SPELLED":
        name = pools.pop("_last", [rng.choice(pools["last"])])[0]
        return " ".join(ch.upper() for ch in name if ch.isalpha()), "PERSON"
    simple = {
        "PHONE": (phone, "PHONE_NUMBER"),
        "CARD": (card, "CREDIT_CARD"),
        "SSN": (ssn, "US_SSN"),
        "DATE": (date, "DATE_TIME"),
        "IBAN": (iban, "IBAN_CODE"),
        "IP": (ip, "IP_ADDRESS"),
    }
    if slot in simple:
        fn, kind = simple[slot]
        return fn(rng), kind
    if slot == "EMAIL":
        return email(rng, pools["first"]), "EMAIL_ADDRESS"
    if slot == "ADDR":
        return address(rng, pools["street"]), "LOCATION"
    if slot == "CITY":
        return rng.choice(pools["city"]), "LOCATION"
    if slot == "STATE":
        return rng.choice(pools["state"]), "LOCATION"
    numbers = {"N7": 7, "N9": 9, "N10": 10, "LAST4": 4}
    if slot in numbers:
        return digits_of(numbers[slot], rng), "CUED_NUMBER" if slot != "LAST4" else None
    if slot in ("SAY9", "SAY10"):
        d = digits_of(9 if slot == "SAY9" else 10, rng)
        return " ".join(DIGIT[int(c)] for c in d), "CUED_NUMBER"
    raise KeyError(slot)


def cued_number_kind(before: str) -> str:
    """The guideline's type of a 7+ digit number said after ``before``."""
    words = re.findall(r"[a-z]+", before.lower())
    return "ACCOUNT_NUMBER" if any(w in ACCOUNT_CUES for w in words[-4:]) else "LONG_NUMBER"


def parse_freeform(line: str) -> tuple[str, list]:
    text, labels, pos = [], [], 0
    for m in re.finditer(r"\[([A-Z_]+): ([^\]]+)\]", line):
        text.append(line[pos : m.start()])
        start = sum(len(s) for s in text)
        value = m.group(2)
        if m.group(1) == "PERSON" and value.startswith(("Mr. ", "Ms. ", "Dr. ")):
            text.append(value[:4])
            start += 4
            value = value[4:]
        text.append(value)
        labels.append((m.group(1), start, start + len(value)))
        pos = m.end()
    text.append(line[pos:])
    return "".join(text), labels


def fill_v2(template: str, rng: random.Random, pools: dict[str, list[str]], level: int) -> tuple[str, list]:
    out, labels, pos = [], [], 0
    for m in re.finditer(r"\{([A-Z0-9]+)\}|\[([A-Z_]+): ([^\]]+)\]", template):
        out.append(template[pos : m.start()])
        if m.group(1):
            value, kind = v2.render(m.group(1), rng, pools, level)
            short = m.group(1) in ("SHORT", "SHORTW")
            if (
                short
                and len(re.findall(r"\d|[a-z]+", value)) >= 5
                and cued_number_kind("".join(out)) == "ACCOUNT_NUMBER"
            ):
                kind = "ACCOUNT_NUMBER"  # 5+ digits after an account cue (guideline)
        else:  # a literal labelled span: "[DATE_TIME: March 3rd, 2021]"
            value, kind = m.group(3), m.group(2)
        start = sum(len(s) for s in out)
        out.append(value)
        if kind:
            labels.append((kind, start, start + len(value)))
        pos = m.end()
    out.append(template[pos:])
    return "".join(out), labels


def v2_rows() -> list[dict]:
    """dev4 ... dev8 and test6 (pii_templates_v2.py), from their own seed."""
    rng = random.Random(20270301)
    rows = []
    for name, (templates_by_group, freeform) in v2.SETS.items():
        split = HELD_OUT if name == HELD_OUT else "dev"
        for group, templates in templates_by_group.items():
            for t_idx, template in enumerate(templates):
                for r in range(v2.REPEATS[group.rstrip("0123456789")]):
                    text, labels = fill_v2(template, rng, v2.POOLS[name], v2.LEVELS[name])
                    rows.append(
                        {
                            "id": f"{name}-{group}-{t_idx:02d}-{r}",
                            "split": split,
                            "group": group,
                            "text": text,
                            "labels": labels,
                        }
                    )
        for k, line in enumerate(freeform):
            text, labels = parse_freeform(line)
            rows.append(
                {
                    "id": f"{name}-free-{k:02d}",
                    "split": split,
                    "group": "free",
                    "text": text,
                    "labels": labels,
                }
            )
    return rows


def asr_rows() -> list[dict]:
    """Whisper transcripts (pii_asr.jsonl) with their hand labels (pii_asr_labels.txt: one
    "id<TAB>transcript with [TYPE: text] marks" per line); a label line must give back the
    stored transcript exactly once its marks are removed."""
    transcripts = {}
    for line in ASR_ROWS.read_text().splitlines():
        row = json.loads(line)
        transcripts[row["id"]] = row
    rows = []
    for line in ASR_LABELS.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        rid, marked = line.split("\t", 1)
        text, labels = parse_freeform(marked)
        row = transcripts.pop(rid)
        if text != row["transcript"]:
            raise ValueError(f"{rid}: labelled text differs from the transcript: {text!r}")
        rows.append(
            {
                "id": rid,
                "split": HELD_OUT if row["split"] == HELD_OUT else "dev",
                "group": "asr",
                "text": text,
                "labels": labels,
            }
        )
    if transcripts:
        raise ValueError(f"transcripts without labels: {sorted(transcripts)}")
    return rows


def main() -> None:
    rng = random.Random(20261121)
    pools = {
        "dev": {"first": FIRST, "last": LAST, "city": CITY, "street": STREET, "state": STATE},
        "dev2": {"first": FIRST_T, "last": LAST_T, "city": CITY_T, "street": STREET_T, "state": STATE_T},
        "dev3": {"first": FIRST_H, "last": LAST_H, "city": CITY_H, "street": STREET_H, "state": STATE_H},
        "test": {"first": FIRST_3, "last": LAST_3, "city": CITY_3, "street": STREET_3, "state": STATE_3},
    }
    repeats = {
        "person": 4,
        "phone": 6,
        "card": 7,
        "ssn": 8,
        "email": 8,
        "location": 5,
        "date": 5,
        "other": 4,
        "mixed": 4,
        "negative": 2,
    }
    rows = []
    sets = (("dev", TEMPLATES), ("dev2", DEV2_TEMPLATES), ("dev3", DEV3_TEMPLATES), ("test", TEST_TEMPLATES))
    for name, templates_by_group in sets:
        split = "test" if name == "test" else "dev"
        for group, templates in templates_by_group.items():
            for t_idx, template in enumerate(templates):
                for r in range(repeats[group]):
                    text, labels = fill(template, rng, dict(pools[name]))
                    if group != "negative" and rng.random() < 0.1:
                        text = text.lower()
                    rows.append(
                        {
                            "id": f"{name}-{group}-{t_idx:02d}-{r}",
                            "split": split,
                            "group": group,
                            "text": text,
                            "labels": labels,
                        }
                    )
    for name, lines in (
        ("dev", FREEFORM),
        ("dev2", FREEFORM_DEV2),
        ("dev3", FREEFORM_DEV3),
        ("test", FREEFORM_TEST),
    ):
        for k, line in enumerate(lines):
            text, labels = parse_freeform(line)
            rows.append(
                {
                    "id": f"{name}-free-{k:02d}",
                    "split": "test" if name == "test" else "dev",
                    "group": "free",
                    "text": text,
                    "labels": labels,
                }
            )
    rows += v2_rows() + asr_rows()
    seen, unique = set(), []
    for row in rows:
        if row["text"] not in seen:
            seen.add(row["text"])
            unique.append(row)
    with OUT.open("w") as fh:
        for row in unique:
            entities = [
                {"type": t, "start": s, "end": e, "text": row["text"][s:e]} for t, s, e in row["labels"]
            ]
            fh.write(
                json.dumps(
                    {
                        "id": row["id"],
                        "split": row["split"],
                        "group": row["group"],
                        "text": row["text"],
                        "entities": entities,
                    }
                )
                + "\n"
            )
    print(f"wrote {len(unique)} utterances to {OUT}")


if __name__ == "__main__":
    main()
