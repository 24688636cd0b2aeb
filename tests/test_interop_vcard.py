"""vCard import/export: Outlook 2.1, Google and Apple 3.0, vCard 4.0, damage, round trips."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bullpen.app.interop.errors import InteropError
from bullpen.app.interop.vcard import read_vcards, write_vcards

FIXTURES = Path(__file__).parent / "fixtures" / "interop"


def test_outlook_21_quoted_printable_and_folding() -> None:
    assert read_vcards(FIXTURES / "outlook_contacts.vcf") == [
        {
            "name": "Dr. Jörg Müller",
            "company": "Müller & Söhne GmbH",  # ORG's department part is not the company
            "title": "Head of Sales EMEA",
            "emails": ["joerg.mueller@example.de"],
            "phones": ["+49 30 1234567", "+49 170 7654321"],
            "notes": "Met at CeBIT – likes café.\nFollow up in Q1.",
            "external_id": "outlook-0001",
        },
        {  # no FN: the name comes from N; the repeated email is kept once
            "name": "Ms. Anne Marie Smith PhD",
            "company": "Contoso Ltd.",
            "emails": ["anne.smith@contoso.com", "ASMITH@contoso.com"],
        },
    ]


def test_google_grouped_properties() -> None:
    assert read_vcards(FIXTURES / "google_contacts.vcf") == [
        {
            "name": "Zoë Ångström",
            "company": "Northwind Traders",
            "title": "Procurement Lead",
            "emails": [
                "zoe@northwind.example", "zoe.a@gmail.example", "zoe+billing@northwind.example",
            ],
            "phones": ["+1 415-555-0100", "+1 415-555-0199", "+44 20 7946 0000"],
            "notes": "Prefers email, not calls.\nMet at SaaStr.",
        },
        {"name": "Hiroshi Tanaka", "emails": ["h.tanaka@example.jp"]},
    ]  # fmt: skip


def test_apple_with_photo_and_labels() -> None:
    assert read_vcards(FIXTURES / "apple_contacts.vcf") == [
        {
            "name": "Siobhán O’Brien",
            "company": "Fabrikam, Inc.",
            "title": "CTO",
            "emails": ["siobhan@fabrikam.example"],
            "phones": ["(555) 010-2000", "+353 1 555 0000"],
            "external_id": "6F8E2A1C-1111-4C2B-9D3A-ABCDEF012345",
        }
    ]


def test_vcard_40_tel_uri() -> None:
    assert read_vcards(FIXTURES / "vcard4.vcf") == [
        {
            "name": "Four Point Oh",
            "emails": ["four@example.org"],
            "phones": ["+1-555-555-5555"],
            "external_id": "urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1",
        }
    ]


def test_cp1252_file_without_charset(tmp_path: Path) -> None:
    path = tmp_path / "old.vcf"
    path.write_bytes(b"BEGIN:VCARD\r\nVERSION:2.1\r\nN:B\xe9renger;Ren\xe9e\r\nEND:VCARD\r\n")
    assert read_vcards(path) == [{"name": "Renée Bérenger"}]


def test_card_named_from_company_or_email(tmp_path: Path) -> None:
    path = tmp_path / "anon.vcf"
    path.write_text(
        "BEGIN:VCARD\nVERSION:3.0\nORG:Initech\nEND:VCARD\n"
        "BEGIN:VCARD\nVERSION:3.0\nEMAIL:x@example.com\nEND:VCARD\n",
        encoding="utf-8",
    )
    assert [c["name"] for c in read_vcards(path)] == ["Initech", "x@example.com"]


def test_truncated_file_names_the_card() -> None:
    with pytest.raises(InteropError, match=r"truncated\.vcf: card 2 is truncated"):
        read_vcards(FIXTURES / "truncated.vcf")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("BEGIN:VCARD\nVERSION:3.0\nFN:A\nEND:VCARD\nBEGIN:VCARD\nno colon here\nEND:VCARD\n",
         "card 2 cannot be read"),
        ("BEGIN:VCARD\nVERSION:3.0\nNOTE:nothing to call it\nEND:VCARD\n",
         "card 1 has no name"),
        ("hello\n", "no vCards found"),
        ("BEGIN:VCARD\nFN:A\nBEGIN:VCARD\nFN:B\nEND:VCARD\n", "card 1 is truncated"),
    ],
)  # fmt: skip
def test_malformed_cards(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.vcf"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InteropError, match=f"bad.vcf: {message}"):
        read_vcards(path)


def test_binary_garbage() -> None:
    with pytest.raises(InteropError, match=r"binary_garbage\.bin: not a text file"):
        read_vcards(FIXTURES / "binary_garbage.bin")


def test_write_vcard_30(tmp_path: Path) -> None:
    path = tmp_path / "out.vcf"
    write_vcards(path, [
        {"id": "rec-1", "name": "Ann Lee", "company": "Acme", "emails": ["ann@acme.example"]},
        {"id": "rec-2", "name": "Bo", "external_id": "google-7"},
    ])  # fmt: skip
    text = path.read_bytes().decode("utf-8")
    assert text.count("BEGIN:VCARD") == 2 and text.count("VERSION:3.0") == 2
    for line in ("FN:Ann Lee", "N:Lee;Ann;;;", "ORG:Acme", "EMAIL;TYPE=INTERNET:ann@acme.example",
                 "UID:rec-1", "UID:google-7"):  # fmt: skip
        assert line + "\r\n" in text


def test_fixture_round_trip(tmp_path: Path) -> None:
    contacts = [
        c for name in ("outlook_contacts.vcf", "google_contacts.vcf", "apple_contacts.vcf")
        for c in read_vcards(FIXTURES / name)
    ]  # fmt: skip
    path = tmp_path / "rt.vcf"
    write_vcards(path, contacts)
    assert read_vcards(path) == contacts


_chars = st.characters(blacklist_categories=("Cc", "Cs"))
_text = st.text(alphabet=_chars | st.sampled_from(";,\\:\n"), min_size=1).map(str.strip)
_contact = st.fixed_dictionaries(
    {"name": _text.filter(bool)},
    optional={
        "company": _text.filter(bool),
        "title": _text.filter(bool),
        "emails": st.lists(st.emails(), min_size=1, max_size=3, unique_by=str.lower),
        "phones": st.lists(st.from_regex(r"\+?[0-9(][0-9 ()-]{2,14}[0-9]", fullmatch=True),
                           min_size=1, max_size=3, unique=True),
        "notes": _text.filter(bool),
        "external_id": st.text(alphabet="abcdef0123456789-@.", min_size=1),
    },
)  # fmt: skip


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(contacts=st.lists(_contact, min_size=1, max_size=4))
def test_round_trip_property(tmp_path: Path, contacts: list[dict]) -> None:
    path = tmp_path / "rt.vcf"
    write_vcards(path, contacts)
    assert read_vcards(path) == contacts
