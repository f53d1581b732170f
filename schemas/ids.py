"""Identifier types. Ids become NATS subject tokens, so they are validated strictly here."""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from pydantic import AfterValidator, Field

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
YOUTUBE_ID_PATTERN = r"^[A-Za-z0-9_-]{11}$"


def is_video_id(value: object) -> bool:
    """True when ``value`` is a canonical (lower-case, hyphenated) UUID string."""
    return isinstance(value, str) and _UUID.fullmatch(value) is not None


def _canonical_video_id(value: str) -> str:
    lowered = value.strip().lower()
    if not _UUID.fullmatch(lowered):
        raise ValueError("video id must be a UUID like 3f2b8c1e-5d4a-4c7b-9e1f-0a2b3c4d5e6f")
    return lowered


def new_video_id() -> str:
    """A fresh random video id."""
    return str(uuid.uuid4())


VideoId = Annotated[
    str,
    Field(
        description="Video id (UUID)",
        examples=["3f2b8c1e-5d4a-4c7b-9e1f-0a2b3c4d5e6f"],
        min_length=32,
        max_length=40,
    ),
    AfterValidator(_canonical_video_id),
]

YoutubeId = Annotated[
    str,
    Field(pattern=YOUTUBE_ID_PATTERN, description="YouTube video id (11 characters)"),
]
