"""The call window (issue 13): a window of its own for one telehealth appointment."""
