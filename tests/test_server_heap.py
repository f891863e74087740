"""`clinic server run` moves what start-up made out of the garbage collector's sight (desktop/heap.py):
full collections of a busy server no longer walk its modules, engines and driver."""

from __future__ import annotations

import gc
from pathlib import Path

import requests

from server_stub.background import serving
from server_stub.db import sqlite_url


def test_a_server_started_to_run_alone_freezes_its_start_up_heap(tmp_path: Path) -> None:
    before = gc.get_freeze_count()
    try:
        with serving(sqlite_url(tmp_path / "alone.db"), freeze_heap=True) as base_url:
            assert requests.get(base_url + "/v1/health", timeout=10).ok
            assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()  # the tests' own heap goes back to the collector


def test_a_server_inside_another_program_leaves_its_heap_alone(tmp_path: Path) -> None:
    before = gc.get_freeze_count()
    with serving(sqlite_url(tmp_path / "embedded.db")) as base_url:
        assert requests.get(base_url + "/v1/health", timeout=10).ok
        assert gc.get_freeze_count() == before
