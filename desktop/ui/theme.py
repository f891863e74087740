"""The theme: one style sheet (`resources/styles/clinicdesk.qss`) filled with a palette and a set
of sizes from `palettes.toml` — standard or high contrast, normal or large text — and the icons."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from string import Template
from typing import Any, Literal

from PySide6.QtGui import QIcon

from desktop.resources import resource_path

Contrast = Literal["standard", "high_contrast"]
TextSize = Literal["normal", "large"]

# Each text colour with the background it is drawn on: tests check their contrast ratio.
TEXT_PAIRS: tuple[tuple[str, str], ...] = (
    ("text", "window"),
    ("muted", "window"),
    ("panel_text", "panel"),
    ("token", "panel"),
    ("next_token", "panel"),
    ("warning_text", "warning"),
    ("notice_text", "notice"),
    ("badge_text", "badge_synced"),
    ("badge_text", "badge_syncing"),
    ("badge_text", "badge_offline"),
    ("warning_text", "badge_attention"),
    ("button_text", "button"),
)


@dataclass(frozen=True)
class Theme:
    contrast: Contrast = "standard"
    text_size: TextSize = "normal"

    def colours(self) -> dict[str, str]:
        return dict(_variants()["palette"][self.contrast])

    def sizes(self) -> dict[str, int]:
        return dict(_variants()["size"][self.text_size])

    def style_sheet(self) -> str:
        template = Template(resource_path("styles", "clinicdesk.qss").read_text(encoding="utf-8"))
        return template.substitute(self.colours(), **{k: str(v) for k, v in self.sizes().items()})


def icon(name: str) -> QIcon:
    """An icon from `resources/icons/` by name (`icon("clinicdesk")`), found by the resources helper."""
    return QIcon(str(resource_path("icons", f"{name}.svg")))


@cache
def _variants() -> dict[str, Any]:
    with resource_path("styles", "palettes.toml").open("rb") as file:
        return tomllib.load(file)


def contrast_ratio(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio of two `#RRGGBB` colours (1 to 21)."""
    lighter, darker = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def _luminance(colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
