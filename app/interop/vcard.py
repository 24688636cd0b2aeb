"""Import and export contacts as vCards (Outlook, Google Contacts, Apple Contacts).

Address books are exported as one .vcf holding many cards, each program with its own dialect:
Outlook writes vCard 2.1 with quoted-printable and charsets, Google groups properties
("item1.EMAIL"), Apple embeds photos and labels. vobject parses all of them; this module splits
the file into cards first so a damaged card is reported by its number, then keeps only the
fields a Bullpen contact has.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import vobject

from bullpen.app.interop.common import read_text, unique, write_atomically
from bullpen.app.interop.errors import InteropError
from bullpen.crdt.schema import ValidationError
from bullpen.crdt.validation import validate


def read_vcards(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read every card in a .vcf file as contact fields (validated for the "contact" kind).

    A card without FN is named from N, then its company, email or phone. Raises InteropError
    naming the file and card number for a truncated or unparsable card, since importing half an
    address book silently would be worse than asking the user to re-export it.
    """
    contacts = []
    for number, card_text in _split_cards(read_text(path), path):
        try:
            card = vobject.readOne(card_text, allowQP=True)
        except Exception as exc:  # vobject raises ParseError, ValueError, binascii errors...
            raise InteropError(f"{path}: card {number} cannot be read ({exc})") from None
        try:
            contacts.append(validate("contact", _contact_fields(card, number, path)))
        except ValidationError as exc:
            raise InteropError(f"{path}: card {number}: {exc}") from None
    return contacts


def _split_cards(text: str, path: str | os.PathLike[str]) -> Iterator[tuple[int, str]]:
    """Yield (card number, card text) for each BEGIN:VCARD..END:VCARD block."""
    lines: list[str] | None = None
    number = 0
    for line in text.splitlines():
        keyword = line.rstrip().upper()  # folded continuation lines start with a space
        if keyword == "BEGIN:VCARD":
            if lines is not None:
                raise InteropError(f"{path}: card {number} is truncated (no END:VCARD)")
            number += 1
            lines = [line]
        elif lines is not None:
            lines.append(line)
            if keyword == "END:VCARD":
                yield number, "\r\n".join(lines) + "\r\n"
                lines = None
        elif keyword == "END:VCARD":
            raise InteropError(f"{path}: END:VCARD without BEGIN:VCARD after card {number}")
    if lines is not None:
        raise InteropError(f"{path}: card {number} is truncated (no END:VCARD)")
    if number == 0:
        raise InteropError(f"{path}: no vCards found (expected BEGIN:VCARD)")


def _values(card: Any, name: str) -> list[Any]:
    """All values of a property, including grouped ones such as Google's "item1.EMAIL"."""
    return [line.value for line in card.contents.get(name, [])]


def _first_text(card: Any, name: str) -> str:
    for value in _values(card, name):
        text = _join(value).strip()
        if text:
            return text
    return ""


def _join(value: Any, sep: str = " ") -> str:
    """vobject gives structured values (N, ORG) as lists; flatten them to display text."""
    if isinstance(value, list | tuple):
        return sep.join(part for part in (_join(v, sep) for v in value) if part)
    return str(value or "").strip()


def _name_from_n(card: Any) -> str:
    """Display name from the structured N property: prefix given middle family suffix."""
    for name in _values(card, "n"):
        parts = (name.prefix, name.given, name.additional, name.family, name.suffix)
        text = " ".join(p for p in (_join(part) for part in parts) if p)
        if text:
            return text
    return ""


def _contact_fields(card: Any, number: int, path: str | os.PathLike[str]) -> dict[str, Any]:
    emails = unique(_join(v) for v in _values(card, "email"))
    phones = unique(_phone(_join(v)) for v in _values(card, "tel"))
    # ORG is "Company;Department;..."; a contact's company is the organisation itself.
    orgs = (v if isinstance(v, list | tuple) else [v] for v in _values(card, "org"))
    company = next((t for t in (_join(v[:1]) for v in orgs) if t), "")
    name = _first_text(card, "fn") or _name_from_n(card) or company or next(
        iter(emails + phones), "")  # fmt: skip
    if not name:
        raise InteropError(f"{path}: card {number} has no name, company, email or phone")
    notes = "\n\n".join(t for t in (_join(v) for v in _values(card, "note")) if t)
    fields: dict[str, Any] = {
        "name": name,
        "company": company,
        "title": _first_text(card, "title"),
        "emails": emails,
        "phones": phones,
        "notes": _newlines(notes),
        "external_id": _first_text(card, "uid"),
    }
    return {k: v for k, v in fields.items() if v}


def _phone(text: str) -> str:
    """vCard 4.0 writes phones as "tel:" URIs; keep just the number."""
    return text[4:] if text.lower().startswith("tel:") else text


def _newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def write_vcards(path: str | os.PathLike[str], contacts: list[dict[str, Any]]) -> None:
    """Write contacts as vCard 3.0, the version Outlook, Google and Apple all import.

    UID is the contact's external_id (so a contact that came from Google keeps its identity)
    or else its Bullpen record id. N is derived from the name because importers want it.
    """
    cards = [_card(contact).serialize() for contact in contacts]
    write_atomically(path, "".join(cards).encode("utf-8"))


def _card(contact: dict[str, Any]) -> Any:
    card = vobject.vCard()
    name = str(contact.get("name") or "").strip()
    card.add("fn").value = name
    given, _, family = name.rpartition(" ")
    card.add("n").value = vobject.vcard.Name(family=family, given=given)
    if contact.get("company"):
        card.add("org").value = [str(contact["company"])]
    if contact.get("title"):
        card.add("title").value = str(contact["title"])
    for email in contact.get("emails") or []:
        line = card.add("email")
        line.value = email
        line.type_param = "INTERNET"
    for phone in contact.get("phones") or []:
        card.add("tel").value = phone
    if contact.get("notes"):
        card.add("note").value = _newlines(str(contact["notes"]))
    uid = contact.get("external_id") or contact.get("id")
    if uid:
        card.add("uid").value = str(uid)
    return card
