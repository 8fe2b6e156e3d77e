"""The result of verifying one model version's signature."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import IntegrityError
from mlops_nb.ui import Displayable, KeyValues, Tab, Table, Text, View

if TYPE_CHECKING:
    from mlops_nb.ui._blocks import Tone


@dataclass(frozen=True, repr=False)
class SignatureCheck(Displayable):
    """The result of verifying one model version's signature."""

    subject: str
    status: str
    problems: list[dict[str, str]] = field(default_factory=list)
    key_id: str = ""
    sequence: int | None = None
    signed_at: str = ""
    manifest_sha256: str = ""

    @property
    def ok(self) -> bool:
        """True when verified, or unsigned where signatures are not required."""
        return self.status != "failed"

    def raise_if_failed(self) -> None:
        """Raise :class:`IntegrityError` listing every problem if the check failed."""
        if self.status == "failed":
            items = "; ".join(f"{p['check']}: {p['problem']}" for p in self.problems)
            msg = (
                f"{self.subject}: signature verification failed: {items}. Do not "
                f"use this version; "
                "restore the project from a backup or re-train, then sign again."
            )
            raise IntegrityError(msg)

    def _view(self) -> View:
        import pandas as pd

        blocks: list[Any] = [
            KeyValues(
                [
                    ("status", self.status),
                    ("key id", self.key_id or "—"),
                    ("sequence", self.sequence),
                    ("signed at", self.signed_at or "—"),
                    (
                        "manifest sha256",
                        self.manifest_sha256[:16] + "…"
                        if self.manifest_sha256
                        else "—",
                    ),
                ]
            )
        ]
        if self.problems:
            blocks.append(
                Table(pd.DataFrame(self.problems, columns=["check", "problem"]))
            )
        elif self.status == "unsigned":
            blocks.append(
                Text("Not signed: mnb.secure.sign_model(model) signs it.", "muted")
            )
        else:
            blocks.append(
                Text(
                    "Signature valid; every file, the data lineage, base model and "
                    "recipe match the signed manifest.",
                    "ok",
                )
            )
        tones: dict[str, Tone] = {"verified": "ok", "unsigned": "muted"}
        tone = tones.get(self.status, "error")
        summary = (
            self.status
            if not self.problems
            else f"failed: {len(self.problems)} problems"
        )
        return View(
            "SignatureCheck",
            self.subject,
            summary,
            [(self.status, tone)],
            [Tab("Signature", blocks)],
        )
