"""Widgets shared by the modes' screens."""
