"""Map character offsets of the joined transcript text back to segment start times.

Every analysis module works on one string — the segments joined with single spaces, exactly
as :attr:`schemas.transcripts.Transcript.text` builds it — and reports character offsets.
:class:`Timeline` turns such an offset into the start second of the segment it falls in.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from schemas.transcripts import Transcript


@dataclass(frozen=True, slots=True)
class Timeline:
    """The joined text of a transcript plus where each segment begins in it.

    Attributes:
        text: The segments' texts joined with single spaces (empty segments skipped).
        offsets: Character offset at which each kept segment starts in ``text``.
        starts: The start second of each kept segment, or None when unknown.
    """

    text: str
    offsets: tuple[int, ...]
    starts: tuple[float | None, ...]

    @classmethod
    def from_transcript(cls, transcript: Transcript) -> Timeline:
        """Build the timeline of ``transcript``; ``text`` equals ``transcript.text``."""
        parts: list[str] = []
        offsets: list[int] = []
        starts: list[float | None] = []
        position = 0
        for segment in transcript.segments:
            if not segment.text:
                continue
            if parts:
                position += 1  # the joining space
            offsets.append(position)
            starts.append(segment.start)
            parts.append(segment.text)
            position += len(segment.text)
        return cls(" ".join(parts), tuple(offsets), tuple(starts))

    def segment_index(self, offset: int) -> int | None:
        """Return the index of the segment containing ``offset`` (None if no segments)."""
        if not self.offsets:
            return None
        return max(0, bisect_right(self.offsets, offset) - 1)

    def time_at(self, offset: int) -> float | None:
        """Return the start second of the segment containing ``offset``, or None if unknown."""
        index = self.segment_index(offset)
        return None if index is None else self.starts[index]

    def boundaries(self) -> tuple[int, ...]:
        """Character offsets where a segment begins (the first segment's 0 excluded)."""
        return self.offsets[1:]
