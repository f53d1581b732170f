"""Caption cues: markup cleaning and de-duplication of YouTube-style rolling captions.

YouTube's automatic captions (and files converted from them) "roll": every cue repeats the line
shown by the previous cue and adds a new one, and tiny 10 ms cues repeat a line unchanged::

    00:00:00.000 --> 00:00:02.350      Deus é amor
    00:00:02.350 --> 00:00:02.360      Deus é amor
    00:00:02.360 --> 00:00:05.000      Deus é amor / João capítulo três

Read naively, every sentence appears two or three times. :func:`dedupe_rolling` keeps each line
once, at the start time of the cue where it first appeared. Some converters also grow a line word
by word (``Deus`` → ``Deus é`` → ``Deus é amor``); such growth is merged into one segment.

The de-duplication only runs when a file looks rolling (see :func:`looks_rolling`), so that an
ordinary subtitle file in which someone says "Amém." twice in a row keeps both.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from schemas.transcripts import TranscriptSegment

# Any tag: <c>, <c.colorE5E5E5>, </c>, <v Speaker>, <00:00:01.000>, <i>, <font color="x">, <ruby>.
_TAG = re.compile(r"<[^<>\n]*>")
# ASS/SSA override blocks that many .srt files carry: {\an8}, {\i1}, {\pos(10,20)}.
_ASS_OVERRIDE = re.compile(r"\{\\[^{}\n]*\}")
_SPACES = re.compile(r"\s+")
# Ruby annotations (<rt>pronunciation</rt>) are a reading aid, not spoken text.
_RUBY_TEXT = re.compile(r"<rt(?:[.\s][^<>\n]*)?>.*?(?:</rt>|(?=</ruby>)|$)")

# Share of cue transitions that must overlap before a file is treated as rolling captions.
_ROLLING_RATIO = 0.3


@dataclass
class Cue:
    """One timed caption block after markup removal.

    Attributes:
        start: Start time in seconds.
        end: End time in seconds (never before ``start``).
        lines: Non-empty, whitespace-normalised text lines.
    """

    start: float
    end: float
    lines: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The lines joined with spaces."""
        return " ".join(self.lines)


def clean_line(raw: str) -> str:
    """Strip caption markup from one line and decode HTML entities.

    Tags are removed before entities are decoded, so an escaped ``&lt;3`` survives as text.
    """
    text = _ASS_OVERRIDE.sub("", raw)
    text = _RUBY_TEXT.sub("", text)
    text = _TAG.sub("", text)
    text = html.unescape(text)
    return _SPACES.sub(" ", text).strip()


def clean_lines(raw_lines: Iterable[str]) -> list[str]:
    """:func:`clean_line` on each line, dropping lines that end up empty."""
    return [line for line in (clean_line(raw) for raw in raw_lines) if line]


def _words(text: str) -> list[str]:
    return text.split(" ")


def _overlap(previous: Sequence[str], current: Sequence[str]) -> int:
    """How many leading lines of ``current`` repeat the trailing lines of ``previous``."""
    for k in range(min(len(previous), len(current)), 0, -1):
        if list(previous[-k:]) == list(current[:k]):
            return k
    return 0


def _grows(previous_line: str, current_line: str) -> bool:
    """``current_line`` is ``previous_line`` plus more words."""
    prev, cur = _words(previous_line), _words(current_line)
    return len(cur) > len(prev) and cur[: len(prev)] == prev


def looks_rolling(cues: Sequence[Cue]) -> bool:
    """Whether enough consecutive cues repeat or extend their predecessor to be rolling captions.

    Args:
        cues: Cues in file order, with empty cues already removed.
    """
    transitions = 0
    rolling = 0
    for prev, cur in itertools.pairwise(cues):
        transitions += 1
        if (
            prev.lines == cur.lines
            or _overlap(prev.lines, cur.lines)
            or _grows(prev.lines[-1], cur.lines[0])
        ):
            rolling += 1
    return rolling >= 2 and rolling >= _ROLLING_RATIO * transitions


def dedupe_rolling(cues: Sequence[Cue]) -> list[Cue]:
    """Drop the repeated lines of rolling captions, keeping first-appearance start times.

    Args:
        cues: Cues in file order, with empty cues already removed.

    Returns:
        New cues that each hold only text not shown before; a cue whose lines were all shown
        before only extends the end time of the cue that introduced them.
    """
    out: list[Cue] = []
    shown: list[str] = []  # every line emitted so far (the tail is what overlaps)
    for cue in cues:
        lines = list(cue.lines)
        if out:
            k = _overlap(shown, lines)
            lines = lines[k:]
            last = out[-1]
            if lines and last.lines and _grows(last.lines[-1], lines[0]):
                # The line grew word by word: keep its first start, replace it by the longer form.
                last.lines[-1] = lines[0]
                shown[-1] = lines[0]
                lines = lines[1:]
            if not lines:
                last.end = max(last.end, cue.end)
                continue
        out.append(Cue(cue.start, cue.end, lines))
        shown.extend(lines)
        del shown[:-8]  # overlaps never span more than a few lines
    return out


def cues_to_segments(cues: Sequence[Cue], *, dedupe: bool = True) -> list[TranscriptSegment]:
    """Turn cues into transcript segments, de-duplicating rolling captions when detected.

    Args:
        cues: Cues in file order (empty ones are skipped).
        dedupe: Set to ``False`` to keep the cues exactly as given.
    """
    kept = [c for c in cues if c.lines]
    if dedupe and looks_rolling(kept):
        kept = dedupe_rolling(kept)
    return [TranscriptSegment(start=c.start, end=c.end, text=c.text) for c in kept]
