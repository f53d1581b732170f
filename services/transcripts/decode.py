"""Turn the raw bytes of an uploaded transcript into text, or refuse it with a clear error.

Checks, in order: size (``max_bytes``), byte-order marks (UTF-8, UTF-16, UTF-32), binary content
(NUL bytes or mostly control characters), UTF-8 validity, and finally emptiness. Each refusal is a
:class:`~culto.errors.TranscriptError` with its own ``code`` and a one-line message.
"""

from __future__ import annotations

import codecs
import unicodedata

from culto.errors import TranscriptError, TranscriptTooLarge

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
"""The documented default limit of a transcript: 5 MiB (``CULTO_MAX_TRANSCRIPT_BYTES``)."""

# Longest BOMs first: the UTF-32-LE BOM starts with the UTF-16-LE one.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v")
# Share of control characters above which text is treated as binary rather than as a text file
# with a few stray control bytes (which we drop).
_BINARY_CONTROL_RATIO = 0.05


def describe_size(n: int) -> str:
    """``n`` bytes as a short human string (``5 MiB``, ``512 KiB``, ``12 bytes``)."""
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= factor:
            value = n / factor
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"


def check_size(size: int, max_bytes: int) -> None:
    """The one transcript-size check (submit request, worker, ``culto analyze``).

    Raises:
        TranscriptTooLarge: naming both sizes.
    """
    if size > max_bytes:
        raise TranscriptTooLarge(
            f"transcript is too large ({describe_size(size)}); the limit is "
            f"{describe_size(max_bytes)} ({max_bytes} bytes, CULTO_MAX_TRANSCRIPT_BYTES)",
            code="transcript_too_large",
            details={"size": size, "limit": max_bytes},
        )


def _binary() -> TranscriptError:
    return TranscriptError(
        "transcript looks like a binary file, not text; send a .txt, .vtt or .srt file",
        code="binary_transcript",
    )


def _control_ratio(text: str) -> float:
    if not text:
        return 0.0
    bad = sum(1 for ch in text if ch not in _ALLOWED_CONTROLS and unicodedata.category(ch) == "Cc")
    return bad / len(text)


def _clean_text(text: str) -> str:
    """Refuse binary-looking text, drop stray control characters, normalise newlines."""
    if "\x00" in text or _control_ratio(text) > _BINARY_CONTROL_RATIO:
        raise _binary()
    if text.startswith("\ufeff"):
        text = text[1:]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # A few stray control characters (e.g. from a bad copy-paste) are dropped, not fatal.
    text = "".join(ch for ch in text if ch in _ALLOWED_CONTROLS or unicodedata.category(ch) != "Cc")
    if not text.strip():
        raise TranscriptError("transcript is empty", code="empty_transcript")
    return unicodedata.normalize("NFC", text)


def decode_transcript(data: bytes | str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """Decode and sanity-check a transcript.

    Args:
        data: Raw bytes (a file) or already decoded text (a JSON request field).
        max_bytes: Largest accepted size in bytes (text is measured as UTF-8).

    Returns:
        The text, NFC-normalised, with ``\\n`` newlines and without a BOM.

    Raises:
        TranscriptError: ``transcript_too_large``, ``binary_transcript``,
            ``transcript_not_utf8`` or ``empty_transcript``.
    """
    if isinstance(data, str):
        # Cheap bound first so a huge string is never encoded just to be measured.
        check_size(len(data), max_bytes)
        try:
            size = len(data.encode("utf-8"))
        except UnicodeEncodeError:
            # Lone surrogates, e.g. from a JSON "\ud800" escape.
            raise TranscriptError(
                "transcript contains invalid Unicode (unpaired surrogates)",
                code="transcript_not_utf8",
            ) from None
        check_size(size, max_bytes)
        return _clean_text(data)

    check_size(len(data), max_bytes)
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return _clean_text(data[len(bom) :].decode(encoding))
            except UnicodeDecodeError as exc:
                raise TranscriptError(
                    f"transcript starts with a {encoding.upper()} byte-order mark but is not "
                    f"valid {encoding.upper()} (byte offset {exc.start + len(bom)})",
                    code="transcript_not_utf8",
                ) from None
    if b"\x00" in data:
        raise _binary()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if _control_ratio(data.decode("latin-1")) > _BINARY_CONTROL_RATIO:
            raise _binary() from None
        raise TranscriptError(
            f"transcript is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start}); save it as UTF-8 and try again",
            code="transcript_not_utf8",
        ) from None
    return _clean_text(text)
