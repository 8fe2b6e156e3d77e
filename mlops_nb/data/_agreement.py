"""Inter-annotator agreement: Cohen's kappa on the rows two annotators both labelled.

Kappa is the agreement observed beyond the agreement expected by chance from each
annotator's own label shares: ``(p_o - p_e) / (1 - p_e)``. 1 is perfect agreement, 0
is what chance gives, negative is worse than chance. Computed here with numpy; it
equals :func:`sklearn.metrics.cohen_kappa_score` (checked by the tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_nb.ui import Displayable, KeyValues, Tab, Table, Text, View

if TYPE_CHECKING:
    import pandas as pd

    from mlops_nb.data._annotate import AnnotationSession
    from mlops_nb.ui._blocks import Tone


def cohen_kappa(a: list[Any], b: list[Any]) -> tuple[float, float, float]:
    """Return ``(kappa, observed agreement, chance agreement)`` of two label lists."""
    import numpy as np

    labels = sorted({str(v) for v in [*a, *b]})
    index = {v: i for i, v in enumerate(labels)}
    k = len(labels)
    cm = np.zeros((k, k))
    for x, y in zip(a, b, strict=True):
        cm[index[str(x)], index[str(y)]] += 1
    n = cm.sum()
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    observed = np.trace(cm) / n
    expected = float((cm.sum(1) * cm.sum(0)).sum() / n**2)
    kappa = (
        float("nan") if expected == 1 else float((observed - expected) / (1 - expected))
    )
    return kappa, float(observed), expected


def agreement(first: AnnotationSession, second: AnnotationSession) -> Agreement:
    """Compare two sessions on the same data version and column."""
    from mlops_nb.errors import ValidationError

    if (first.asset, first.column) != (second.asset, second.column):
        msg = (
            f"agreement: sessions label different things ({first.asset.label} "
            f"{first.column!r} vs {second.asset.label} {second.column!r}); "
            "compare annotators of the same rows."
        )
        raise ValidationError(msg)
    a, b = first.labels, second.labels
    common = sorted(set(a) & set(b))
    x, y = [a[r] for r in common], [b[r] for r in common]
    kappa, observed, expected = cohen_kappa(x, y)
    return Agreement(
        first.asset.label, first.column, (first.annotator, second.annotator),
        common, x, y, kappa, observed, expected,
    )  # fmt: skip


@dataclass(frozen=True, repr=False)
class Agreement(Displayable):
    """Cohen's kappa between two annotators, with the rows where they differ.

    Attributes
    ----------
    kappa : float
        NaN when fewer than one row is shared or both gave one and the same label.
    observed, expected : float
        Share of shared rows with the same label, and the share chance would give.
    rows : list of int
        Positions both labelled.
    """

    data: str
    column: str
    annotators: tuple[str, str]
    rows: list[int]
    first: list[Any]
    second: list[Any]
    kappa: float
    observed: float
    expected: float

    def to_frame(self) -> pd.DataFrame:
        """One row per shared row: position and each annotator's label."""
        import pandas as pd

        a, b = self.annotators
        return pd.DataFrame(
            {"row": self.rows, a: self.first, b if b != a else f"{b} (2)": self.second}
        )

    def confusion(self) -> pd.DataFrame:
        """Count each pair (first annotator's label, second annotator's label)."""
        import pandas as pd

        a, b = self.annotators
        if not self.rows:
            return pd.DataFrame()
        table = pd.crosstab(
            pd.Series(self.first, name=a).astype(str),
            pd.Series(self.second, name=b).astype(str),
        )
        table.index, table.columns = (
            [f"{a}: {i}" for i in table.index],
            [f"{b}: {c}" for c in table.columns],
        )
        return table.reset_index(names="")

    def _view(self) -> View:
        a, b = self.annotators
        k = self.kappa
        reading = ("no shared rows yet" if not self.rows else
                   "undefined (one label only)" if k != k else
                   "almost perfect" if k > 0.8 else
                   "substantial" if k > 0.6 else
                   "moderate" if k > 0.4 else
                   "fair" if k > 0.2 else
                   "slight or none")  # fmt: skip
        facts = KeyValues([
            ("annotators", f"{a} and {b}"),
            ("data", f"{self.data}, column {self.column!r}"),
            ("rows both labelled", len(self.rows)),
            ("Cohen's kappa", f"{k:.3f} ({reading})" if self.rows else "—"),
            ("observed agreement", f"{self.observed:.1%}" if self.rows else "—"),
            ("agreement expected by chance",
             f"{self.expected:.1%}" if self.rows else "—"),
        ])  # fmt: skip
        frame = self.to_frame()
        differ = frame[frame.iloc[:, 1].astype(str) != frame.iloc[:, 2].astype(str)]
        blocks: list[Any] = [
            facts,
            Table(self.confusion(), caption="labels given by each"),
        ]
        if len(differ):
            blocks.append(
                Table(
                    differ,
                    caption=f"{len(differ)} rows where they differ: discuss these",
                )
            )
        else:
            blocks.append(Text("They agree on every shared row.", "ok"))
        tone: Tone = "ok" if k == k and k > 0.6 else "warning"
        badge = (f"kappa {k:.2f}" if self.rows and k == k else "kappa —", tone)
        summary = f"{a} vs {b} on {len(self.rows)} rows of {self.data}: kappa {k:.3f}"
        return View(
            "Agreement",
            f"{self.data} {self.column}",
            summary,
            [badge],
            [Tab("Agreement", blocks)],
        )
