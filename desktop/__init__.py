"""ClinicDesk: offline-first desktop app for clinics."""

__version__ = "0.1.0"
