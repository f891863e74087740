"""Use cases, one module per area. Each takes the caller's unit of work (one transaction per user
action), checks input and permissions, changes rows (journaled by the unit of work) and raises
typed errors from `desktop.domain.errors`."""
