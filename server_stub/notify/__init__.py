"""Patients' messages leave the server here: settings, the e-mail and SMS transports, the dispatcher
that claims due reminders and records every attempt, and its status (docs/reminders.md)."""
