"""YouTube captions: track preference, snippet cleaning and error mapping (no network)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import requests
import youtube_transcript_api as yta
from youtube_transcript_api import FetchedTranscript, FetchedTranscriptSnippet, TranscriptList

from culto.errors import PermanentStageError, TransientStageError
from services.transcripts import ASR_FALLBACK_CODES, fetch_youtube_captions

VID = "dQw4w9WgXcQ"


@dataclass
class FakeTrack:
    """Stands in for ``youtube_transcript_api.Transcript`` (which needs an HTTP session)."""

    language_code: str
    is_generated: bool
    snippets: list[tuple[str, float, float]] = field(default_factory=list)
    error: Exception | None = None
    language: str = "Português"

    def fetch(self) -> FetchedTranscript:
        if self.error is not None:
            raise self.error
        return FetchedTranscript(
            snippets=[
                FetchedTranscriptSnippet(text=t, start=s, duration=d) for t, s, d in self.snippets
            ],
            video_id=VID,
            language=self.language,
            language_code=self.language_code,
            is_generated=self.is_generated,
        )


class FakeApi:
    """Has ``YouTubeTranscriptApi.list(video_id)``; returns a real TranscriptList."""

    def __init__(self, *tracks: FakeTrack, error: Exception | None = None) -> None:
        self.tracks = tracks
        self.error = error
        self.calls: list[str] = []

    def list(self, video_id: str) -> TranscriptList:
        self.calls.append(video_id)
        if self.error is not None:
            raise self.error
        manual = {t.language_code: t for t in self.tracks if not t.is_generated}
        generated = {t.language_code: t for t in self.tracks if t.is_generated}
        return TranscriptList(video_id, manual, generated, [])  # type: ignore[arg-type]


def track(code: str, generated: bool, text: str = "texto") -> FakeTrack:
    return FakeTrack(code, generated, [(f"{text} {code}{' auto' if generated else ''}", 0.0, 1.0)])


@pytest.mark.parametrize(
    ("tracks", "expected"),
    [
        ([track("en", False), track("pt", True), track("pt-BR", False)], "texto pt-BR"),
        ([track("pt-BR", True), track("pt", False)], "texto pt"),
        ([track("en", False), track("pt", True)], "texto pt auto"),
        ([track("en", True), track("pt-BR", True)], "texto pt-BR auto"),
        ([track("en", True), track("en", False), track("es", False)], "texto en"),
        ([track("en", True), track("es", False)], "texto en auto"),
    ],
)
def test_track_preference(tracks: list[FakeTrack], expected: str) -> None:
    api = FakeApi(*tracks)
    t = fetch_youtube_captions(VID, api=api)
    assert t.text == expected
    assert t.source == "youtube"
    assert api.calls == [VID]


def test_snippets_are_cleaned_and_timed() -> None:
    api = FakeApi(
        FakeTrack(
            "pt",
            True,
            [
                ("[Música]", 0.0, 4.0),
                ("boa noite igreja &amp;\nvisitantes", 4.0, 2.5),
                ("<font color='#E5E5E5'>Romanos</font> 8 [Aplausos] 28", 6.5, 3.0),
                ("  ", 9.5, 1.0),
            ],
        )
    )
    t = fetch_youtube_captions(VID, api=api)
    assert t.language == "pt"
    assert [(s.start, s.end, s.text) for s in t.segments] == [
        (4.0, 6.5, "boa noite igreja & visitantes"),
        (6.5, 9.5, "Romanos 8 28"),
    ]


def test_custom_languages() -> None:
    api = FakeApi(track("pt", False), track("es", True))
    assert fetch_youtube_captions(VID, api=api, languages=("es",)).language == "es"


def test_no_track_in_wanted_languages_lists_what_exists() -> None:
    api = FakeApi(track("es", False), track("fr", True))
    with pytest.raises(PermanentStageError) as info:
        fetch_youtube_captions(VID, api=api)
    err = info.value
    assert err.code == "no_captions" and err.code in ASR_FALLBACK_CODES
    assert "(available: es, fr (auto))" in err.message
    assert "submit the transcript inline" in err.message and "\n" not in err.message


def test_only_sound_tags_is_empty_captions() -> None:
    api = FakeApi(FakeTrack("pt", True, [("[Música]", 0.0, 10.0), ("[Aplausos]", 10.0, 2.0)]))
    with pytest.raises(PermanentStageError) as info:
        fetch_youtube_captions(VID, api=api)
    assert info.value.code == "empty_captions"


@pytest.mark.parametrize(
    "bad", ["", "short", "https://youtu.be/dQw4w9WgXcQ", "dQw4w9WgXc.", "a" * 12]
)
def test_invalid_youtube_id_never_reaches_the_api(bad: str) -> None:
    api = FakeApi()
    with pytest.raises(PermanentStageError) as info:
        fetch_youtube_captions(bad, api=api)
    assert info.value.code == "invalid_youtube_id"
    assert api.calls == []


def _no_transcript_found() -> Exception:
    return yta.NoTranscriptFound(VID, ["pt"], TranscriptList(VID, {}, {}, []))


PERMANENT = [
    (yta.TranscriptsDisabled(VID), "captions_disabled"),
    (_no_transcript_found(), "no_captions"),
    (yta.VideoUnavailable(VID), "video_unavailable"),
    (yta.InvalidVideoId(VID), "invalid_youtube_id"),
    (yta.AgeRestricted(VID), "video_age_restricted"),
    (yta.VideoUnplayable(VID, "Private video", ["sign in"]), "video_unplayable"),
    (yta.PoTokenRequired(VID), "captions_unavailable"),
    (yta.NotTranslatable(VID), "captions_unavailable"),
]
TRANSIENT = [
    (yta.IpBlocked(VID), "youtube_rate_limited"),
    (yta.RequestBlocked(VID), "youtube_blocked"),
    (
        yta.YouTubeRequestFailed(VID, requests.HTTPError("503 Server Error")),
        "youtube_request_failed",
    ),
    (yta.FailedToCreateConsentCookie(VID), "youtube_request_failed"),
    (yta.YouTubeDataUnparsable(VID), "youtube_unparsable"),
    (requests.ConnectionError("connection reset"), "youtube_network_error"),
    (requests.Timeout("read timed out"), "youtube_network_error"),
    (RuntimeError("surprise"), "youtube_error"),
]


@pytest.mark.parametrize(("exc", "code"), PERMANENT, ids=[c for _, c in PERMANENT])
@pytest.mark.parametrize("where", ["list", "fetch"])
def test_permanent_errors(exc: Exception, code: str, where: str) -> None:
    api = FakeApi(error=exc) if where == "list" else FakeApi(FakeTrack("pt", False, error=exc))
    with pytest.raises(PermanentStageError) as info:
        fetch_youtube_captions(VID, api=api)
    err = info.value
    assert err.code == code
    assert "submit the transcript inline" in err.message and "ASR" in err.message
    assert "\n" not in err.message
    assert err.details["youtube_id"] == VID
    assert err.__cause__ is exc


@pytest.mark.parametrize(("exc", "code"), TRANSIENT, ids=[c for _, c in TRANSIENT])
@pytest.mark.parametrize("where", ["list", "fetch"])
def test_transient_errors(exc: Exception, code: str, where: str) -> None:
    api = FakeApi(error=exc) if where == "list" else FakeApi(FakeTrack("pt", False, error=exc))
    with pytest.raises(TransientStageError) as info:
        fetch_youtube_captions(VID, api=api)
    assert info.value.code == code
    assert "\n" not in info.value.message
    assert info.value.__cause__ is exc


def test_fallback_codes() -> None:
    assert {"captions_disabled", "no_captions", "empty_captions"} == ASR_FALLBACK_CODES
