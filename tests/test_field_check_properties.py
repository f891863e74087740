"""Properties of the server's field checks, the conflict log's bound and the clock, over generated
input (hypothesis): whatever a device sends, a check refuses it with InvalidInput naming the field
or passes a value its column can hold; what is logged or sent is always JSON; no stamp leaves the
protocol's pattern."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import String, inspect

from desktop.domain.clock import HybridLogicalClock, StampAhead, format_hlc
from desktop.domain.errors import InvalidInput
from desktop.domain.ids import new_id
from desktop.store.codec import data_fields
from desktop.store.models import SYNCED_MODELS, Appointment, Patient, SyncConflict, Synced
from desktop.sync.protocol import HLC_PATTERN, MAX_DATA_DEPTH, json_depth
from server_stub.fastjson import sendable
from server_stub.fields import LOGGED_MAX_BYTES, check_data, loggable

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.text(alphabet="\x00ab", max_size=5),
    st.sampled_from(["2026-03-02", "2026-03-02T08:00:00+00:00", "0001-01-01", "9999-12-31T23:59:59+00:00",
                     "09:30", "Europe/Berlin", "Nowhere/Nope", "0190f2a4-7b1c-7d3e-8f00-123456789abc",
                     "-" * 32, "x" * 700]),
)  # fmt: skip
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
)
fields = st.sampled_from([(model, name) for model in SYNCED_MODELS for name in sorted(data_fields(model))])


def depth_of(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    return 0


@settings(max_examples=1500, deadline=None)
@given(fields, json_values)
@example((Patient, "full_name"), "Ada\x00Lovelace")
@example((Patient, "allergies"), "x" * 501)
@example((Appointment, "starts_at"), "9999-12-31T23:59:59+00:00")
@example((SyncConflict, "suggestion"), {"": -(2**63) - 1})  # found by Hypothesis in CI: past 64 bits
def test_a_field_check_passes_what_the_column_holds_or_names_the_field(
    field: tuple[type[Synced], str], value: Any
) -> None:
    model, name = field
    try:
        checked = check_data(model, {name: value})[name]
    except InvalidInput as exc:
        assert exc.field == f"data.{name}" and name in exc.message
        return
    column = inspect(model).columns[name]
    if isinstance(checked, str):
        assert "\x00" not in checked
        if isinstance(column.type, String) and column.type.length:
            assert len(checked) <= column.type.length
    if checked is None:
        assert column.nullable
    orjson.dumps(checked, option=orjson.OPT_PASSTHROUGH_DATETIME, default=str)


def test_every_column_type_has_a_check() -> None:
    for model in SYNCED_MODELS:
        check_data(model, {})  # builds every check of the model: an unknown column type raises here


@pytest.mark.parametrize(("key", "named"), [("colour", "colour"), ("x" * 500, "x" * 30), ("a\x00b", "a?b")])
def test_an_unknown_field_is_named_shortened_and_printable(key: str, named: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_data(SYNCED_MODELS[0], {key: 1})
    assert refused.value.field == f"data.{named}"


def chain(depth: int, leaf: Any) -> Any:
    for _ in range(depth):
        leaf = {"x": leaf} if depth % 2 else [leaf]
    return leaf


@settings(max_examples=300, deadline=None)
@given(json_values, st.integers(min_value=0, max_value=2000))
def test_what_the_conflict_log_keeps_is_bounded_json(value: Any, depth: int) -> None:
    for data in (value, chain(depth, value), {"big": "x" * (depth * 40), "deep": chain(depth, value)}):
        kept = loggable(data)
        assert len(orjson.dumps(kept)) <= LOGGED_MAX_BYTES + 4096


@settings(max_examples=300, deadline=None)
@given(json_values, st.integers(min_value=0, max_value=30))
def test_json_depth_is_the_nesting_depth_up_to_its_limit(value: Any, depth: int) -> None:
    data = chain(depth, value)
    assert json_depth(data) == min(depth_of(data), MAX_DATA_DEPTH + 1)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=3000), json_values)
def test_an_answer_is_always_sendable(depth: int, value: Any) -> None:
    page = {"changes": [{"data": {"ours": chain(depth, value), "n": 2**70}}]}
    orjson.dumps(sendable(page))


stamps = st.builds(
    lambda ms, counter: format_hlc(ms, counter, new_id()),
    st.integers(min_value=0, max_value=10**13 - 1),
    st.integers(min_value=0, max_value=9999),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), stamps), max_size=40), st.sampled_from([None, 600_000]))
def test_a_clock_never_stamps_outside_the_pattern(events: list[str | None], margin: int | None) -> None:
    wall = 1_796_000_000_000
    clock = HybridLogicalClock(new_id(), wall_ms=lambda: wall, max_ahead_ms=margin)
    last = ""
    for remote in events:
        if remote is None:
            stamp = clock.now()
            assert re.match(HLC_PATTERN, stamp), stamp
            assert stamp >= last
            if margin is not None:
                assert int(stamp[:13]) <= wall + margin + 1
            last = stamp
            continue
        try:
            clock.observe(remote)
        except StampAhead:
            assert margin is not None and int(remote[:13]) - wall > margin


def test_the_note_of_a_refused_op_names_its_fields_printably() -> None:
    kept = loggable({"a\x00b": "x" * LOGGED_MAX_BYTES, "y" * 100: 1})
    assert kept["not_kept"] and kept["fields"] == ["a?b", "y" * 30]
