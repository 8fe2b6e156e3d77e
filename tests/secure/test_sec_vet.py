"""Open-dataset vetting: provenance, duplicates/leakage, relevance, PII -> a verdict."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mlops_nb as mnb
from mlops_nb import errors
from mlops_nb.secure import licence_status

URL = "https://data.example.org/open/credit.csv?download=../../etc/passwd"


@pytest.fixture
def base(sec_project):
    sc = mnb.datasets.scenario(n=2000, seed=1)
    ref = sec_project.data(
        "ref", sc.frame, target="y", id="id", time="timestamp", sensitive="group"
    )
    train, test = ref.split(test=0.25, seed=0)
    return sec_project, train, test


def fresh(seed=7, n=800, **kw):
    frame = mnb.datasets.scenario(n=n, seed=seed, **kw).frame
    return frame.assign(id=frame["id"] + 100_000)  # other records, other ids


def test_clean_open_data_is_accepted_and_provenance_recorded(base):
    proj, _, _ = base
    report = proj.vet(fresh(), name="open", source=URL, licence="CC-BY-4.0")
    assert report.verdict == "accept", report.checks
    assert report.ok
    assert set(report.checks["check"]) == {
        "provenance",
        "duplicates",
        "leakage",
        "relevance",
        "personal data",
    }
    doc = proj._document("provenance", "open v1")
    assert doc["payload"]["source"] == URL
    assert doc["payload"]["licence"] == "CC-BY-4.0"
    assert proj.audit_log()["action"].eq("save provenance").any()
    assert "every check passed" in repr(report)


def test_copies_of_test_rows_are_leakage(base):
    proj, _, test = base
    leaked = pd.concat([fresh(), test.frame.head(40)], ignore_index=True)
    report = proj.vet(leaked, name="leaky", source="a mirror", licence="CC0-1.0")
    assert report.verdict == "reject"
    assert report.status("leakage") == "fail"
    row = report.overlaps.set_index("asset").loc["ref-test v1"]
    assert row["by_id"]
    assert row["exact_rows"] == 40
    assert row["exact_expected"] == 0
    assert "ref-test v1" in report.checks.set_index("check").loc["leakage", "detail"]


def test_near_copies_without_ids_are_found_too(base):
    proj, _, test = base
    copied = test.frame.head(40).drop(columns="id")
    copied["x1"] = copied["x1"] + 1e-4  # re-exported with a little rounding noise
    copied["region"] = copied["region"].astype(str).str.upper() + " "
    leaked = pd.concat([fresh().drop(columns="id"), copied], ignore_index=True)
    report = proj.vet(leaked, name="near", source="a mirror", licence="CC0-1.0")
    row = report.overlaps.set_index("asset").loc["ref-test v1"]
    assert row["exact_rows"] == 0
    assert row["near_rows"] == 40
    assert not row["by_id"]
    assert report.status("leakage") == "fail"


def test_low_cardinality_records_coincide_without_false_alarms(sec_project):
    rng = np.random.default_rng(0)

    def census(n):
        return pd.DataFrame(
            {
                "a": rng.choice(list("abc"), n),
                "b": rng.choice(list("xy"), n),
                "c": rng.integers(0, 3, n),
                "y": rng.integers(0, 2, n),
            }
        )

    sec_project.data("census-test", census(3000), target="y")
    report = sec_project.vet(
        census(2000), name="census-open", source="gov", licence="OGL-UK-3.0"
    )
    row = report.overlaps.set_index("asset").loc["census-test v1"]
    assert row["exact_rows"] > 1900
    assert row["exact_expected"] > 1900
    assert report.status("leakage") == "ok"


@pytest.mark.parametrize(
    ("licence", "status"),
    [
        ("CC-BY-4.0", "ok"),
        ("cc0-1.0", "ok"),
        ("ODbL-1.0", "ok"),
        ("CC-BY-NC-4.0", "warn"),
        ("CC-BY-ND-4.0", "warn"),
        ("my own terms", "warn"),
        ("", "fail"),
        (None, "fail"),
        ("unknown", "fail"),
    ],
)
def test_licence_statuses(licence, status):
    assert licence_status(licence)[0] == status


def test_missing_provenance_is_refused_or_rejected(base):
    proj, _, _ = base
    with pytest.raises(errors.ValidationError, match="source"):
        proj.vet(fresh(), name="x", source="", licence="CC0-1.0")
    with pytest.raises(errors.ValidationError, match="name="):
        proj.vet(fresh(), source="s", licence="CC0-1.0")
    assert (
        proj.vet(fresh(), name="nolicence", source="s", licence="").verdict == "reject"
    )


def test_personal_data_and_irrelevant_data_need_review(base):
    proj, _, _ = base
    with_pii = fresh().assign(contact=[f"person{i}@example.org" for i in range(800)])
    report = proj.vet(with_pii, name="pii", source="s", licence="CC0-1.0")
    assert report.verdict == "review"
    assert report.status("personal data") == "warn"
    far = fresh(
        drift={"features": ["x1", "x2", "x3", "region"], "start": 0.0, "shift": 3.0}
    )
    report = proj.vet(
        far, name="far", source="s", licence="CC0-1.0", reference=proj.asset("ref")
    )
    assert report.status("relevance") == "warn"
    assert report.payload["relevance"]["reference"] == "ref v1"
    assert "Jensen-Shannon" in report._repr_html_()
