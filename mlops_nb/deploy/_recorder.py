"""Recording served batches as data versions, for Drift Ops.

Each scored batch (features as the model reads them, the id, time and sensitive
columns the rows carried, the predicted label, the class probabilities, a flag for
rows holding a category never seen in training, and the time) is buffered and
written as a new version of the data asset ``"<model>-served"`` every ``rows`` rows
or ``seconds`` seconds, and when the service stops. Writing happens in a background
thread, so a request never waits for the project store; if the buffer is full, rows
are counted as dropped.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_nb.model import Model

log = logging.getLogger("mlops_nb.deploy")


class Recorder:
    """Buffers served rows and writes them as versions of ``<model>-served``."""

    def __init__(
        self,
        model: Model,
        schema: dict[str, Any],
        *,
        rows: int,
        seconds: float,
        note: str,
    ):
        from mlops_nb._config import get_config

        self.model, self.schema, self.rows, self.seconds, self.note = (
            model,
            schema,
            rows,
            seconds,
            note,
        )
        self.name = f"{model.name}-served"
        self.user = get_config()["user"]
        # bounded: a flood of requests cannot grow memory (extra rows are dropped)
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=1000)
        self.versions: list[int] = []
        self.dropped = 0
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name="mlops-nb-recorder", daemon=True
        )
        self._thread.start()

    def add(self, rows: dict[str, Any], outputs: list[Any]) -> None:
        """Queue one scored batch (never blocks the service).

        ``rows`` are the checked rows of :func:`_standalone.check_rows`, or the
        input columns alone.
        """
        if "columns" not in rows:
            rows = {"columns": rows, "extra": {}, "unseen": None}
        try:
            self.queue.put_nowait((dt.datetime.now(dt.timezone.utc), rows, outputs))
        except queue.Full:
            self.dropped += len(next(iter(rows["columns"].values()), []))

    def _loop(self) -> None:
        from mlops_nb._config import config_context

        buffer: list[Any] = []
        first = 0.0
        with config_context(user=self.user):
            while True:
                try:
                    item = self.queue.get(timeout=0.2)
                    if not buffer:
                        first = time.monotonic()
                    buffer.append(item)
                except queue.Empty:
                    pass
                n = sum(
                    len(next(iter(c["columns"].values()), [])) for _, c, _ in buffer
                )
                stopping = self._stop.is_set() and self.queue.empty()
                if buffer and (
                    n >= self.rows
                    or time.monotonic() - first >= self.seconds
                    or stopping
                ):
                    self._flush(buffer)
                    buffer = []
                if stopping:
                    return

    def _flush(self, batches: list[Any]) -> None:
        import numpy as np
        import pandas as pd

        marker = self.schema.get("missing_category")
        classes = self.schema["model"]["classes"]
        kinds = {i["name"]: i["kind"] for i in self.schema["inputs"]}
        parts = []
        for at, rows, outputs in batches:
            columns = rows["columns"]
            frame = pd.DataFrame(
                {
                    k: np.asarray(
                        [np.nan if v is None else v for v in vals], dtype=float
                    )
                    if kinds[k] == "numeric"
                    else pd.Series(
                        [None if v == marker else v for v in vals], dtype=object
                    )
                    for k, vals in columns.items()
                }
            )
            for name, values in rows["extra"].items():
                if name not in frame.columns:
                    frame[name] = pd.Series(values, dtype=object)
            if rows["unseen"] is not None:
                frame["unseen_category"] = [bool(u) for u in rows["unseen"]]
            frame["prediction"] = outputs[0].reshape(-1)
            if len(outputs) > 1 and classes:
                for i, c in enumerate(classes):
                    frame[f"proba_{c}"] = outputs[1][:, i].astype(float)
            frame["served_at"] = pd.Timestamp(at).tz_localize(None)
            parts.append(frame)
        data = pd.concat(parts, ignore_index=True)
        id_column = (self.schema.get("roles") or {}).get("id")
        for name in data.columns:
            if data[name].dtype == object and name not in kinds:
                data[name] = _plain(data[name])
        try:
            asset = self.model.project.data(
                self.name,
                data,
                time="served_at",
                **({"id": id_column} if _usable_id(data, id_column) else {}),
                note=f"{self.note}: {len(data)} rows from {len(batches)} requests",
            )
            self.versions.append(asset.version)
        except Exception:
            self.errors += 1
            log.exception("recording %d served rows as %r failed", len(data), self.name)

    def close(self, timeout: float = 30.0) -> None:
        """Write what is buffered and stop."""
        self._stop.set()
        self._thread.join(timeout)


def _plain(col: Any) -> Any:
    """One type per stored column: numbers stay numbers, anything else is text."""
    import pandas as pd

    numbers = pd.to_numeric(col, errors="coerce")
    if (numbers.notna() | col.isna()).all() and not col.map(
        lambda v: isinstance(v, bool)
    ).any():
        return numbers
    return col.map(lambda v: None if v is None else str(v)).astype(object)


def _usable_id(data: Any, name: str | None) -> bool:
    """Declare the id role when every recorded row carries a distinct id."""
    return bool(name and name in data.columns and data[name].notna().all()) and bool(
        data[name].is_unique
    )
