"""What the monitor's actions return: frozen records that render themselves."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_nb.ui import Displayable, KeyValues, Tab, Table, Text, View

if TYPE_CHECKING:
    import pandas as pd

    from mlops_nb.data import DataAsset
    from mlops_nb.drift._monitor import Monitor
    from mlops_nb.ui._blocks import Tone


@dataclass(frozen=True, repr=False)
class Observation(Displayable):
    """The result of :meth:`Monitor.observe`: the batch and the chunks it fell in.

    Attributes
    ----------
    batch : str
        The batch's data version, e.g. ``"employment-v1-analysis v1"``.
    rows : int
        Rows in the batch.
    new : bool
        False when the same batch had been observed before (nothing changed).
    chunks : DataFrame
        One row per chunk holding rows of this batch: rows, and the features whose
        univariate drift alerts (features only; the review adds the model's score,
        the target, performance and fairness).
    """

    monitor: str
    batch: str
    rows: int
    new: bool
    chunks: pd.DataFrame = field(repr=False)

    @property
    def alerts(self) -> int:
        """Number of (feature, chunk) drift alerts in this batch's chunks."""
        return int(self.chunks["alerts"].sum()) if len(self.chunks) else 0

    def _view(self) -> View:
        head = KeyValues(
            [
                ("monitor", self.monitor),
                ("batch", self.batch),
                ("rows", self.rows),
                ("chunks touched", len(self.chunks)),
                ("feature drift alerts", self.alerts),
            ]
        )
        note = Text(
            "Already observed: nothing changed."
            if not self.new
            else "Stored as a data version with lineage; see it all with mon.review().",
            "muted" if not self.new else "info",
        )
        tone: Tone = "warning" if self.alerts else "ok"
        badge = (
            f"{self.alerts} drift alerts" if self.alerts else "no feature drift alert",
            tone,
        )
        summary = (
            f"{self.rows:,} rows in {len(self.chunks)} chunk(s); "
            f"{self.alerts} feature drift alert(s)"
        )
        return View(
            "Observation",
            self.batch,
            summary,
            [badge],
            [Tab("Batch", [head, note, Table(self.chunks, plain_columns=("chunk",))])],
        )


def observe_summary(mon: Monitor, asset: DataAsset, *, new: bool) -> Observation:
    """Univariate drift of the features in the chunks this batch falls in."""
    from mlops_nb.drift._data import frames

    reference, analysis = frames(mon)
    batch_index = [[n, v] for n, v in mon.state["batches"]].index(
        [asset.name, asset.version]
    )
    return _summarise(
        mon, reference, analysis, batch_index, asset.label, asset.n_rows, new=new
    )


def preview_summary(mon: Monitor, batch: pd.DataFrame) -> Observation:
    """Summarise ``batch`` as if it were the next observed batch, storing nothing.

    :meth:`Monitor.observe` calls it before it stores a batch, so a batch that
    cannot be chunked or compared is refused while the project is unchanged.
    """
    import pandas as pd

    from mlops_nb.drift._data import BATCH_COL

    reference = mon.reference.frame
    stored = mon.batches
    analysis = pd.concat(
        [b.frame.assign(**{BATCH_COL: i}) for i, b in enumerate(stored)]
        + [batch.assign(**{BATCH_COL: len(stored)})],
        ignore_index=True,
    )
    return _summarise(
        mon, reference, analysis, len(stored), "(not stored)", len(batch), new=True
    )


