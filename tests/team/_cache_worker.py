"""One process reading the same S3 blobs through a blob cache folder shared with others.

argv: artifacts URL, cache folder, go file, rounds, digests...

Waits for the go file, then for each round: removes some cache entries (so the
processes write the same entries at the same moments), reads every blob with
``read_many`` through a fresh store (a new kernel), checks every byte against its
digest, and reads one through ``read``. Prints one JSON line of counts.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys
import time
from pathlib import Path

from mlops_nb.store._fsspec_blobs import FsspecBlobStore


def main() -> None:
    url, cache, go, rounds, *digests = sys.argv[1:]
    rng = random.Random(os.getpid())
    while not Path(go).exists():
        time.sleep(0.002)
    hits = fetches = 0
    for _ in range(int(rounds)):
        store = FsspecBlobStore(url, cache=cache)
        for digest in rng.sample(digests, k=len(digests) // 2):
            store.cache.path_for(digest).unlink(missing_ok=True)
        got = store.read_many(digests)
        assert set(got) == set(digests)
        for digest, data in got.items():
            assert hashlib.sha256(data).hexdigest() == digest
        chosen = rng.choice(digests)
        assert hashlib.sha256(store.read(chosen)).hexdigest() == chosen
        hits += store.cache.hits
        fetches += store.fetches
    print(json.dumps({"hits": hits, "fetches": fetches}), flush=True)


if __name__ == "__main__":
    main()
