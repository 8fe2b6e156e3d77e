"""Detectors of personal data in text cells, with checksums where formats have them.

Kinds: ``email``; ``phone`` (9-15 digits with a leading ``+``, ``(`` or ``0``, or
10-15 digits in separated groups);
``national_id`` (US SSN ``123-45-6789``, UK National Insurance ``AB123456C``, French
NIR with its mod-97 key); ``payment_card`` (13-19 digits, unseparated or in
card-style groups, Luhn check, issuer prefix 2-6); ``iban`` (country code, mod-97
check); ``person_name`` (a first name from a
small built-in list of common first names followed by a capitalised word, or a title
such as ``Mrs.`` followed by one). The name list is short on purpose: it finds names
in free text, not every name in the world — a column of surnames alone is not found.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

KINDS = ("email", "payment_card", "iban", "national_id", "phone", "person_name")
LABELS = {
    "email": "[EMAIL]",
    "payment_card": "[CARD]",
    "iban": "[IBAN]",
    "national_id": "[NATIONAL_ID]",
    "phone": "[PHONE]",
    "person_name": "[NAME]",
}

#: Common first names (several languages); ambiguous words (May, Will, Grace) left out.
FIRST_NAMES = frozenset(
    [
        "Aaron",
        "Adam",
        "Ahmed",
        "Aisha",
        "Alain",
        "Alejandro",
        "Alex",
        "Alexander",
        "Ali",
        "Alice",
        "Amanda",
        "Amelia",
        "Ana",
        "Andrea",
        "Andrew",
        "Angela",
        "Anna",
        "Anne",
        "Anthony",
        "Antonio",
        "Arjun",
        "Barbara",
        "Ben",
        "Benjamin",
        "Brian",
        "Carlos",
        "Carmen",
        "Caroline",
        "Catherine",
        "Charles",
        "Charlotte",
        "Chen",
        "Chloe",
        "Christian",
        "Christina",
        "Christopher",
        "Claire",
        "Claudia",
        "Daniel",
        "David",
        "Deborah",
        "Diana",
        "Diego",
        "Dmitri",
        "Elena",
        "Elizabeth",
        "Emily",
        "Emma",
        "Eric",
        "Ethan",
        "Eva",
        "Fatima",
        "Francesca",
        "Francisco",
        "François",
        "Frank",
        "Gabriel",
        "Georg",
        "George",
        "Giovanni",
        "Giulia",
        "Hannah",
        "Hans",
        "Harry",
        "Helen",
        "Henry",
        "Hiroshi",
        "Ian",
        "Isabella",
        "Ivan",
        "Jacob",
        "James",
        "Jan",
        "Jane",
        "Jennifer",
        "Jessica",
        "Joan",
        "Johann",
        "Johannes",
        "John",
        "Jonathan",
        "Jorge",
        "Jose",
        "José",
        "Joseph",
        "Juan",
        "Julia",
        "Julie",
        "Karen",
        "Karl",
        "Katarzyna",
        "Kate",
        "Katherine",
        "Kenji",
        "Kevin",
        "Laura",
        "Lauren",
        "Laurent",
        "Leon",
        "Li",
        "Linda",
        "Lisa",
        "Lucas",
        "Lucia",
        "Luis",
        "Luka",
        "Maria",
        "Marie",
        "Marco",
        "Margaret",
        "Mario",
        "Martin",
        "Mary",
        "Matteo",
        "Matthew",
        "Mei",
        "Michael",
        "Michelle",
        "Miguel",
        "Mohamed",
        "Mohammed",
        "Natalia",
        "Nathalie",
        "Nicholas",
        "Nicole",
        "Olga",
        "Olivia",
        "Omar",
        "Oscar",
        "Patricia",
        "Paul",
        "Pedro",
        "Peter",
        "Philippe",
        "Pierre",
        "Piotr",
        "Priya",
        "Rachel",
        "Rahul",
        "Rebecca",
        "Richard",
        "Robert",
        "Sakura",
        "Samuel",
        "Sandra",
        "Sara",
        "Sarah",
        "Sebastian",
        "Sergei",
        "Sofia",
        "Sophia",
        "Sophie",
        "Stefan",
        "Stephanie",
        "Steven",
        "Susan",
        "Thomas",
        "Timothy",
        "Tom",
        "Victoria",
        "Vincent",
        "Wei",
        "William",
        "Yuki",
        "Yusuf",
        "Zhang",
    ]
)

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
)
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
_SSN = re.compile(r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b")
_NINO = re.compile(
    r"\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} "
    r"?\d{2} ?[A-D]\b"
)
_NIR = re.compile(
    r"\b[12] ?\d{2} ?(?:0[1-9]|1[0-2]) ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}\b"
)
_PHONE = re.compile(r"(?<![\w+])(?:\+|\(\+?)?\d[\d ().-]{6,}\d(?![\w])")
_DATE = re.compile(
    r"\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b|\b\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}\b"
)
_DECIMAL = re.compile(r"\d+[.,]\d+")
_WORD = r"[A-Z][a-z\u00e0-\u00ff'\u2019-]+"
_NAME = re.compile(
    r"\b(?:(?:"
    + "|".join(sorted(FIRST_NAMES, key=len, reverse=True))
    + r")(?: "
    + _WORD
    + r"){1,2}"
    r"|(?:Mr|Mrs|Ms|Miss|Dr|Mme|Mlle|Herr|Frau|Sr|Sra)\.? " + _WORD + r")(?![\w])"
)
_NOT_SURNAME = frozenset(
    [
        "The",
        "A",
        "An",
        "And",
        "Or",
        "Of",
        "In",
        "On",
        "At",
        "To",
        "From",
        "For",
        "With",
        "By",
        "Is",
        "Was",
        "Has",
        "Had",
        "Street",
        "Road",
        "Avenue",
    ]
)


def luhn_ok(digits: str) -> bool:
    """Whether a digit string passes the Luhn checksum of payment cards."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(text: str) -> bool:
    """Whether a string is a well-formed IBAN (length and ISO 13616 mod-97 check)."""
    s = text.replace(" ", "").upper()
    if not 15 <= len(s) <= 34 or not s[:2].isalpha() or not s[2:4].isdigit():
        return False
    moved = s[4:] + s[:4]
    try:
        return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1
    except ValueError:
        return False


