"""Event types are declared once (``schemas/events.py``): the type names, the unions, the subject
helpers, the OpenAPI ``types`` filter and ``dtos.ts`` all agree, and adding a type to one
declaration without the others fails at import."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

from frontend_server.api.openapi.document import build_openapi
from mesh.subjects import event_subject, event_type_token
from schemas.events import (
    EVENT_TYPES,
    PUBLISHABLE_EVENT_ADAPTER,
    STORED_EVENT_CLASSES,
    AnyEvent,
    EventType,
    PublishableEvent,
    VideoEvent,
)
from schemas.export import GENERATED_DIR

VIDEO = "3f2b8c1e-5d4a-4c7b-9e1f-0a2b3c4d5e6f"


def _names(union: object) -> set[str]:
    return {cls.model_fields["type"].default for cls in get_args(get_args(union)[0])}


def test_the_type_names_and_the_stored_union_agree() -> None:
    assert set(get_args(EventType)) == set(EVENT_TYPES) == _names(VideoEvent)
    assert len(EVENT_TYPES) == len(STORED_EVENT_CLASSES)


def test_the_other_unions_are_made_of_stored_types_and_stream_only_ones() -> None:
    assert _names(PublishableEvent) < set(EVENT_TYPES)
    assert _names(AnyEvent) - set(EVENT_TYPES) == {"heartbeat", "stream.reset"}
    assert PUBLISHABLE_EVENT_ADAPTER is not None


def test_every_type_is_a_valid_subject_token_and_nothing_else_is() -> None:
    for event_type in EVENT_TYPES:
        assert event_type_token(event_type) == event_type
        assert event_subject(VIDEO, event_type).endswith(f".{event_type}")


def test_the_openapi_filter_accepts_exactly_the_stored_types() -> None:
    document = build_openapi()
    params = document["paths"]["/api/v2/events/stream"]["get"]["parameters"]
    (types,) = [p for p in params if p["name"] == "types"]
    pattern = re.compile(types["schema"]["pattern"])
    assert all(pattern.fullmatch(t) for t in EVENT_TYPES)
    assert pattern.fullmatch(",".join(EVENT_TYPES))
    assert not pattern.fullmatch("heartbeat") and not pattern.fullmatch("video.statusx")


def test_dtos_ts_names_every_type() -> None:
    ts = (Path(GENERATED_DIR) / "dtos.ts").read_text(encoding="utf-8")
    for event_type in (*EVENT_TYPES, "heartbeat", "stream.reset"):
        assert f'type: "{event_type}"' in ts, event_type
