"""Numbers and identifiers: phone, card, SSN, the catch-all number types, IPv4 addresses,
IBANs, account codes (no spaCy model needed)."""

from __future__ import annotations

import pytest

from services.redact import catch_all, identifiers, numbers, spoken
from services.redact.numbers import ACCOUNT, CARD, LONG, PHONE, SSN


def typed(text: str, context: list[str] | None = None) -> list[tuple[str, str, float]]:
    rec = numbers.SpokenNumberRecognizer()
    raw = rec.analyze(text, rec.supported_entities)
    scored = rec.enhance_using_context(text, raw, [], None, context)
    return [(r.entity_type, text[r.start : r.end], round(r.score, 2)) for r in scored]


def kept(text: str, threshold: float = 0.4, context: list[str] | None = None) -> list:
    return [(e, span) for e, span, score in typed(text, context) if score >= threshold]


def test_when_a_luhn_valid_card_is_said_in_words_then_it_is_a_card():
    text = "my card is four one one one, one one one one, one one one one, one one one one."
    assert kept(text) == [(CARD, text[11:-1])]


def test_when_the_card_checksum_fails_then_it_is_still_a_card():
    # ASR mishears digits: a failed Luhn check must not let a card through (this test used
    # to assert that a Luhn-failing card without card words was left in the text).
    digits = "four one one one one one one one one one one one one one one two"
    assert kept(f"uh {digits} sorry") == [(CARD, digits)]
    ((_, _, failed),) = typed(f"uh {digits} sorry")
    ((_, _, passed),) = typed("uh four one one one one one one one one one one one one one one one")
    assert passed > failed >= 0.4
    assert kept(f"the card number is {digits}") == [(CARD, digits)]


def test_when_a_card_is_split_over_numerals_then_the_whole_number_is_one_span():
    text = "use 4111 1111 1111 1111 please"
    assert kept(text) == [(CARD, "4111 1111 1111 1111")]


@pytest.mark.parametrize(
    "said",
    [
        "two one two, five five five, oh one nine eight",
        "two one two five five five oh one nine eight",
        "212 555 0198",
        "two one two, double five five, oh one ninety eight",
        "one two one two five five five oh one nine eight",
        "plus four four two oh seven nine four six oh nine five eight",
    ],
)
def test_when_a_phone_number_is_said_then_it_is_a_phone(said):
    assert kept(f"sure, it's {said}.") == [(PHONE, said)]


def test_when_seven_digits_have_a_phone_cue_then_they_are_a_phone():
    assert kept("it's five five five one two three four") == []
    assert kept("my cell is five five five one two three four") == [
        (PHONE, "five five five one two three four")
    ]


def test_when_an_ssn_is_said_then_social_words_raise_its_score():
    said = "one two three, four five, six seven eight nine"
    ((entity, span, plain),) = typed(f"it's {said}")
    ((_, _, cued),) = typed(f"my social is {said}")
    assert (entity, span) == (SSN, said)
    assert cued > plain >= 0.4


def test_when_the_cue_came_before_the_text_then_external_context_counts():
    said = "five five five one two three four"
    assert kept(f"it's {said}", context=["phone"]) == [(PHONE, said)]


def test_when_nine_digits_are_an_invalid_ssn_then_nothing_is_found():
    assert kept("it's nine nine nine, one two, three four five six") == []
    assert kept("it's six six six, one two, three four five six") == []


@pytest.mark.parametrize(
    "text",
    [
        "your order number is five five two one nine eight three three four",
        "the tracking number is 5551234567",
        "the reference number is two one two five five five oh one nine eight",
        "I will call you at four",
        "the order number is A B 1 2",
        "the product code is X J 9 0 0",
        "I have two kids",
    ],
)
def test_when_numbers_have_non_pii_words_then_they_are_no_phone_card_or_ssn(text):
    # The long ones among them are LONG_NUMBER / ACCOUNT_NUMBER (test_catch_all_*).
    assert kept(text) == []


def test_when_two_numbers_are_said_back_to_back_then_sentence_breaks_split_them():
    text = "two one two five five five four five six seven. One more thing"
    assert kept(text) == [(PHONE, "two one two five five five four five six seven")]


def test_edge_fragment_at_chunk_end_with_a_card_cue_is_a_card():
    text = "okay my card is four one one one, one one one one,"
    (frag,) = catch_all.edge_fragments(text, [])
    assert (frag.entity, text[frag.start : frag.end]) == (CARD, "four one one one, one one one one")
    assert catch_all.edge_fragments("one one one one, two two", [], ("card", "is"))[0].entity == CARD
    assert catch_all.edge_fragments("order number is one two three four", []) == []
    assert catch_all.edge_fragments("one two three four", []) == []


