"""Generated partitions shared by the scale tests: days of logs, cuts, tampering."""

from __future__ import annotations

import numpy as np
import pandas as pd


def day(
    n: int,
    day: int,
    seed: int,
    *,
    x1_loc: float = 0.0,
    x1_scale: float = 1.0,
    c_p: tuple[float, float, float] = (0.2, 0.3, 0.5),
    noise: float = 1.0,
) -> pd.DataFrame:
    """One day of ``n`` rows: ts, x1 (normal), x2 (exponential), c, y, id."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(x1_loc, x1_scale, n)
    x2 = rng.exponential(1, n)
    c = rng.choice(list("abc"), n, p=list(c_p))
    y = (x1 + rng.normal(0, noise, n) > 0).astype(int)
    secs = np.sort(rng.uniform(0, 86_399, n))
    ts = pd.Timestamp("2026-01-01") + pd.Timedelta(days=day)
    return pd.DataFrame(
        {
            "ts": ts + pd.to_timedelta(secs, unit="s"),
            "x1": x1,
            "x2": x2,
            "c": pd.Series(c, dtype=object),
            "y": y,
            "id": np.arange(n) + day * 10**6,
        }
    )


def write_cut(folder, whole: pd.DataFrame, seed: int, n_cuts: int) -> None:
    """Write ``whole`` as parquet files cut at ``n_cuts`` random rows."""
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.choice(np.arange(1, len(whole)), n_cuts, replace=False))
    folder.mkdir()
    for i, (a, b) in enumerate(zip([0, *cuts], [*cuts, len(whole)], strict=True)):
        whole.iloc[a:b].to_parquet(folder / f"part-{i:02d}.parquet", index=False)


def flip_byte(project, digest: str, at: int | None = None) -> None:
    """Change one byte of a stored blob (the middle one by default), on either store."""
    artifacts = project._store.artifacts
    if hasattr(artifacts, "path_for"):
        path = artifacts.path_for(digest)
        data = bytearray(path.read_bytes())
        data[(len(data) // 2 if at is None else at) % len(data)] ^= 0x01
        path.write_bytes(bytes(data))
    else:
        key = artifacts.key_for(digest)
        data = bytearray(artifacts.fs.cat_file(key))
        data[(len(data) // 2 if at is None else at) % len(data)] ^= 0x01
        artifacts.fs.pipe_file(key, bytes(data))
