"""Redaction policies (which entities, which operator) and the operators themselves.

Operators:
* ``mask``: the entity type in angle brackets, ``<PHONE_NUMBER>``.
* ``hash``: ``<PHONE_NUMBER:3fa9c1d2e4b5>``, HMAC-SHA256 of the entity's canonical value under
  the tenant's salt, truncated. The canonical value is the normalised one (digits of a spoken
  number, the written form of a spoken e-mail), so "four one one one ..." and "4111 ..." hash
  alike and analysts can join on a value without seeing it. Salts differ per tenant, so a
  value cannot be matched across tenants.
* ``drop``: the span is removed.

A policy carries a name and a version that travel on every event, so a consumer knows which
rules produced the text it reads.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.redact import spoken

OPERATORS = ("mask", "hash", "drop")
ENTITIES = (
    "PERSON",
    "PHONE_NUMBER",
    "EMAIL_ADDRESS",
    "CREDIT_CARD",
    "US_SSN",
    "IBAN_CODE",
    "IP_ADDRESS",
    "LOCATION",
    "DATE_TIME",
    "ACCOUNT_NUMBER",
    "LONG_NUMBER",
)  # every type the detector finds
# Fail closed: the default redacts every type, the LONG_NUMBER catch-all (any other run of
# 7+ digits) included; a policy exempts a type by leaving it out of ``entities``.
DEFAULT_ENTITIES = ENTITIES
_NUMBER_TYPES = frozenset({"PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "LONG_NUMBER"})


class PolicyError(ValueError):
    """A policy book that cannot be used (unknown operator, hash without a salt)."""


@dataclass(frozen=True)
class Policy:
    name: str = "default"
    version: str = "1"
    entities: tuple[str, ...] = DEFAULT_ENTITIES
    operators: Mapping[str, str] = field(default_factory=dict)
    default_operator: str = "mask"
    score_threshold: float = 0.4
    hash_chars: int = 12
    salt: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for op in (self.default_operator, *self.operators.values()):
            if op not in OPERATORS:
                raise PolicyError(f"policy {self.name}: unknown operator {op!r}")
        if self.uses_hash and not self.salt:
            raise PolicyError(f"policy {self.name}: hash operator needs a salt")
        if not 4 <= self.hash_chars <= 64:
            raise PolicyError(f"policy {self.name}: hash_chars must be 4..64")

    @property
    def uses_hash(self) -> bool:
        ops = {self.operator_for(e) for e in self.entities}
        return "hash" in ops

    def operator_for(self, entity_type: str) -> str:
        return self.operators.get(entity_type, self.default_operator)

    def replacement(self, entity_type: str, original: str) -> str:
        """What replaces ``original`` (raw text of one entity) in the redacted text."""
        op = self.operator_for(entity_type)
        if op == "mask":
            return f"<{entity_type}>"
        if op == "drop":
            return ""
        assert self.salt is not None
        value = canonical_value(entity_type, original).encode()
        digest = hmac.new(self.salt, entity_type.encode() + b"\x1f" + value, hashlib.sha256)
        return f"<{entity_type}:{digest.hexdigest()[: self.hash_chars]}>"


@dataclass(frozen=True)
class Replaced:
    """One entity after its operator ran: where it was, where its replacement now is."""

    entity_type: str
    score: float
    start: int  # detected span in the original text
    end: int
    new_start: int  # replacement in the redacted text
    new_end: int
    operator: str
    cut_start: int  # what was cut from the original: the span, and a space for a dropped one
    cut_end: int


@dataclass(frozen=True)
class Applied:
    text: str
    replaced: list[Replaced]

    def map_offset(self, pos: int) -> int:
        """Original offset -> redacted offset. A position inside a replaced span maps to the
        end of its replacement, so the replacement stays with the text where it started."""
        shift = 0
        for r in self.replaced:
            if pos <= r.cut_start:
                break
            if pos < r.cut_end:
                return r.new_end
            shift = r.new_end - r.cut_end
        return pos + shift


def apply(policy: Policy, text: str, spans: list[tuple[str, int, int, float]]) -> Applied:
    """Replace non-overlapping (type, start, end, score) spans, sorted by start."""
    pieces: list[str] = []
    replaced: list[Replaced] = []
    pos = out_len = 0
    for entity_type, start, end, score in spans:
        new = policy.replacement(entity_type, text[start:end])
        cut_start, cut_end = start, end
        if not new:  # "is <dropped> and" -> "is and"; "is <dropped>." -> "is."
            if end < len(text) and text[end] == " " and (start == 0 or text[start - 1].isspace()):
                cut_end = end + 1
            elif start > pos and text[start - 1] == " ":
                cut_start = start - 1
        pieces.append(text[pos:cut_start])
        out_len += cut_start - pos
        pieces.append(new)
        replaced.append(
            Replaced(
                entity_type,
                score,
                start,
                end,
                out_len,
                out_len + len(new),
                policy.operator_for(entity_type),
                cut_start,
                cut_end,
            )
        )
        out_len += len(new)
        pos = cut_end
    pieces.append(text[pos:])
    return Applied("".join(pieces), replaced)


def canonical_value(entity_type: str, text: str) -> str:
    """The value an entity stands for, independent of how it was said."""
    if entity_type in _NUMBER_TYPES:
        prefix = "+" if text.lstrip().lower().startswith(("+", "plus")) else ""
        return prefix + re.sub(r"\D", "", spoken.normalise_number_words(text))
    if entity_type == "EMAIL_ADDRESS":
        return spoken.normalise_spoken_email(text)
    if entity_type in ("IBAN_CODE", "ACCOUNT_NUMBER"):
        return re.sub(r"[^0-9A-Z]", "", spoken.normalise_number_words(text).upper())
    if entity_type == "IP_ADDRESS":
        return ".".join(
            re.sub(r"\D", "", spoken.normalise_number_words(octet))
            for octet in re.split(r"\s*\.\s*|\s+(?:dot|point)\s+", text.strip(), flags=re.I)
        )
    return " ".join(text.lower().split())


def tenant_salt(tenant: str, key: bytes | None, salts: Mapping[str, bytes]) -> bytes | None:
    """An explicit salt for the tenant, else one derived from the master key, else None."""
    if tenant in salts:
        return salts[tenant]
    if key:
        return hmac.new(key, b"stt-redact-salt\x1f" + tenant.encode(), hashlib.sha256).digest()
    return None


@dataclass
class PolicyBook:
    """Policies per tenant; tenants without their own use the default one."""

    default: dict[str, Any] = field(default_factory=dict)
    tenants: dict[str, dict[str, Any]] = field(default_factory=dict)
    key: bytes | None = field(default=None, repr=False)
    salts: dict[str, bytes] = field(default_factory=dict, repr=False)
    _cache: dict[str, Policy] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for tenant in self.tenants:  # fail at start-up, not on the first message
            self.for_tenant(tenant)
        self._build("\x00any-other-tenant", self.default)  # hashing needs the master key

    def for_tenant(self, tenant: str) -> Policy:
        if tenant not in self._cache:
            self._cache[tenant] = self._build(tenant, self.tenants.get(tenant, self.default))
        return self._cache[tenant]

    def _build(self, tenant: str, spec: Mapping[str, Any]) -> Policy:
        spec = dict(spec)
        if "entities" in spec:
            spec["entities"] = tuple(spec["entities"])
        salt = tenant_salt(tenant, self.key, self.salts)
        try:
            return Policy(**spec, salt=salt)
        except TypeError as exc:
            raise PolicyError(f"tenant {tenant}: {exc}") from exc

    @classmethod
    def from_file(
        cls, path: Path | None, key: bytes | None = None, salts: Mapping[str, bytes] | None = None
    ) -> PolicyBook:
        doc = json.loads(path.read_text()) if path else {}
        return cls(
            default=doc.get("default", {}), tenants=doc.get("tenants", {}), key=key, salts=dict(salts or {})
        )