def test_edge_fragment_without_a_cue_is_a_long_number():
    # Fail closed: five digits at a chunk edge may be half of any number (this used to
    # assert that an uncued fragment was left in the text).
    (frag,) = catch_all.edge_fragments("one one one one, two two", [])
    assert frag.entity == LONG


def caught(text: str) -> list[tuple[str, str]]:
    rec = catch_all.CatchAllNumberRecognizer()
    return sorted((r.entity_type, text[r.start : r.end]) for r in rec.analyze(text, rec.supported_entities))


@pytest.mark.parametrize(
    "said",
    [
        "seven seven three nine oh two one five five four eight two oh one six three nine nine oh two",
        "7739 0215 5482 0163 9902",
        "7,739,021,554,820,163,990",
        "77-39-02-15-54",
        "8812, 0047, 5519, 2630, 9914",
    ],
)
def test_catch_all_takes_any_long_digit_run_without_a_cue(said):
    assert caught(f"it's {said} okay") == [(LONG, said)]


def test_a_long_run_is_not_split_into_a_card_and_loose_digits():
    text = "the number is 8812 0047 5519 2630 9914"
    assert typed(text) == []
    assert caught(text) == [(LONG, "8812 0047 5519 2630 9914")]


@pytest.mark.parametrize("text", [
    "I will call you at four.", "There were two agents.", "Your ticket number is 48213.",
    "The product code is X J 9 0 0.", "It was about 2,000,000 dollars.", "It costs $1,499.99.",
    "It happened on 03-15-2024.", "We open at 9:30.", "Back in 2019.", "It's version 4.2.1.",
    "We've had the account since two thousand twelve.",
])  # fmt: skip
def test_catch_all_keeps_times_prices_counts_dates_and_short_numbers(text):
    assert caught(text) == []


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("my account number is 2851224689", "2851224689"),
        ("the reference is four four seven one two", "four four seven one two"),
        ("membership number 1570665", "1570665"),
    ],
)
def test_a_number_after_an_account_word_is_an_account_number(text, span):
    assert (ACCOUNT, span) in caught(text)


def test_a_typed_number_pushed_below_the_threshold_by_a_cue_is_still_caught():
    text = "the tracking number is 2125550198"
    assert kept(text) == []
    assert caught(text) == [(LONG, "2125550198")]


def test_a_phone_cue_types_a_misheard_phone_number():
    text = "My phone number is 5 -5 -2 -1 -3 -4 -6 -8 -8."
    assert (PHONE, "5 -5 -2 -1 -3 -4 -6 -8 -8") in caught(text)


@pytest.mark.parametrize(
    "text",
    [
        "And my card number is 4 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1.",
        "And my card number is 4 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -2.",
        "card 4\u22121\u22121\u22121 1\u22121\u22121\u22121 1111 1111",
        "card 4111\u20131111\u20131111\u20131111",
        "card 4111.1111.1111.1111",
        "card 4,111,111,111,111,111",
        "card four one one one dash one one one one dash one one one one dash one one one one",
        "card 4 one 1 one, 1111, one one one one, 1 1 1 1",
    ],
)
def test_every_rendering_of_a_card_number_is_a_card(text):
    found = kept(text)
    assert [e for e, _ in found] == [CARD]
    assert spoken.normalise_number_words(found[0][1]).replace(" ", "").replace(",", "")[:4] in (
        "4111",
        "4-11",
        "4.11",
    )


def test_minus_sign_digits_are_read_as_digits():
    runs = spoken.find_digit_runs("4 -1 -1 -1 -1 \u22121 \u22121 double one, triple one")
    assert [r.digits for r in runs] == ["411111111111"]


def ips(text: str) -> list[str]:
    rec = identifiers.SpokenIpRecognizer()
    return [text[r.start : r.end] for r in rec.analyze(text, ["IP_ADDRESS"])]


@pytest.mark.parametrize("said", [
    "one nine two dot one six eight dot one dot ten", "192.168.1.10",
    "one ninety two point one sixty eight point zero point twenty",
    "ten dot zero dot zero dot one", "172 . 16 . 254 . 3",
    "one hundred seventy two dot sixteen dot two five four dot three",
])  # fmt: skip
def test_spoken_and_written_ipv4_addresses(said):
    assert ips(f"the address is {said} okay") == [said]


@pytest.mark.parametrize(
    "text", ["it's version two point three", "it was 1.5 million", "two nine nine dot one dot one dot one"]
)
def test_no_ip_without_four_octets_of_at_most_255(text):
    assert ips(text) == []


def ibans(text: str) -> list[tuple[str, float]]:
    rec = identifiers.SpelledIbanRecognizer()
    return [(text[r.start : r.end], r.score) for r in rec.analyze(text, ["IBAN_CODE"])]


