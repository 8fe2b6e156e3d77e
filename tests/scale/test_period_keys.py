"""A period chunk is named the same in every partition: the midnight hour of hourly
chunks was "2026-01-22" in a partition holding only midnight rows and
"2026-01-22 00:00:00" in one holding later hours too, so one hour became two chunks."""

from __future__ import annotations

import pandas as pd
import pytest
from _partitions import day as day_frame

from mlops_nb.drift._chunking import ChunkSpec, period_keys, split


@pytest.mark.parametrize("cut", [40, 333])
def test_an_hour_is_one_chunk_whichever_partition_holds_it(project, tmp_path, cut):
    ref = pd.concat([day_frame(300, d, d) for d in range(4)], ignore_index=True)
    asset = project.data("ref", ref, target="y", time="ts", id="id")
    train, test = asset.split(test=0.5, seed=0)
    model = project.train("m", train, params={"n_estimators": 4}, seed=0)
    # six hours from midnight; the first partition ends inside the midnight hour
    whole = day_frame(1_200, 21, 7)
    whole = whole[whole["ts"] < pd.Timestamp("2026-01-22 06:00")].reset_index(drop=True)
    first = whole[whole["ts"] < pd.Timestamp("2026-01-22 01:00")]
    cut = min(cut, len(first) - 1)
    folder = tmp_path / "logs"
    folder.mkdir()
    whole.iloc[:cut].to_parquet(folder / "part-0.parquet", index=False)
    whole.iloc[cut:].to_parquet(folder / "part-1.parquet", index=False)
    logs = project.data("logs", str(folder / "*.parquet"), time="ts")
    large = model.monitor(reference=test, chunk="h").observe(logs, client="synchronous")
    hours = whole["ts"].dt.floor("h")
    want = [str(h) for h in sorted(hours.unique())]  # "2026-01-22 00:00:00", ...
    assert list(large.chunks["chunk"]) == want
    assert list(large.chunks["rows"]) == hours.value_counts().sort_index().tolist()


def test_keys_do_not_depend_on_the_other_rows():
    t = pd.Series(pd.to_datetime(["2026-01-22 00:10", "2026-01-22 03:20"]))
    spec = ChunkSpec.parse("h", None, time_column="ts", columns=["ts"], what="t")
    alone = split(pd.DataFrame({"ts": t[:1]}), spec)
    both = split(pd.DataFrame({"ts": t}), spec)
    assert alone.keys[0] == both.keys[0] == "2026-01-22 00:00:00"
    days = period_keys(t.dt.floor("D").unique(), "D")
    assert days == ["2026-01-22"]
