"""Confidentiality: personal data per column, masking and keyed pseudonymization.

:func:`privacy` scans the text-like columns of a data version (see
:mod:`mlops_nb.secure._pii` for what is recognised) and returns a
:class:`PrivacyReport`. Its :meth:`~PrivacyReport.mask` replaces each finding with a
label (``[EMAIL]``) and :meth:`~PrivacyReport.pseudonymize` with a keyed HMAC-SHA256
token (``email_3f9a…``): the same value under the same key gives the same token in
every version, so joins and counts still work, and without the key nobody can
recompute the token from a guessed value. Both produce a *new* version with lineage;
the original version is never changed. Examples shown in reports are redacted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import SchemaError, ValidationError, listing
from mlops_nb.secure import _pii
from mlops_nb.ui import Displayable, Figure, KeyValues, Tab, Table, Text, View

if TYPE_CHECKING:
    import pandas as pd

    from mlops_nb.data import DataAsset
    from mlops_nb.ui._blocks import Tone

_HINT = re.compile(
    r"e-?mail|phone|mobile|\btel|ssn|social.?sec|iban|card.?n|first.?name|last.?name|"
    r"surname|full.?name|passport|birth|\bdob\b|address",
    re.IGNORECASE,
)
_DEFAULTS = {"max_values": 20_000, "min_rows": 1, "seed": 0}


def _text_columns(frame: pd.DataFrame) -> list[str]:
    import pandas as pd

    out = []
    for name in frame.columns:
        col = frame[name]
        if (
            isinstance(col.dtype, pd.CategoricalDtype)
            or pd.api.types.is_string_dtype(col)
            or col.dtype == object
        ):
            out.append(name)
        elif (
            pd.api.types.is_integer_dtype(col) and col.abs().max() >= 10**12
        ):  # card numbers as ints
            out.append(name)
    return out


def _scan_column(
    col: pd.Series, *, max_values: int, seed: int
) -> tuple[dict[str, dict[str, Any]], bool]:
    import numpy as np

    counts = col.dropna().astype(str).value_counts(sort=False)
    sampled = len(counts) > max_values
    if sampled:
        pick = np.random.default_rng(seed).choice(
            len(counts), size=max_values, replace=False
        )
        counts = counts.iloc[np.sort(pick)]
    found: dict[str, dict[str, Any]] = {}
    for value, n in counts.items():
        for start, end, kind in _pii.find(value):
            entry = found.setdefault(
                kind,
                {
                    "rows": 0,
                    "example": _pii.redact_example(kind, value[start:end]),
                    "seen": set(),
                },
            )
            if value not in entry["seen"]:
                entry["seen"].add(value)
                entry["rows"] += int(n)
    if sampled:
        scale = col.notna().sum() / max(int(counts.sum()), 1)
        for entry in found.values():
            entry["rows"] = round(entry["rows"] * scale)
    for entry in found.values():
        entry.pop("seen")
    return found, sampled


def privacy(
    asset: DataAsset,
    *,
    columns: list[str] | None = None,
    max_values: int = 20_000,
    min_rows: int = 1,
    seed: int = 0,
) -> PrivacyReport:
    """Find personal data in each column of a data version.

    Parameters
    ----------
    asset : DataAsset
    columns : list of str, optional
        Columns to scan (default: every text, categorical or long-integer column).
    max_values : int
        Distinct values scanned per column; beyond it a seeded sample is scanned and
        row counts are estimates (marked so).
    min_rows : int
        Report a kind in a column only when at least this many rows hold it.
    seed : int
        Seed of that sample.

    Returns
    -------
    PrivacyReport
        Findings per column and kind; ``mask()`` and ``pseudonymize(key=...)`` make
        new versions. Computed once per version and options, then stored.
    """
    options = {
        "columns": columns,
        "max_values": int(max_values),
        "min_rows": int(min_rows),
        "seed": int(seed),
    }
    kind = (
        "privacy"
        if options == {**_DEFAULTS, "columns": None}
        else "privacy:"
        + hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()[:12]
    )
    payload = asset.project._report("asset", asset.id, kind)
    if payload is None:
        frame = asset._frame_nocopy()
        if columns is not None:
            for c in columns:
                asset._check_column("privacy", "columns", c)
        scanned = list(columns) if columns is not None else _text_columns(frame)
        findings = []
        for name in scanned:
            found, sampled = _scan_column(frame[name], max_values=max_values, seed=seed)
            present = int(frame[name].notna().sum())
            for k in _pii.KINDS:
                if k in found and found[k]["rows"] >= min_rows:
                    share = found[k]["rows"] / max(present, 1)
                    findings.append(
                        {
                            "column": name,
                            "kind": k,
                            "rows": found[k]["rows"],
                            "share": round(share, 4),
                            "example": found[k]["example"],
                            "estimated": sampled,
                            "severity": "high"
                            if share >= 0.5
                            else "medium"
                            if share >= 0.05
                            else "low",
                        }
                    )
        flagged = {f["column"] for f in findings}
        hints = [c for c in frame.columns if _HINT.search(str(c)) and c not in flagged]
        payload = {
            "columns_scanned": scanned,
            "rows": len(frame),
            "findings": findings,
            "name_hints": hints,
        }
        asset.project._save_report("asset", asset.id, kind, payload)
    return PrivacyReport(asset, payload)


def _key_bytes(key: Any) -> bytes:
    raw = key.encode() if isinstance(key, str) else key
    if not isinstance(raw, (bytes, bytearray)) or len(raw) < 16:
        msg = (
            "pseudonymize(key=...): give a secret of at least 16 bytes (str or "
            "bytes), e.g. "
            "secrets.token_hex(32), kept outside the project; the same key keeps "
            "tokens stable "
            "across versions."
        )
        raise ValidationError(msg)
    return bytes(raw)


@dataclass(frozen=True, repr=False)
class PrivacyReport(Displayable):
    """Personal data found in a data version, per column and kind."""

    asset: DataAsset
    payload: dict[str, Any]

    @property
    def findings(self) -> list[dict[str, Any]]:
        """One dict per (column, kind): rows, share, redacted example, severity."""
        return list(self.payload["findings"])

    @property
    def columns(self) -> list[str]:
        """Columns holding personal data."""
        return list(dict.fromkeys(f["column"] for f in self.payload["findings"]))

    @property
    def ok(self) -> bool:
        """True when no personal data was found."""
        return not self.payload["findings"]

    def to_frame(self) -> pd.DataFrame:
        """Return the findings as a table."""
        import pandas as pd

        cols = ["column", "kind", "rows", "share", "example", "estimated", "severity"]
        return pd.DataFrame(self.payload["findings"], columns=cols)

    # -- new versions -----------------------------------------------------------------
    def _targets(self, columns: list[str] | None, what: str) -> list[str]:
        targets = self.columns if columns is None else list(columns)
        missing = [c for c in targets if c not in self.asset.schema.names]
        if missing:
            msg = (
                f"PrivacyReport.{what}(columns=...): {listing(missing)} not in "
                f"{self.asset.label}."
            )
            raise SchemaError(msg)
        if not targets:
            msg = (
                f"PrivacyReport.{what}: no personal data was found in "
                f"{self.asset.label}; nothing to {what}."
            )
            raise ValidationError(msg)
        return targets

    def _rewrite(self, targets: list[str], replace: Any) -> pd.DataFrame:
        frame = self.asset.frame
        for name in targets:
            col = frame[name]
            mapping = {}
            for value in col.dropna().astype(str).unique():
                out, last = [], 0
                for start, end, kind in _pii.find(value):
                    out += [value[last:start], replace(kind, value[start:end])]
                    last = end
                mapping[value] = "".join(out) + value[last:]
            text = col.astype(object).where(col.isna(), col.astype(str))
            frame[name] = text.map(
                lambda v, m=mapping: m.get(v, v) if isinstance(v, str) else v
            ).astype(object)
        return frame

    def mask(
        self,
        columns: list[str] | None = None,
        *,
        name: str | None = None,
        note: str = "",
    ) -> DataAsset:
        """Make a new version in which every finding is replaced by its label.

        Parameters
        ----------
        columns : list of str, optional
            Columns to mask (default: every column with findings; every kind of
            personal data is masked in them).
        name : str, optional
            Register under another name; by default a new version of this asset.
        note : str
            Recorded in lineage.
        """
        targets = self._targets(columns, "mask")
        frame = self._rewrite(targets, lambda kind, _value: _pii.LABELS[kind])
        return self.asset._derive(
            frame,
            self.asset.name if name is None else name,
            "mask",
            {"columns": targets},
            note or f"personal data masked in {', '.join(targets)}",
        )

    def pseudonymize(
        self,
        key: str | bytes,
        columns: list[str] | None = None,
        *,
        name: str | None = None,
        note: str = "",
    ) -> DataAsset:
        """Make a new version in which every finding is replaced by a keyed token.

        ``token = kind + "_" + HMAC-SHA256(key, kind + ":" + normalised value)[:16]``;
        values are normalised first (e-mail lower-cased, spaces and dashes dropped from
        numbers), so the same person gets the same token in every version.

        Parameters
        ----------
        key : str or bytes
            A secret of at least 16 bytes, kept outside the project (only a key id is
            recorded, to show which versions share a key).
        columns, name, note
            As for :meth:`mask`.
        """
        secret = _key_bytes(key)
        targets = self._targets(columns, "pseudonymize")

        def token(kind: str, value: str) -> str:
            mac = hmac.new(
                secret, f"{kind}:{_pii.normalise(kind, value)}".encode(), hashlib.sha256
            )
            return f"{kind}_{mac.hexdigest()[:16]}"

        frame = self._rewrite(targets, token)
        key_id = hmac.new(secret, b"mlops_nb key id", hashlib.sha256).hexdigest()[:16]
        return self.asset._derive(
            frame,
            self.asset.name if name is None else name,
            "pseudonymize",
            {"columns": targets, "key_id": key_id},
            note
            or f"personal data pseudonymized (key {key_id}) in {', '.join(targets)}",
        )

    # -- rendering --------------------------------------------------------------------
    def _view(self) -> View:
        p = self.payload
        overview = KeyValues(
            [
                ("data", self.asset.label),
                ("rows", p["rows"]),
                ("columns scanned", len(p["columns_scanned"])),
                ("columns with personal data", ", ".join(self.columns) or "none"),
                (
                    "column names suggesting personal data",
                    ", ".join(p["name_hints"]) or "none",
                ),
            ]
        )
        blocks: list[Any] = [overview]
        if self.ok:
            blocks.append(
                Text("No personal data recognised in the scanned columns.", "ok")
            )
        else:
            table = self.to_frame()
            table["tone"] = table["severity"].map(
                {"high": "error", "medium": "warning", "low": "muted"}
            )
            blocks.append(
                Table(table, caption="findings (examples redacted)", tone_column="tone")
            )
            blocks.append(
                Text(
                    "Next: report.mask() or report.pseudonymize(key=...) make a new "
                    "version; "
                    "this one stays as it is.",
                    "info",
                )
            )
        blocks.append(
            Text(
                "Recognised: e-mail, phone, national IDs (US SSN, UK NINO, French "
                "NIR), payment "
                "cards (Luhn), IBAN (mod-97), person names in free text (a built-in "
                "list of common "
                "first names + a capitalised word, or a title such as Mrs.).",
                "muted",
            )
        )
        tabs = [Tab("Findings", blocks)]
        if not self.ok:
            import plotly.express as px

            fig = px.bar(
                self.to_frame(),
                x="column",
                y="share",
                color="kind",
                barmode="group",
                title="Share of rows with personal data",
                height=320,
            )
            fig.update_yaxes(tickformat=".0%")
            tabs.append(Tab("Chart", [Figure(fig)]))
        badge: tuple[str, Tone] = (
            ("no personal data", "ok")
            if self.ok
            else (f"personal data in {len(self.columns)} columns", "warning")
        )
        summary = (
            "no personal data found"
            if self.ok
            else f"personal data in {listing(self.columns)}"
        )
        return View("PrivacyReport", self.asset.label, summary, [badge], tabs)