def _summarise(
    mon: Monitor,
    reference: pd.DataFrame,
    analysis: pd.DataFrame,
    batch_index: int,
    label: str,
    rows: int,
    *,
    new: bool,
) -> Observation:
    import numpy as np
    import pandas as pd

    from mlops_nb.drift import _univariate
    from mlops_nb.drift._chunking import ChunkSpec, reference_split, split
    from mlops_nb.drift._data import BATCH_COL

    options = mon.options
    spec = ChunkSpec.from_dict(options["chunk"])
    chunks = split(analysis, spec)
    ref_chunks, _ = reference_split(reference, spec)
    feats = mon.model.recipe["features"]
    kinds = dict.fromkeys(feats["numeric"], "continuous") | dict.fromkeys(
        feats["categorical"], "categorical"
    )
    uni = _univariate.run_with_options(
        reference, analysis, kinds, ref_chunks, chunks, options
    )
    mine = analysis[BATCH_COL].to_numpy() == batch_index
    alerts = np.array(uni["alerts"])
    out = []
    for c in np.unique(chunks.codes[mine]):
        drifted = [col for i, col in enumerate(uni["columns"]) if alerts[i, c]]
        out.append(
            {
                "chunk": chunks.keys[c],
                "from": chunks.starts[c],
                "to": chunks.ends[c],
                "rows": int((mine & (chunks.codes == c)).sum()),
                "alerts": len(drifted),
                "drifted features": ", ".join(drifted) or "—",
            }
        )
    frame = pd.DataFrame(
        out, columns=["chunk", "from", "to", "rows", "alerts", "drifted features"]
    )
    return Observation(mon.name, label, rows, new, frame)


@dataclass(frozen=True, repr=False)
class TargetsReport(Displayable):
    """The result of :meth:`Monitor.add_targets`: how many labels found their rows."""

    monitor: str
    batch: str
    labels: int
    matched: int
    unmatched: int
    observed: int
    labelled: int

    def _view(self) -> View:
        kv = KeyValues(
            [
                ("labels given", self.labels),
                ("matched observed rows", self.matched),
                ("ids never observed", self.unmatched),
                ("observed rows", self.observed),
                ("observed rows with a label now", self.labelled),
                ("still without a label", self.observed - self.labelled),
            ]
        )
        blocks: list[Any] = [kv]
        if self.unmatched:
            blocks.append(
                Text(
                    f"{self.unmatched:,} label(s) have an id no observed row has: "
                    "observe their "
                    "rows first, or check the id column.",
                    "warning",
                )
            )
        summary = (
            f"{self.matched:,} of {self.labels:,} labels matched observed rows "
            f"({self.labelled:,} of {self.observed:,} rows labelled)"
        )
        tone: Tone = "ok" if not self.unmatched else "warning"
        return View(
            "Labels",
            self.batch,
            summary,
            [(f"{self.matched:,} matched", tone)],
            [Tab("Labels", blocks)],
        )


def targets_report(mon: Monitor, asset: DataAsset, on: str) -> TargetsReport:
    """Count matches between a label batch and the observed rows."""
    from mlops_nb.drift._data import frames

    given = asset.frame[on]
    if not mon.state["batches"]:  # labels may come first: nothing to match yet
        return TargetsReport(mon.name, asset.label, len(given), 0, len(given), 0, 0)
    _, analysis = frames(mon)
    target = mon.model.recipe["target"]
    ids = set(analysis[on].tolist())
    matched = int(given.isin(ids).sum())
    labelled = int(analysis[target].notna().sum()) if target in analysis.columns else 0
    return TargetsReport(
        mon.name,
        asset.label,
        len(given),
        matched,
        len(given) - matched,
        len(analysis),
        labelled,
    )


@dataclass(frozen=True, repr=False)
class Rebaseline(Displayable):
    """The record of :meth:`Monitor.approve_rebaseline` (also in the audit log)."""

    monitor: str
    record: dict[str, Any]

    def _view(self) -> View:
        r = self.record
        kv = KeyValues(
            [
                ("monitor", self.monitor),
                ("approved by", r["by"]),
                ("at (UTC)", r["at"][:19].replace("T", " ")),
                ("reason", r["reason"]),
                ("old reference", f"{r['old']['name']} v{r['old']['version']}"),
                ("old sha256", r["old"]["content_hash"]),
                ("new reference", f"{r['new']['name']} v{r['new']['version']}"),
                ("new sha256", r["new"]["content_hash"]),
            ]
        )
        summary = (
            f"reference {r['old']['name']} v{r['old']['version']} -> "
            f"{r['new']['name']} v{r['new']['version']}"
        )
        return View(
            "Rebaseline",
            self.monitor,
            summary,
            [("audited", "info")],
            [Tab("Record", [kv])],
        )
