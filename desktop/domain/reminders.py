"""When an appointment's reminder is due: the rule the device schedules by and the server keeps
when it moves an appointment."""

from __future__ import annotations

from datetime import timedelta

LEAD_TIME = timedelta(hours=24)  # a reminder goes out this long before the appointment