def nir_ok(text: str) -> bool:
    """Whether a French NIR (social security number) has a valid mod-97 key."""
    s = text.replace(" ", "").upper()
    body, key = s[:13], s[13:]
    body = body.replace("2A", "19").replace("2B", "18")
    return body.isdigit() and key.isdigit() and 97 - int(body) % 97 == int(key)


def _card_groups_ok(raw: str) -> bool:
    groups = [len(g) for g in re.split(r"[ -]", raw)]
    if len(groups) == 1:
        return True
    return (all(g == 4 for g in groups[:-1]) and 1 <= groups[-1] <= 4) or groups in (
        [4, 6, 5],
        [4, 6, 4],
    )


def _cards(text: str) -> list[tuple[int, int]]:
    out = []
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if (
            13 <= len(digits) <= 19
            and digits[0] in "23456"
            and _card_groups_ok(m.group())
            and luhn_ok(digits)
        ):
            out.append(m.span())
    return out


def _ibans(text: str) -> list[tuple[int, int]]:
    out = []
    for m in _IBAN.finditer(text):  # the match may run into the next word: shorten it
        tokens = m.group().split(" ")
        for k in range(len(tokens), 0, -1):
            candidate = " ".join(tokens[:k])
            if iban_ok(candidate):
                out.append((m.start(), m.start() + len(candidate)))
                break
    return out


def _national(text: str) -> list[tuple[int, int]]:
    spans = [m.span() for m in _SSN.finditer(text)] + [
        m.span() for m in _NINO.finditer(text)
    ]
    return spans + [m.span() for m in _NIR.finditer(text) if nir_ok(m.group())]


def _phones(text: str) -> list[tuple[int, int]]:
    out = []
    for m in _PHONE.finditer(text):
        raw = m.group()
        digits = re.sub(r"\D", "", raw)
        if _DATE.search(raw) or not 9 <= len(digits) <= 15 or _DECIMAL.fullmatch(raw):
            continue
        if raw.startswith(("+", "(", "0")) or (
            len(digits) >= 10 and len(re.findall(r"\d[ .-]\d", raw)) >= 2
        ):
            out.append(m.span())
    return out


def _emails(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _EMAIL.finditer(text)]


def _names(text: str) -> list[tuple[int, int]]:
    out = []
    for m in _NAME.finditer(text):
        words = m.group().split(" ")
        if words[1] in _NOT_SURNAME:
            continue
        out.append(m.span())
    return out


_DETECTORS: tuple[tuple[str, Callable[[str], list[tuple[int, int]]]], ...] = (
    ("email", _emails),
    ("payment_card", _cards),
    ("iban", _ibans),
    ("national_id", _national),
    ("phone", _phones),
    ("person_name", _names),
)


def find(text: str, kinds: tuple[str, ...] = KINDS) -> list[tuple[int, int, str]]:
    """Non-overlapping ``(start, end, kind)`` spans of personal data in ``text``.

    Earlier kinds win overlaps (an e-mail address is not also a name; a card number is
    not also a phone number).

    Examples
    --------
    >>> text = "Call Maria Lopez on +44 20 7946 0958 or maria@example.org"
    >>> [kind for _, _, kind in find(text)]
    ['person_name', 'phone', 'email']
    """
    taken: list[tuple[int, int, str]] = []
    for kind, detect in _DETECTORS:
        if kind not in kinds:
            continue
        for start, end in detect(text):
            if all(end <= s or start >= e for s, e, _ in taken):
                taken.append((start, end, kind))
    return sorted(taken)


def normalise(kind: str, value: str) -> str:
    """Return the form of a value that is hashed, so formatting does not matter."""
    if kind == "email":
        return value.strip().lower()
    if kind == "phone":
        digits = re.sub(r"\D", "", value)
        return "+" + digits[2:] if value.strip().startswith("00") else digits
    if kind in ("payment_card", "iban", "national_id"):
        return re.sub(r"[\s-]", "", value).upper()
    return " ".join(value.split()).title()


def redact_example(kind: str, value: str) -> str:
    """Return a safe-to-show hint of a finding: its shape, never the value."""
    if kind == "email":
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@***.{domain.rsplit('.', 1)[-1]}"
    if kind in ("payment_card", "iban", "national_id", "phone"):
        return re.sub(r"[A-Za-z0-9]", "•", value[:-2]) + value[-2:]
    return " ".join(w[:1] + "•" * (len(w) - 1) for w in value.split())
