"""Confidentiality: personal data per column, masking, keyed pseudonymization."""

from __future__ import annotations

import pandas as pd
import pytest

import mlops_nb as mnb
from mlops_nb import errors
from mlops_nb.secure import _pii

KEY = "k3y-" + "0123456789abcdef" * 2


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("write to jane.doe+news@example.co.uk today", "email"),
        ("call +44 20 7946 0958", "phone"),
        ("mobile 06 12 34 56 78", "phone"),
        ("(555) 123-4567 ext", "phone"),
        ("SSN 123-45-6789", "national_id"),
        ("NI number AB 12 34 56 C", "national_id"),
        ("NIR 2 55 08 14 168 025 38", "national_id"),
        ("card 4111 1111 1111 1111 exp 12/29", "payment_card"),
        ("5500-0000-0000-0004", "payment_card"),
        ("IBAN DE89 3704 0044 0532 0130 00 EUR", "iban"),
        ("GB82WEST12345698765432", "iban"),
        ("Spoke with Maria Lopez about the loan", "person_name"),
        ("Mrs. Okonkwo called back", "person_name"),
    ],
)
def test_detectors_find_each_kind(text, kind):
    assert [k for _, _, k in _pii.find(text)] == [kind]


@pytest.mark.parametrize(
    "text",
    [
        "4111 1111 1111 1112",  # fails Luhn
        "DE89 3704 0044 0532 0130 01",  # fails mod-97
        "1234567.89",
        "0.123456789",
        "2024-01-01 12:00:00",
        "id 123456789012",
        "68785",
        "The Road to Nowhere",
        "employed since 2015",
        "666-12-3456",
    ],
)
def test_detectors_ignore_look_alikes(text):
    assert _pii.find(text) == []


@pytest.fixture
def contacts(sec_project):
    frame = pd.DataFrame(
        {
            "email": [
                "ann.smith@example.org",
                "B.Jones@Example.org",
                None,
                "carl@example.net",
            ]
            * 5,
            "notes": [
                "met Anna Schmidt at the fair",
                "no contact",
                "call 06 12 34 56 78",
                "fine",
            ]
            * 5,
            "card": ["4111 1111 1111 1111", "n/a", "5500-0000-0000-0004", None] * 5,
            "amount": [10.5, 20.0, 30.25, 40.0] * 5,
            "y": [0, 1, 0, 1] * 5,
        }
    )
    return sec_project.data("contacts", frame, target="y"), frame


def test_findings_per_column(contacts):
    asset, _ = contacts
    report = asset.privacy()
    assert isinstance(report, mnb.secure.PrivacyReport)
    assert not report.ok
    found = {(f["column"], f["kind"]): f for f in report.findings}
    assert set(found) == {
        ("email", "email"),
        ("notes", "person_name"),
        ("notes", "phone"),
        ("card", "payment_card"),
    }
    assert found[("email", "email")]["rows"] == 15
    assert found[("email", "email")]["share"] == 1.0
    assert found[("card", "payment_card")]["severity"] == "high"
    assert report.columns == ["email", "notes", "card"]
    assert "name_hints" in report.payload
    assert "email" not in report.payload["name_hints"]


def test_examples_are_redacted_in_every_rendering(contacts):
    report = contacts[0].privacy()
    shown = report._repr_html_() + repr(report) + report.to_frame().to_string()
    for secret in (
        "ann.smith",
        "4111 1111 1111 1111",
        "Anna Schmidt",
        "06 12 34 56 78",
    ):
        assert secret not in shown


def test_mask_makes_a_new_version_and_leaves_the_original(contacts, sec_project):
    asset, frame = contacts
    before = asset.content_hash
    masked = asset.privacy().mask()
    assert masked.version == 2
    assert masked.parents == (("contacts", 1),)
    assert masked.operation == "mask"
    assert masked.privacy().ok
    out = masked.frame
    assert out.loc[0, "email"] == "[EMAIL]"
    assert out.loc[0, "notes"] == "met [NAME] at the fair"
    assert out.loc[1, "card"] == "n/a"
    assert out["amount"].equals(frame["amount"])
    original = sec_project.asset("contacts", 1)
    assert original.content_hash == before
    assert original.frame.equals(frame)


def test_pseudonyms_are_keyed_and_stable_across_versions(contacts, sec_project):
    asset, frame = contacts
    p1 = asset.privacy().pseudonymize(KEY, name="contacts-pseudo")
    later = sec_project.data(
        "contacts-2025",
        frame.iloc[[3, 1, 0]].assign(
            email=["CARL@example.net", "b.jones@example.org", "ann.smith@example.org"]
        ),
        target="y",
    )
    p2 = later.privacy().pseudonymize(KEY, name="contacts-2025-pseudo")
    t1, t2 = p1.frame, p2.frame
    assert t1.loc[3, "email"] == t2.loc[0, "email"]  # case and spaces do not matter
    assert t1.loc[1, "email"] == t2.loc[1, "email"]
    assert t1.loc[0, "email"] == t2.loc[2, "email"]
    assert t1.loc[0, "email"].startswith("email_")
    assert len(t1.loc[0, "email"]) == len("email_") + 16
    other = asset.privacy().pseudonymize(
        "another-secret-key-123456", name="contacts-other"
    )
    assert other.frame.loc[0, "email"] != t1.loc[0, "email"]
    assert p1.params["key_id"] == p2.params["key_id"] != other.params["key_id"]
    assert KEY not in str(p1.params)
    assert p1.parents == (("contacts", 1),)
    assert p1.privacy().ok


def test_short_keys_and_unknown_columns_are_refused(contacts):
    report = contacts[0].privacy()
    with pytest.raises(errors.ValidationError, match="at least 16 bytes"):
        report.pseudonymize("short")
    with pytest.raises(errors.SchemaError, match="nope"):
        report.mask(columns=["nope"])


def test_clean_data_and_stored_report(sec_project):
    asset = sec_project.asset("tiny")
    report = asset.privacy()
    assert report.ok
    assert "no personal data" in repr(report)
    with pytest.raises(errors.ValidationError, match="nothing to mask"):
        report.mask()
    assert sec_project._report("asset", asset.id, "privacy") is not None


def test_sampled_scan_estimates_rows(sec_project):
    frame = pd.DataFrame(
        {"contact": [f"user{i}@example.org" for i in range(3000)], "y": [0, 1] * 1500}
    )
    report = sec_project.data("many", frame, target="y").privacy(max_values=500)
    (finding,) = report.findings
    assert finding["estimated"]
    assert finding["rows"] == 3000
