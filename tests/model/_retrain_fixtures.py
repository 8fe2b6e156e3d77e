"""A small project with a production champion, for the retraining tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mlops_nb as mnb

if TYPE_CHECKING:
    import pandas as pd


def fresh_rows(n: int, seed: int, *, with_id: bool = True) -> pd.DataFrame:
    """Scenario rows whose ids no other seed uses (or no id column at all)."""
    frame = mnb.datasets.scenario(n=n, seed=seed).frame
    frame = frame.assign(id=frame["id"] + seed * 1_000_000)
    return frame if with_id else frame.drop(columns="id")


def make_champion(path, *, with_id: bool = True) -> None:
    """Register ``loans`` (1,200 rows), train ``risk`` v1 on 75 % and promote it."""
    proj = mnb.Project.open(path)
    roles = {"target": "y", "sensitive": "group", "time": "timestamp"}
    if with_id:
        roles["id"] = "id"
    data = proj.data("loans", fresh_rows(1200, 1, with_id=with_id), **roles)
    train, test = data.split(test=0.25, seed=0, stratify="y")
    model = proj.train("risk", train, params={"n_estimators": 20})
    model.promote("production", reason="first", data=test)
