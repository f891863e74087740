"""Run by test_sync_faults.py in its own process: pull a device's feed page by page until killed.

    python tests/pull_child.py DATA_DIR BASE_URL TOKEN PAGE_SIZE

Opens the device's store, and syncs once with small pages. After each page — once its
transaction has committed — prints `page <changes pulled so far> <stored cursor>`; `done` at the end.
"""

from __future__ import annotations

import sys
from pathlib import Path

from desktop.store.local import LocalStore
from desktop.sync.client import SyncClient
from desktop.sync.engine import SyncEngine
from desktop.sync.report import Progress


def main(data_dir: Path, base_url: str, token: str, page_size: int) -> int:
    store = LocalStore(data_dir)
    client = SyncClient(base_url, token_provider=lambda: token, retries=0)

    def committed(progress: Progress) -> None:
        if progress.stage == "pull":
            print(f"page {progress.done} {store.device().pull_cursor}", flush=True)

    report = SyncEngine(store, client, page_size=page_size).sync_once(progress=committed)
    print("done" if report.ok else f"failed {report.errors}", flush=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])))