@pytest.mark.parametrize(
    "said",
    [
        "G B eight two W E S T one two three four five six nine eight seven six five four three two",
        "g b eight two w e s t one two three four five six nine eight seven six five four three two",
        "GB82 WEST 1234 5698 7654 32",
        "GB8 -2WES -T1 -2 -3 -4 -5 -6 -9 -8 -7 -6 -5 -4 -3 -2",
        "G B eighty two W E S T twelve thirty four fifty six ninety eight seventy six fifty four thirty two",
    ],
)
def test_spelled_ibans_are_found_by_shape_and_the_checksum_raises_the_score(said):
    ((span, score),) = ibans(f"my iban is {said}, thanks")
    assert span == said and score == 1.0


def test_an_iban_whose_checksum_fails_is_still_an_iban():
    said = "G B eight three W E S T one two three four five six nine eight seven six five four three two"
    ((span, score),) = ibans(f"my iban is {said}")
    assert span == said and 0.4 <= score < 1.0


def accounts(text: str) -> list[str]:
    rec = identifiers.AccountNumberRecognizer()
    return [text[r.start : r.end] for r in rec.analyze(text, [ACCOUNT])]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("reference A B four four nine one two seven", "A B four four nine one two seven"),
        ("my account number is TQ6458.0767.515", "TQ6458.0767.515"),
        ("the customer reference is ZK770134.", "ZK770134"),
    ],
)
def test_lettered_account_codes_after_a_cue(text, code):
    assert accounts(text) == [code]


@pytest.mark.parametrize(
    "text", ["the order number is A B 1 2", "my account is overdue", "the reference is A B C"]
)
def test_no_account_code_without_a_cue_or_enough_digits(text):
    assert accounts(text) == []


def test_lower_case_spelled_iban_starting_with_the_letter_i():
    said = "i e seven eight a i b k two eight two three one seven one five two three five eight eight five"
    assert [span for span, _ in ibans(f"send it to {said}, thanks")] == [said]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("the ref number they gave me was VU-381,152,698,121", "VU-381,152,698,121"),
        ("the ref number they gave me was Q O 6485\u20130810\u20133782", "Q O 6485\u20130810\u20133782"),
    ],
)
def test_account_codes_a_few_words_after_their_cue(text, code):
    assert accounts(text) == [code]


def test_a_phone_shape_inside_a_longer_number_is_not_split_off():
    text = "hold on it's 82242\u201327968\u201367"
    assert typed(text) == []
    assert caught(text) == [(LONG, "82242\u201327968\u201367")]


def test_letters_and_seven_digits_in_one_word_are_a_long_number():
    assert caught("the code is BD4450105175407324931 okay") == [(LONG, "BD4450105175407324931")]
    assert caught("it's the X200 model") == []


def test_numbers_written_with_slashes_are_digits_but_dates_stay_dates():
    assert kept("right the card digits are 5549/0885/6632/7792") == [(CARD, "5549/0885/6632/7792")]
    assert caught("It happened on 03/15/2024.") == []


def test_an_ip_followed_by_and_is_still_an_ip():
    assert ips("Ping 177. 119. 214. 250 and see if it answers.") == ["177. 119. 214. 250"]
    assert ips("ping one nine two dot 168 dot eighteen dot 20 and see") == [
        "one nine two dot 168 dot eighteen dot 20"
    ]


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("acc no 40 70 73 3", "40 70 73 3"),
        ("my member id is 8266. 7132. 75", "8266. 7132. 75"),
        (
            "acc no six six nine five dash three five two four dash three",
            "six six nine five dash three five two four dash three",
        ),
    ],
)
def test_account_cues_are_not_shadowed_by_id_or_no(text, span):
    assert (ACCOUNT, span) in caught(text)
    assert kept(text) == []


def test_a_22_digit_number_with_a_period_after_each_group_is_one_long_number():
    text = "The consignment number reads 91950. 66846. 74009. 07672. 54."
    assert typed(text) == [] and caught(text) == [(LONG, "91950. 66846. 74009. 07672. 54")]


def test_year_ranges_and_hundreds_inside_ips():
    assert caught("It was from 1999-2003.") == []
    assert ips("ip one zero dot 29 dot two hundred four dot 52 ok") == [
        "one zero dot 29 dot two hundred four dot 52"
    ]
    assert ips("192, dot, 168, dot, 226, dot, 139") == ["192, dot, 168, dot, 226, dot, 139"]
    assert typed("one eight hundred five five five one two one two") == [
        (PHONE, "one eight hundred five five five one two one two", 0.7)
    ]


def test_ibans_in_the_spelling_alphabet():
    said = (
        "golf bravo eight two whiskey echo sierra tango one two three four five six nine "
        "eight seven six five four three two"
    )
    assert ibans(f"the iban is {said}") == [(said, 1.0)]
