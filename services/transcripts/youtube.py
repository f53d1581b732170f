"""YouTube captions through ``youtube-transcript-api`` (1.2.x instance API).

Preference order for the default ``languages=("pt", "pt-BR", "en")``: a manually created
Portuguese track, then an automatically generated Portuguese one, then English (manual before
generated). The library's exceptions become :class:`~culto.errors.PermanentStageError` (retrying
cannot help; the message says what the user can do instead) or
:class:`~culto.errors.TransientStageError` (network trouble, YouTube blocking or rate-limiting us).

Codes for which falling back to audio recognition makes sense are in :data:`ASR_FALLBACK_CODES`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol, cast

from culto.errors import (
    CultoError,
    ErrorFactory,
    ErrorTable,
    PermanentStageError,
    TransientStageError,
    mapped_errors,
)
from schemas.ids import YOUTUBE_ID_PATTERN
from schemas.transcripts import Transcript

from .captions import Cue, clean_line, cues_to_segments

_YOUTUBE_ID = re.compile(YOUTUBE_ID_PATTERN)
# Sound annotations of automatic captions ("[Música]", "[Aplausos]", "[Music]") are not speech.
_SOUND_TAG = re.compile(r"\[[^\[\]]{1,40}\]")

_WHAT_TO_DO = "submit the transcript inline (txt, vtt or srt) or enable audio transcription (ASR)"

ASR_FALLBACK_CODES = frozenset({"captions_disabled", "no_captions", "empty_captions"})
"""Caption error codes after which transcribing the audio is the sensible next step."""


class _Snippet(Protocol):
    text: str
    start: float
    duration: float


class _Fetched(Protocol):
    language_code: str

    def __iter__(self) -> Iterator[_Snippet]: ...


class _Track(Protocol):
    language_code: str
    is_generated: bool

    def fetch(self) -> _Fetched: ...


class _TrackList(Protocol):
    def find_manually_created_transcript(self, language_codes: Iterable[str]) -> _Track: ...

    def find_generated_transcript(self, language_codes: Iterable[str]) -> _Track: ...

    def __iter__(self) -> Iterator[_Track]: ...


class _Api(Protocol):
    def list(self, video_id: str) -> _TrackList: ...


def _language_groups(languages: Sequence[str]) -> list[list[str]]:
    """``("pt", "pt-BR", "en")`` → ``[["pt", "pt-BR"], ["en"]]``, keeping the caller's order."""
    groups: dict[str, list[str]] = {}
    for code in languages:
        groups.setdefault(code.split("-")[0].lower(), []).append(code)
    return list(groups.values())


def _pick_track(tracks: _TrackList, languages: Sequence[str]) -> _Track | None:
    from youtube_transcript_api import NoTranscriptFound

    for group in _language_groups(languages):
        for find in (tracks.find_manually_created_transcript, tracks.find_generated_transcript):
            try:
                return find(group)
            except NoTranscriptFound:
                continue
    return None


def _available(tracks: _TrackList) -> str:
    try:
        codes = sorted({f"{t.language_code}{' (auto)' if t.is_generated else ''}" for t in tracks})
    except Exception:
        # Only used to enrich a message; a list we cannot read must not hide the real error.
        return ""
    return f" (available: {', '.join(codes)})" if codes else ""


def _permanent(code: str, what: str) -> ErrorFactory:
    def build(exc: BaseException, youtube_id: str) -> CultoError:
        details = {"youtube_id": youtube_id, "cause": type(exc).__name__}
        return PermanentStageError(f"{what}; {_WHAT_TO_DO}", code=code, details=details)

    return build


def _transient(code: str, what: str) -> ErrorFactory:
    def build(exc: BaseException, youtube_id: str) -> CultoError:
        details = {"youtube_id": youtube_id, "cause": type(exc).__name__}
        return TransientStageError(f"{what}; will retry", code=code, details=details)

    return build


def _invalid_id(exc: BaseException, youtube_id: str) -> CultoError:
    return PermanentStageError(
        f"{youtube_id!r} is not a YouTube video id; {_WHAT_TO_DO}",
        code="invalid_youtube_id",
        details={"youtube_id": youtube_id, "cause": type(exc).__name__},
    )


