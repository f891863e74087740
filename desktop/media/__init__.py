"""Video consultations with aiortc (docs/calls.md): sources, the call, signalling, the checks.

Runs on one asyncio loop of its own (`loop.py`); only `qt_sink.py` imports Qt.
"""
