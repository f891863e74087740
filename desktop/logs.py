"""The app's log: rotating files in the data dir, readable by their owner only, with no patient data.

What is logged comes from our own messages and from tracebacks. A traceback's last line is the
exception's message, which can quote a patient's name (a service's `InvalidInput`) or a query's
parameters (SQLAlchemy): the formatter keeps the frames and the exception's type, not its text.
"""

from __future__ import annotations

import logging
import os
import traceback
from logging.handlers import RotatingFileHandler
from pathlib import Path
from types import TracebackType

LOG_DIR = "logs"
LOG_FILE = "clinicdesk.log"
MAX_BYTES = 1_000_000
BACKUPS = 5
FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


class PrivateRotatingFileHandler(RotatingFileHandler):
    """Each file, the first and every rotated one, is created 0600."""

    def _open(self):  # type: ignore[no-untyped-def]
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.chmod(self.baseFilename, 0o600)  # a file made before, with a wider mode
        return os.fdopen(fd, self.mode.replace("w", "a"), encoding=self.encoding, errors=self.errors)


class NoDataFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        cached, record.exc_text = record.exc_text, None  # another handler's text holds the message
        try:
            return super().format(record)
        finally:
            record.exc_text = cached

    def formatException(self, ei: ExcInfo) -> str:
        kind, _value, tb = ei
        frames = "".join(traceback.format_tb(tb))
        name = kind.__qualname__ if kind is not None else "Exception"
        return f"Traceback (most recent call last):\n{frames}{name} (message not logged)"


def set_up_logging(data_dir: Path, level: str = "WARNING") -> logging.Handler:
    """Log at `level` to `data_dir/logs/clinicdesk.log` (rotated at 1 MB, 5 kept); returns the
    handler (remove it from the root logger and close it when the app ends)."""
    folder = Path(data_dir) / LOG_DIR
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / LOG_FILE
    handler = PrivateRotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
    handler.setFormatter(NoDataFormatter(FORMAT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, PrivateRotatingFileHandler)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level)
    return handler


def stop_logging(handler: logging.Handler) -> None:
    logging.getLogger().removeHandler(handler)
    handler.close()
