"""The central ClinicDesk server: enrolment, auth, sync push/pull, conflicts, call signalling."""
