"""PySide6 user interfaces: kiosk, desk, board (filled by the UI issues)."""
