"""Operators, policy books and the offset bookkeeping of a redaction."""

from __future__ import annotations

import json

import pytest

from services.redact.policy import Policy, PolicyBook, PolicyError, apply, canonical_value

SALT = b"tenant-salt"


def test_mask_replaces_the_span_with_its_type():
    text = "call me on 555 123 4567 please"
    out = apply(Policy(), text, [("PHONE_NUMBER", 11, 23, 0.9)])
    assert out.text == "call me on <PHONE_NUMBER> please"
    (r,) = out.replaced
    assert out.text[r.new_start : r.new_end] == "<PHONE_NUMBER>"
    assert (r.start, r.end, r.operator) == (11, 23, "mask")


def test_hash_is_stable_per_value_and_equal_for_spoken_and_written_forms():
    pol = Policy(operators={"CREDIT_CARD": "hash"}, salt=SALT)
    spoken = pol.replacement(
        "CREDIT_CARD", "four one one one, one one one one, one one one one, one one one one"
    )
    written = pol.replacement("CREDIT_CARD", "4111-1111-1111-1111")
    other = pol.replacement("CREDIT_CARD", "4111 1111 1111 1129")
    assert spoken == written != other
    assert spoken.startswith("<CREDIT_CARD:") and len(spoken) == len("<CREDIT_CARD:>") + 12


def test_hash_differs_between_tenants():
    book = PolicyBook(default={"operators": {"PERSON": "hash"}}, key=b"master")
    a = book.for_tenant("acme").replacement("PERSON", "Sarah Jones")
    b = book.for_tenant("globex").replacement("PERSON", "Sarah Jones")
    assert a != b
    assert a == book.for_tenant("acme").replacement("PERSON", "sarah  jones")


def test_hash_without_a_salt_is_refused_at_start_up():
    with pytest.raises(PolicyError):
        Policy(default_operator="hash")
    with pytest.raises(PolicyError):
        PolicyBook(default={"default_operator": "hash"})
    with pytest.raises(PolicyError):
        PolicyBook(tenants={"acme": {"operators": {"PERSON": "encrypt"}}})


def test_explicit_tenant_salt_wins_over_the_master_key():
    book = PolicyBook(default={"default_operator": "hash"}, key=b"k", salts={"acme": b"s"})
    assert book.for_tenant("acme").salt == b"s"
    assert book.for_tenant("other").salt not in (b"s", None)


def test_drop_removes_the_span_and_one_space():
    text = "my name is Sarah and I called"
    out = apply(Policy(default_operator="drop"), text, [("PERSON", 11, 16, 0.9)])
    assert out.text == "my name is and I called"
    (r,) = out.replaced
    assert r.new_start == r.new_end == 11


def test_drop_before_punctuation_removes_the_space_before():
    text = "my number is 555 123 4567."
    out = apply(Policy(default_operator="drop"), text, [("PHONE_NUMBER", 13, 25, 0.9)])
    assert out.text == "my number is."
    assert out.map_offset(len(text)) == len(out.text)


def test_offsets_map_through_several_replacements():
    text = "Sarah gave 555 123 4567 to Tom."
    spans = [("PERSON", 0, 5, 0.9), ("PHONE_NUMBER", 11, 23, 0.9), ("PERSON", 27, 30, 0.9)]
    out = apply(Policy(), text, spans)
    assert out.text == "<PERSON> gave <PHONE_NUMBER> to <PERSON>."
    assert [out.text[r.new_start : r.new_end] for r in out.replaced] == [
        "<PERSON>",
        "<PHONE_NUMBER>",
        "<PERSON>",
    ]
    assert out.map_offset(6) == out.text.index("gave")
    assert out.map_offset(15) == out.replaced[1].new_end  # inside the phone number
    assert out.map_offset(len(text)) == len(out.text)


def test_policy_book_reads_json_and_falls_back_to_the_default(tmp_path):
    path = tmp_path / "policies.json"
    path.write_text(
        json.dumps(
            {
                "default": {"name": "std", "version": "3"},
                "tenants": {
                    "acme": {
                        "name": "acme-strict",
                        "version": "7",
                        "entities": ["PERSON", "US_SSN"],
                        "operators": {"PERSON": "drop"},
                        "score_threshold": 0.5,
                    }
                },
            }
        )
    )
    book = PolicyBook.from_file(path)
    acme = book.for_tenant("acme")
    assert (acme.name, acme.version, acme.entities) == ("acme-strict", "7", ("PERSON", "US_SSN"))
    assert acme.operator_for("PERSON") == "drop" and acme.operator_for("US_SSN") == "mask"
    assert book.for_tenant("anyone").name == "std"


@pytest.mark.parametrize(
    ("entity", "text", "value"),
    [
        ("PHONE_NUMBER", "plus four four two oh", "+4420"),
        ("US_SSN", "123-45-6789", "123456789"),
        ("EMAIL_ADDRESS", "Jane dot Doe at Example dot com", "jane.doe@example.com"),
        ("IBAN_CODE", "gb82 west 1234", "GB82WEST1234"),
        ("IBAN_CODE", "G B eight two W E S T one two", "GB82WEST12"),
        ("LONG_NUMBER", "4 -1 -1 -1 dash one one one", "4111111"),
        ("ACCOUNT_NUMBER", "A B four four nine one", "AB4491"),
        ("IP_ADDRESS", "one nine two dot one six eight dot one dot ten", "192.168.1.10"),
        ("IP_ADDRESS", "10.0.0.1", "10.0.0.1"),
        ("PERSON", " Sarah   Jones ", "sarah jones"),
    ],
)
def test_canonical_values(entity, text, value):
    assert canonical_value(entity, text) == value


def test_the_default_policy_fails_closed_on_every_type_and_a_policy_can_exempt_one():
    assert {"LONG_NUMBER", "ACCOUNT_NUMBER", "IP_ADDRESS", "IBAN_CODE"} <= set(Policy().entities)
    book = PolicyBook(default={"entities": [e for e in Policy().entities if e != "LONG_NUMBER"]})
    assert "LONG_NUMBER" not in book.for_tenant("any").entities