@functools.cache
def youtube_errors() -> ErrorTable:
    """``youtube-transcript-api`` (and ``requests``) exception class → our error.

    Built on first use: the library is imported only when captions are fetched.
    """
    import requests
    import youtube_transcript_api as yta

    return {
        yta.TranscriptsDisabled: _permanent(
            "captions_disabled", "captions are disabled for this video"
        ),
        yta.NoTranscriptFound: _permanent(
            "no_captions", "this video has no captions in a usable language"
        ),
        yta.InvalidVideoId: _invalid_id,
        yta.VideoUnavailable: _permanent("video_unavailable", "the YouTube video is unavailable"),
        yta.AgeRestricted: _permanent(
            "video_age_restricted", "the YouTube video is age-restricted"
        ),
        yta.VideoUnplayable: _permanent("video_unplayable", "the YouTube video cannot be played"),
        yta.PoTokenRequired: _permanent(
            "captions_unavailable", "YouTube requires a PO token for captions"
        ),
        yta.CouldNotRetrieveTranscript: _permanent(
            "captions_unavailable", "could not retrieve YouTube captions"
        ),
        yta.IpBlocked: _transient(
            "youtube_rate_limited", "YouTube is rate-limiting or blocking our requests"
        ),
        yta.RequestBlocked: _transient("youtube_blocked", "YouTube is blocking our requests"),
        yta.YouTubeRequestFailed: _transient(
            "youtube_request_failed", "a request to YouTube failed"
        ),
        yta.FailedToCreateConsentCookie: _transient(
            "youtube_request_failed", "YouTube consent failed"
        ),
        yta.YouTubeDataUnparsable: _transient(
            "youtube_unparsable", "YouTube returned an unexpected page"
        ),
        requests.RequestException: _transient("youtube_network_error", "could not reach YouTube"),
    }


def _unexpected(exc: BaseException, youtube_id: str) -> CultoError:
    return TransientStageError(
        f"fetching YouTube captions failed unexpectedly ({type(exc).__name__}); will retry",
        code="youtube_error",
        details={"youtube_id": youtube_id, "cause": type(exc).__name__},
    )


def _to_transcript(fetched: _Fetched) -> Transcript:
    cues: list[Cue] = []
    for snippet in fetched:
        # Snippet text may span lines and carry entities and <font>/<i> markup.
        text = " ".join(_SOUND_TAG.sub(" ", clean_line(snippet.text)).split())
        start = max(float(snippet.start), 0.0)
        end = start + max(float(snippet.duration), 0.0)
        cues.append(Cue(start, end, [text] if text else []))
    return Transcript(
        source="youtube", language=fetched.language_code, segments=cues_to_segments(cues)
    )


def fetch_youtube_captions(
    youtube_id: str,
    *,
    api: object | None = None,
    languages: Sequence[str] = ("pt", "pt-BR", "en"),
) -> Transcript:
    """Fetch the best caption track of a YouTube video.

    Args:
        youtube_id: The 11-character video id (not a URL).
        api: A ``youtube_transcript_api.YouTubeTranscriptApi`` (or an object with the same
            ``list(video_id)`` method, for tests). A new one is made per call when omitted,
            because the library's instances are not thread-safe.
        languages: Language codes in order of preference; codes sharing a primary language
            (``pt``, ``pt-BR``) form one group in which a manual track beats a generated one.

    Returns:
        The captions with ``source="youtube"``, the track's language code, times in seconds,
        entities decoded, sound tags such as ``[Música]`` removed.

    Raises:
        PermanentStageError: ``captions_disabled``, ``no_captions``, ``empty_captions``,
            ``video_unavailable``, ``invalid_youtube_id``, ``video_age_restricted``,
            ``video_unplayable`` or ``captions_unavailable``.
        TransientStageError: ``youtube_rate_limited``, ``youtube_blocked``,
            ``youtube_request_failed``, ``youtube_unparsable``, ``youtube_network_error`` or
            ``youtube_error``.
    """
    if not _YOUTUBE_ID.match(youtube_id):
        raise PermanentStageError(
            f"{youtube_id[:40]!r} is not a YouTube video id (11 letters, digits, '-' or '_')",
            code="invalid_youtube_id",
        )
    if api is None:
        from youtube_transcript_api import YouTubeTranscriptApi

        api = YouTubeTranscriptApi()
    client = cast(_Api, api)
    with mapped_errors(youtube_errors(), youtube_id, fallback=_unexpected):
        tracks = client.list(youtube_id)
        track = _pick_track(tracks, languages)
        if track is None:
            raise PermanentStageError(
                f"this video has no captions in {', '.join(languages)}{_available(tracks)}; "
                f"{_WHAT_TO_DO}",
                code="no_captions",
                details={"youtube_id": youtube_id},
            )
        transcript = _to_transcript(track.fetch())
    if not transcript.segments:
        raise PermanentStageError(
            f"the YouTube captions are empty; {_WHAT_TO_DO}",
            code="empty_captions",
            details={"youtube_id": youtube_id},
        )
    return transcript
