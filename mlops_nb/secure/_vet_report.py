"""The one-verdict report of :func:`mlops_nb.secure.vet`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_nb.ui import Displayable, Figure, KeyValues, Tab, Table, Text, View

if TYPE_CHECKING:
    import pandas as pd

    from mlops_nb.data import DataAsset
    from mlops_nb.ui._blocks import Tone

_TONE = {"ok": "ok", "warn": "warning", "fail": "error"}
_VERDICT: dict[str, Tone] = {"accept": "ok", "review": "warning", "reject": "error"}


@dataclass(frozen=True, repr=False)
class VetReport(Displayable):
    """Provenance, duplicates/leakage, relevance and personal data of open data."""

    asset: DataAsset
    payload: dict[str, Any]

    @property
    def verdict(self) -> str:
        """``accept``, ``review`` or ``reject``."""
        return self.payload["verdict"]

    @property
    def ok(self) -> bool:
        """True when the verdict is ``accept``."""
        return self.verdict == "accept"

    @property
    def checks(self) -> pd.DataFrame:
        """One row per check: check, status (ok / warn / fail), detail."""
        import pandas as pd

        return pd.DataFrame(
            self.payload["checks"], columns=["check", "status", "detail"]
        )

    @property
    def overlaps(self) -> pd.DataFrame:
        """Rows shared with each project asset: observed, expected by chance, excess."""
        import pandas as pd

        return pd.DataFrame(self.payload["overlaps"])

    def status(self, check: str) -> str:
        """Return the status of one check (``provenance``, ``leakage``, ...)."""
        return next(c["status"] for c in self.payload["checks"] if c["check"] == check)

    def _view(self) -> View:
        import pandas as pd

        p = self.payload
        checks = self.checks
        checks["tone"] = checks["status"].map(_TONE)
        overview = KeyValues(
            [
                ("data", p["asset"]),
                ("verdict", p["verdict"]),
                ("source", p["source"]),
                ("licence", p["licence"]),
                ("content hash", p["content_hash"][:16] + "…"),
            ]
        )
        tabs = [Tab("Verdict", [overview, Table(checks, tone_column="tone")])]
        if p["overlaps"]:
            cols = [
                "asset",
                "test",
                "by_id",
                "exact_rows",
                "exact_expected",
                "near_rows",
                "near_expected",
                "near_excess",
            ]
            frame = pd.DataFrame(p["overlaps"])[cols]
            tabs.append(
                Tab(
                    "Overlap",
                    [
                        Table(frame, caption="rows also found in project assets"),
                        Text(
                            "expected = matches by chance for records of this kind "
                            "(Good-Turing coverage of the other asset); 0 when an id "
                            "column is shared.",
                            "muted",
                        ),
                    ],
                )
            )
        rel = p["relevance"]
        if rel["columns"]:
            import plotly.express as px

            frame = pd.DataFrame(rel["columns"]).sort_values(
                "distance", ascending=False
            )
            fig = px.bar(
                frame,
                x="column",
                y="distance",
                height=300,
                title=f"Jensen-Shannon distance to {rel['reference']} (0 = same)",
            )
            blocks: list[Any] = [
                KeyValues(
                    [
                        ("reference", rel["reference"]),
                        ("coverage", f"{rel['coverage']:.0%}"),
                        ("mean distance", rel["mean_distance"]),
                        ("missing columns", ", ".join(rel["missing"]) or "none"),
                    ]
                ),
                Figure(fig),
            ]
            tabs.append(Tab("Relevance", blocks))
        if p["pii"]:
            tabs.append(
                Tab(
                    "Personal data",
                    [Table(pd.DataFrame(p["pii"]), caption="examples redacted")],
                )
            )
        failed = [c["check"] for c in p["checks"] if c["status"] != "ok"]
        summary = f"{p['verdict']}" + (
            f" ({', '.join(failed)})" if failed else ": every check passed"
        )
        return View(
            "VetReport",
            p["asset"],
            summary,
            [(p["verdict"], _VERDICT[p["verdict"]])],
            tabs,
        )
