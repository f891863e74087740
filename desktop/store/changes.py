"""The change feed: after every commit that changed synced rows, which entities and ids changed.

A unit of work (origin `local`) and every write the sync engine makes from the server's answers
(origin `pull`: a pulled page, a create the server refused and the device tombstoned) announce a
`Changes` to the store's subscribers (`LocalStore.on_commit`), after the commit, on the thread
that committed. Listeners must be quick and must not write to the store: a Qt screen re-emits
the value as a signal; the sync worker sets a flag.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

log = logging.getLogger(__name__)


class Origin(StrEnum):
    LOCAL = "local"  # a unit of work on this device
    PULL = "pull"  # the sync engine wrote what the server said


@dataclass(frozen=True)
class Changes:
    """What one commit changed: entity name (`appointment`, `queue_token`, ...) -> row ids."""

    origin: Origin
    ids: Mapping[str, frozenset[str]]

    @classmethod
    def of(cls, origin: Origin, pairs: Iterable[tuple[str, str]]) -> Changes:
        """From (entity, id) pairs, in any order, repeats allowed."""
        by_entity: dict[str, set[str]] = defaultdict(set)
        for entity, entity_id in pairs:
            by_entity[entity].add(entity_id)
        return cls(origin, MappingProxyType({e: frozenset(ids) for e, ids in by_entity.items()}))

    @property
    def entities(self) -> frozenset[str]:
        return frozenset(self.ids)

    def __bool__(self) -> bool:
        return bool(self.ids)

    def __contains__(self, entity: object) -> bool:
        return entity in self.ids

    def ids_of(self, entity: str) -> frozenset[str]:
        return self.ids.get(entity, frozenset())


Listener = Callable[[Changes], None]


class ChangeFeed:
    """Subscribers to a store's commits. Thread-safe: subscribe, unsubscribe and announce from any
    thread. A listener that raises is logged; the others still hear, and the commit stands."""

    def __init__(self) -> None:
        self._listeners: tuple[Listener, ...] = ()
        self._lock = threading.Lock()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(changes)` after every commit that changed rows; returns the unsubscribe
        (calling it twice is harmless)."""
        with self._lock:
            self._listeners = (*self._listeners, listener)

        def unsubscribe() -> None:
            with self._lock:
                self._listeners = tuple(x for x in self._listeners if x is not listener)

        return unsubscribe

    def announce(self, changes: Changes) -> None:
        if not changes:
            return
        for listener in self._listeners:  # a snapshot: (un)subscribing meanwhile is safe
            try:
                listener(changes)
            except Exception:
                log.exception("a change listener failed")
