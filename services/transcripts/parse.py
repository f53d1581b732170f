"""Parse inline transcripts: plain text, WebVTT and SubRip.

``txt``: each non-empty line becomes a segment without times.
``vtt``: the ``WEBVTT`` header (its ``Language:`` field sets the transcript language), optional
cue identifiers, cue settings, ``NOTE``/``STYLE``/``REGION`` blocks, and cue markup (``<c>``,
``<v Speaker>``, ``<00:00:01.000>`` karaoke timestamps, ``<i>``...) are understood; entities
are decoded.
``srt``: numbered blocks with ``HH:MM:SS,mmm --> HH:MM:SS,mmm`` times; ``<i>``/``<font>`` tags
and ``{\\an8}``-style overrides are stripped.

Rolling YouTube captions are de-duplicated (:mod:`services.transcripts.captions`). Anything
unreadable raises :class:`~culto.errors.TranscriptError` with a one-line message.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from culto.errors import TranscriptError
from schemas.transcripts import Transcript, TranscriptSegment, TranscriptSource
from schemas.videos import TranscriptFormat

from .captions import Cue, clean_lines, cues_to_segments
from .decode import DEFAULT_MAX_BYTES, decode_transcript

# [hh:]mm:ss(.|,)mmm — WebVTT requires "." and SRT ",", but files mix them up in the wild.
_TIMESTAMP = re.compile(r"^(?:(\d+):)?([0-5]?\d):([0-5]\d)(?:[.,](\d{1,3}))?$")
_ARROW = "-->"
_VTT_SKIPPED_BLOCKS = ("NOTE", "STYLE", "REGION")
_LANGUAGE_HEADER = re.compile(r"^Language:\s*([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]+)*)\s*$", re.I)
_SRT_INDEX = re.compile(r"^\d+$")

Block = list[tuple[int, str]]  # (1-based line number, line text)


def _blocks(lines: list[str], first_line: int = 1) -> Iterator[Block]:
    """Group lines into blank-line separated blocks, remembering line numbers."""
    block: Block = []
    for offset, line in enumerate(lines):
        if line.strip():
            block.append((first_line + offset, line.rstrip()))
        elif block:
            yield block
            block = []
    if block:
        yield block


def _seconds(raw: str) -> float | None:
    match = _TIMESTAMP.match(raw)
    if not match:
        return None
    hours, minutes, seconds, millis = match.groups()
    return (
        int(hours or 0) * 3600
        + int(minutes) * 60
        + int(seconds)
        + (int(millis.ljust(3, "0")) / 1000 if millis else 0.0)
    )


def _timing(lineno: int, line: str, code: str, example: str) -> tuple[float, float]:
    """Parse ``start --> end [settings]``; raise ``code`` naming the line on failure."""
    left, _, right = line.partition(_ARROW)
    start_raw = left.strip()
    end_raw = right.strip().split()[0] if right.strip() else ""
    start, end = _seconds(start_raw), _seconds(end_raw)
    if start is None or end is None:
        bad = start_raw if start is None else end_raw
        raise TranscriptError(
            f"line {lineno}: bad timestamp {bad[:40]!r} (expected {example})",
            code=code,
            details={"line": lineno},
        )
    # A cue that ends before it starts is kept as an instant rather than rejecting the file.
    return start, max(start, end)


def parse_txt(text: str) -> list[TranscriptSegment]:
    """Each non-empty line of plain text becomes one segment without times.

    Whitespace is collapsed; nothing else is touched (plain text may contain ``<`` and ``&``).
    """
    return [
        TranscriptSegment(text=" ".join(line.split())) for line in text.split("\n") if line.strip()
    ]


def _is_keyword_block(first: str, keyword: str) -> bool:
    return first == keyword or first.startswith((keyword + " ", keyword + "\t"))


def parse_vtt(text: str) -> tuple[list[Cue], str | None]:
    """Parse WebVTT into cues and the header's ``Language:`` (if any).

    Raises:
        TranscriptError: ``malformed_vtt`` naming the offending line.
    """
    lines = text.split("\n")
    first = lines[0]
    if not (first == "WEBVTT" or first.startswith(("WEBVTT ", "WEBVTT\t"))):
        raise TranscriptError(
            "line 1: a WebVTT file must start with 'WEBVTT'",
            code="malformed_vtt",
            details={"line": 1},
        )
    language: str | None = None
    cues: list[Cue] = []
    blocks = _blocks(lines)
    header = next(blocks)
    for lineno, line in header[1:]:
        if _ARROW in line:
            # No blank line after the header: the header block swallowed the first cue.
            raise TranscriptError(
                f"line {lineno}: a blank line must separate the WEBVTT header from the first cue",
                code="malformed_vtt",
                details={"line": lineno},
            )
        if match := _LANGUAGE_HEADER.match(line.strip()):
            language = match.group(1).replace("_", "-")
    for block in blocks:
        first_text = block[0][1].strip()
        if any(_is_keyword_block(first_text, k) for k in _VTT_SKIPPED_BLOCKS):
            continue
        if _ARROW in block[0][1]:
            timing_at = 0
        elif len(block) > 1 and _ARROW in block[1][1]:
            timing_at = 1  # the first line is a cue identifier
        elif cues:
            # Cue text after a whitespace-only line (YouTube writes " " lines inside cues)
            # continues the previous cue.
            cues[-1].lines.extend(clean_lines(line for _, line in block))
            continue
        else:
            raise TranscriptError(
                f"line {block[0][0]}: expected a cue timing line like "
                "'00:00:01.000 --> 00:00:04.000'",
                code="malformed_vtt",
                details={"line": block[0][0]},
            )
        lineno, timing_line = block[timing_at]
        start, end = _timing(lineno, timing_line, "malformed_vtt", "HH:MM:SS.mmm")
        cues.append(Cue(start, end, clean_lines(line for _, line in block[timing_at + 1 :])))
    if not cues:
        raise TranscriptError("WebVTT file has no cues", code="malformed_vtt")
    return cues, language


def parse_srt(text: str) -> list[Cue]:
    """Parse SubRip into cues.

    Raises:
        TranscriptError: ``malformed_srt`` naming the offending line.
    """
    cues: list[Cue] = []
    for block in _blocks(text.split("\n")):
        if _ARROW in block[0][1]:
            timing_at = 0  # index number missing: tolerated
        elif len(block) > 1 and _SRT_INDEX.match(block[0][1].strip()) and _ARROW in block[1][1]:
            timing_at = 1
        elif cues:
            # A blank line inside a subtitle's text: keep the text with that subtitle.
            cues[-1].lines.extend(clean_lines(line for _, line in block))
            continue
        else:
            raise TranscriptError(
                f"line {block[0][0]}: expected a subtitle number followed by a timing line like "
                "'00:00:01,000 --> 00:00:04,000'",
                code="malformed_srt",
                details={"line": block[0][0]},
            )
        lineno, timing_line = block[timing_at]
        start, end = _timing(lineno, timing_line, "malformed_srt", "HH:MM:SS,mmm")
        cues.append(Cue(start, end, clean_lines(line for _, line in block[timing_at + 1 :])))
    if not cues:
        raise TranscriptError("SubRip file has no subtitles", code="malformed_srt")
    return cues


def _sniff(text: str) -> TranscriptFormat:
    """A ``txt`` upload that is really WebVTT or SubRip is parsed as such."""
    if text.startswith("WEBVTT") and (len(text) == 6 or text[6] in " \t\n"):
        return "vtt"
    head = text.lstrip("\n").split("\n", 2)
    if len(head) >= 2 and _SRT_INDEX.match(head[0].strip()) and _ARROW in head[1]:
        left, _, right = head[1].partition(_ARROW)
        if _seconds(left.strip()) is not None and right.strip():
            return "srt"
    return "txt"


def parse_transcript(
    data: bytes | str,
    fmt: TranscriptFormat,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    source: TranscriptSource = "inline",
) -> Transcript:
    """Decode, validate and parse an inline transcript.

    Args:
        data: The transcript as bytes (a file) or text (a JSON field).
        fmt: ``txt``, ``vtt`` or ``srt``. A ``txt`` whose content is unmistakably WebVTT or
            SubRip is parsed as that format.
        max_bytes: Largest accepted size (default 5 MiB; ``Settings.max_transcript_bytes``).
        source: Recorded in the result (``inline`` for API submissions, ``file`` for the CLI).

    Returns:
        The transcript with cue markup stripped, rolling captions de-duplicated and cue start
        and end times (seconds) kept; ``language`` comes from a WebVTT ``Language:`` header.

    Raises:
        TranscriptError: codes ``empty_transcript``, ``binary_transcript``,
            ``transcript_not_utf8``, ``transcript_too_large``, ``malformed_vtt``,
            ``malformed_srt`` or ``unsupported_format``.
    """
    if fmt not in ("txt", "vtt", "srt"):
        raise TranscriptError(
            f"unsupported transcript format {fmt!r}; use txt, vtt or srt",
            code="unsupported_format",
        )
    text = decode_transcript(data, max_bytes=max_bytes)
    if fmt == "txt":
        fmt = _sniff(text)
    language: str | None = None
    if fmt == "vtt":
        cues, language = parse_vtt(text)
        segments = cues_to_segments(cues)
    elif fmt == "srt":
        segments = cues_to_segments(parse_srt(text))
    else:
        segments = parse_txt(text)
    if not segments:
        raise TranscriptError(
            f"transcript has no text (the {fmt} file holds only timings or markup)",
            code="empty_transcript",
        )
    return Transcript(source=source, language=language, segments=segments)
