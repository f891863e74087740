"""Video consultations with aiortc (filled by the calls issue)."""
