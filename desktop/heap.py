"""The garbage collector and a long-running app: what start-up built stays out of its way."""

from __future__ import annotations

import gc


def freeze_start_up_heap() -> None:
    """Move every object alive now into the collector's permanent generation (gc.freeze).

    Modules, classes, SQLAlchemy's mappers and statement caches, settings: they live as long as
    the process, yet every full collection walked them again. In bench/core.py that was ~30 ms
    of a 60 ms free-slot search (BENCHMARKS.md). Call it once start-up is done; calling it again
    later (after the UI is built) adds what was made since.
    """
    gc.collect()
    gc.freeze()
