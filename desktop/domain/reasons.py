"""Structured reasons: what the core tells people, as a code and its values, never as a sentence.

Words are chosen at display time, in the reader's language: `desktop.domain.english` renders
every code in English (the `clinic` command uses it); the app's screens render the same codes
through Qt translations. The codes and their values are listed in docs/reasons.md.

Values are plain data: text, numbers, dates, aware datetimes already in the clinic's zone (show
them as they are), other reasons, and tuples of reasons.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    values: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def of(cls, code: str, **values: Any) -> Reason:
        return cls(code, MappingProxyType(values))

    def __getitem__(self, name: str) -> Any:
        return self.values[name]


TEXT = "text"  # a sentence not yet given a code of its own: {"text": the English sentence}


def text(sentence: str) -> Reason:
    return Reason.of(TEXT, text=sentence)
