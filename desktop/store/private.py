"""Private files: data dirs 0700; databases (with SQLite's -wal and -shm), backups and logs 0600.

A device's `clinicdesk.db` holds patients' records and, on desks, every clinician's password hash;
the server's `server.db` the whole clinic's. What ClinicDesk creates is made owner-only from the
start (SQLite gives a database's -wal and -shm the mode of the database file). What already
exists is left as it is, with a warning at start where it is looser, naming the `chmod` that
fixes it: an administrator may have shared a folder on purpose. POSIX only: on Windows the
user's profile folders are private already and these modes mean nothing.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600
SQLITE_SIDECARS = ("-wal", "-shm", "-journal")
CHECKED = os.name == "posix"


def private_dir(path: Path) -> Path:
    """`path` and its missing parents; the folders made here are owner-only."""
    path = Path(path)
    if not path.is_dir():
        if not path.parent.exists():
            private_dir(path.parent)
        path.mkdir(mode=DIR_MODE, exist_ok=True)
    return path


def private_file(path: Path) -> Path:
    """Create `path` empty and owner-only in a private folder, unless it exists (then unchanged)."""
    path = Path(path)
    private_dir(path.parent)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    return path


def too_open(path: Path) -> str | None:
    """What to say if other users may use `path` (a group or other permission bit), else None."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
    if not CHECKED or mode & 0o077 == 0:
        return None
    wanted = DIR_MODE if path.is_dir() else FILE_MODE
    return f"{path} is open to other users of this machine (mode {mode:04o}): chmod {wanted:o} '{path}'"


def warn_if_not_private(database: Path) -> list[str]:
    """Log a warning for the database's folder, the database and its SQLite sidecars where other
    users may read them; returns the warnings."""
    database = Path(database)
    paths = [database.parent, database, *(database.with_name(database.name + s) for s in SQLITE_SIDECARS)]
    found = [problem for problem in map(too_open, paths) if problem]
    for problem in found:
        log.warning("%s", problem)
    return found
