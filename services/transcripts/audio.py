"""Download the audio track of a video with ``yt-dlp`` (its Python API), reporting progress.

Only ``http``/``https`` URLs are accepted: reading ``file://`` URLs on behalf of a user would
expose the worker's disk. A :class:`~.fetch_policy.FetchPolicy` decides where the worker may
fetch from: the URL's host must be allowed, and every connection yt-dlp makes (redirects
included) must go to a public address (:mod:`.ytdlp_net`). Live streams and playlists are
refused. yt-dlp's errors become :class:`~culto.errors.PermanentStageError` (the video is gone,
private, unsupported...) or :class:`~culto.errors.TransientStageError` (network trouble, rate
limits, server errors).

Error messages and details never quote what a remote server or yt-dlp said (a port scanned
through a redirect answers with its banner, and the message ends up in the public record):
they carry a fixed sentence and a stable code; yt-dlp's own words are logged (escaped) at
warning level on the worker.

No ffmpeg is needed: the best audio-only format is saved as-is and faster-whisper decodes it
with PyAV.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from culto.errors import CultoError, PermanentStageError, TransientStageError

from .fetch_policy import DEFAULT_FETCH_POLICY, FetchPolicy, FetchRefused
from .progress import ProgressCallback, ProgressThrottle

log = logging.getLogger(__name__)

DEFAULT_MAX_FILESIZE = 2 * 1024 * 1024 * 1024
"""Largest audio file downloaded (2 GiB, far above a few hours of audio)."""
DEFAULT_MAX_DURATION = 8 * 3600.0
"""Longest media accepted, in seconds (8 hours; a sermon or a whole service fits)."""
FORMAT = "bestaudio[protocol^=http]/best[protocol^=http]"
"""Audio first; only formats yt-dlp downloads itself over HTTP (progressive or DASH segments).
HLS and other protocols may be handed to ffmpeg or other external programs, whose connections
the fetch policy cannot check."""

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_MB = 1024 * 1024


class _YtDlpLogger:
    """Routes yt-dlp's console output to :mod:`logging` (yt-dlp prints to stderr otherwise).

    It also notices yt-dlp's "File is larger than max-filesize ... Aborting." notice: yt-dlp
    skips such a file instead of failing, and this is the only trace of why.
    """

    def __init__(self) -> None:
        self.too_large = False

    def debug(self, msg: str) -> None:
        if "larger than max-filesize" in msg:
            self.too_large = True
        log.debug("yt-dlp: %r", msg)  # escaped, like everything yt-dlp says: it may quote a server

    def info(self, msg: str) -> None:
        self.debug(msg)

    def warning(self, msg: str) -> None:
        log.warning("yt-dlp: %r", _one_line(msg))  # escaped: it may quote a remote server

    def error(self, msg: str) -> None:
        # The error also arrives as an exception, which is what the caller sees.
        log.debug("yt-dlp: %s", msg)


def _one_line(text: str, limit: int = 300) -> str:
    """For logs only: never put this in an error message (it may quote a remote server)."""
    text = _ANSI.sub("", text)
    text = " ".join(text.replace("ERROR: ", "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and everything it wraps (yt-dlp keeps causes in ``exc_info`` and ``cause``)."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        cur = todo.pop()
        if cur is None or any(cur is s for s in seen):
            continue
        seen.append(cur)
        reason = getattr(cur, "reason", None)  # urllib's URLError
        todo.append(reason if isinstance(reason, BaseException) else None)
        exc_info = getattr(cur, "exc_info", None)
        if isinstance(exc_info, tuple) and len(exc_info) == 3:
            todo.append(exc_info[1])
        cause = getattr(cur, "cause", None)
        todo.append(cause if isinstance(cause, BaseException) else None)
        todo.extend((cur.__cause__, cur.__context__))
    return seen


def _http_error(cause: Any, reason: str, details: dict[str, Any]) -> CultoError | None:
    # The error keeps the response (and its socket) alive through our exception chain.
    with contextlib.suppress(Exception):
        cause.response.close()
    status = int(cause.status)
    details["http_status"] = status
    if status in (404, 410):
        return PermanentStageError(
            f"the media was not found (HTTP {status}); check the URL",
            code="audio_not_found",
            details=details,
        )
    if status in (401, 451):
        return PermanentStageError(
            f"the media cannot be downloaded (HTTP {status}); submit a transcript inline",
            code="download_forbidden",
            details=details,
        )
    return TransientStageError(
        f"the media server answered HTTP {status}; will retry",
        code="download_http_error",
        details=details,
    )


def _refused(cause: Any, reason: str, details: dict[str, Any]) -> CultoError:
    return PermanentStageError(
        "the media link leads to an address the worker may not fetch from; submit a link to a"
        " public video page, or a transcript inline",
        code="url_not_allowed",
        details=details,
    )


def _unsupported(cause: Any, reason: str, details: dict[str, Any]) -> CultoError | None:
    return PermanentStageError(
        "no video or audio found at this URL", code="unsupported_url", details=details
    )


def _transport(cause: Any, reason: str, details: dict[str, Any]) -> CultoError | None:
    return TransientStageError(
        "network error while downloading; will retry",
        code="download_network_error",
        details=details,
    )


def _extractor(cause: Any, reason: str, details: dict[str, Any]) -> CultoError | None:
    if not cause.expected:
        return None  # yt-dlp's own bug or an unknown page: retried as "download_failed"
    # yt-dlp's "expected" errors: private, removed, geo-blocked, members-only videos...
    return PermanentStageError(
        "the video cannot be downloaded (private, removed, blocked in this region or not"
        " available at all); submit a transcript inline",
        code="video_unavailable",
        details=details,
    )


CauseFactory = Callable[[Any, str, dict[str, Any]], CultoError | None]


@functools.cache
def ytdlp_errors() -> tuple[tuple[type[BaseException], CauseFactory], ...]:
    """yt-dlp exception class → our error, in precedence order.

    yt-dlp wraps the root cause several layers deep (``DownloadError`` → ``ExtractorError`` →
    ``HTTPError``), so each entry is searched over the whole cause chain (:func:`_causes`) and
    the first entry found wins: an HTTP status says more than the extractor that saw it.
    """
    from yt_dlp.networking.exceptions import (  # type: ignore[import-untyped]
        HTTPError,
        TransportError,
    )
    from yt_dlp.utils import ExtractorError, UnsupportedError  # type: ignore[import-untyped]

    return (
        (HTTPError, _http_error),
        (UnsupportedError, _unsupported),
        (TransportError, _transport),
        (ExtractorError, _extractor),
    )


def _map_download_error(exc: BaseException, url: str) -> CultoError:
    """Classify a yt-dlp failure as permanent or transient (see :func:`ytdlp_errors`).

    The result's message and details are fixed text, a code, the submitted URL and at most an
    HTTP status: ``str(exc)`` may quote a remote server (an HTTP status line, a banner), so it
    is only logged here, escaped.
    """
    reason = _one_line(str(exc))
    details: dict[str, Any] = {"url": url[:200]}
    error = _classify(exc, reason, details)
    log.warning("download of %r failed (%s): %r", url[:200], error.code, reason)
    return error


def _classify(exc: BaseException, reason: str, details: dict[str, Any]) -> CultoError:
    chain = _causes(exc)
    if any(isinstance(cause, FetchRefused) for cause in chain):
        return _refused(None, reason, details)  # before any wording a server may have chosen
    lowered = reason.lower()
    if "not a bot" in lowered or "too many requests" in lowered or "rate-limit" in lowered:
        return TransientStageError(
            "the video site is rate-limiting or blocking downloads; will retry",
            code="download_blocked",
            details=details,
        )
    for cls, factory in ytdlp_errors():
        for cause in chain:
            if isinstance(cause, cls) and (error := factory(cause, reason, details)):
                return error
    return TransientStageError(
        "downloading the audio failed; will retry",
        code="download_failed",
        details=details,
    )


def _check_url(url: str, policy: FetchPolicy) -> None:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise PermanentStageError(
            f"unsupported URL {url[:100]!r}: expected an http(s) link to a video or audio file",
            code="unsupported_url",
            details={"url": url[:200]},
        )
    try:
        policy.check_url(url)
    except FetchRefused as exc:
        raise PermanentStageError(
            f"the worker may not fetch this URL: {exc}",
            code="url_not_allowed",
            details={"url": url[:200]},
        ) from None


def _progress_message(done: int, total: int | None) -> str:
    if total:
        return f"Downloading audio: {done / _MB:.1f} of {total / _MB:.1f} MB"
    return f"Downloading audio: {done / _MB:.1f} MB"


class _ProgressHook:
    """yt-dlp's progress hook: forwards the downloaded fraction to the caller's throttle.

    An exception raised by the caller's ``on_progress`` inside yt-dlp's hook may be wrapped or
    swallowed by yt-dlp; it is kept in :attr:`errors` so exactly that exception reaches our
    caller.
    """

    def __init__(self, report: ProgressThrottle) -> None:
        self.report = report
        self.errors: list[BaseException] = []

    def __call__(self, status: dict[str, Any]) -> None:
        if status.get("status") != "downloading":
            return
        done = int(status.get("downloaded_bytes") or 0)
        total = status.get("total_bytes") or status.get("total_bytes_estimate")
        fraction: float | None = None
        if total:
            fraction = done / float(total)
        elif status.get("fragment_count"):
            fraction = float(status.get("fragment_index") or 0) / float(status["fragment_count"])
        if fraction is None:
            return
        try:
            self.report(fraction, _progress_message(done, int(total) if total else None))
        except BaseException as exc:
            self.errors.append(exc)
            raise


def _ytdlp_options(
    dest_dir: Path, hook: _ProgressHook, logger: _YtDlpLogger, max_filesize: int
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "outtmpl": {"default": "audio.%(ext)s"},
        "paths": {"home": str(dest_dir), "temp": str(dest_dir)},
        "noplaylist": True,
        "progress_hooks": [hook],
        "logger": logger,
        "quiet": True,
        "noprogress": True,
        "cachedir": False,
        "socket_timeout": 30,
        "retries": 3,
        "fragment_retries": 3,
        "max_filesize": max_filesize,
    }


def _no_file_error(url: str, logger: _YtDlpLogger, max_filesize: int) -> CultoError:
    """Why yt-dlp finished without a file: it skips a file over ``max_filesize`` silently."""
    details = {"url": url[:200]}
    if logger.too_large:
        return PermanentStageError(
            f"the audio is larger than the limit of {max_filesize / _MB:.0f} MB",
            code="audio_too_large",
            details=details,
        )
    return TransientStageError(
        "the download finished without producing an audio file; will retry",
        code="download_failed",
        details=details,
    )


def download_audio(
    url: str,
    dest_dir: Path,
    *,
    on_progress: ProgressCallback | None = None,
    max_filesize: int = DEFAULT_MAX_FILESIZE,
    max_duration: float = DEFAULT_MAX_DURATION,
    policy: FetchPolicy = DEFAULT_FETCH_POLICY,
) -> Path:
    """Download the best audio-only format of ``url`` into ``dest_dir``.

    Args:
        url: A video page (YouTube or any site yt-dlp knows) or a direct media link.
        dest_dir: Directory for the file (created if missing). A retry with the same directory
            resumes a partial download.
        on_progress: Receives ``(downloaded/total, message)``, at most once per percent, then
            ``(1.0, "Audio downloaded")``. If it raises, the download stops and the exception
            propagates unchanged (use this to cancel).
        max_filesize: Refuse media larger than this many bytes.
        max_duration: Refuse media longer than this many seconds.
        policy: Where the media may come from: ``url``'s host must be allowed, and every
            connection (redirects, yt-dlp's own requests) must reach an allowed address.

    Returns:
        The path of the downloaded file (e.g. ``dest_dir/audio.webm``).

    Raises:
        PermanentStageError: ``unsupported_url``, ``url_not_allowed``, ``audio_not_found``,
            ``video_unavailable``, ``download_forbidden``, ``live_stream``, ``playlist_url``,
            ``audio_too_long``, ``audio_too_large``.
        TransientStageError: ``download_network_error``, ``download_http_error``,
            ``download_blocked``, ``download_failed``.
    """
    _check_url(url, policy)
    from .ytdlp_net import PolicyYoutubeDL

    dest_dir.mkdir(parents=True, exist_ok=True)
    report = ProgressThrottle(on_progress)
    hook = _ProgressHook(report)
    logger = _YtDlpLogger()
    options = _ytdlp_options(dest_dir, hook, logger, max_filesize)
    try:
        with PolicyYoutubeDL(options, policy=policy) as ydl:
            info = ydl.extract_info(url, download=False)
            _check_media(info, url, max_duration, max_filesize)
            info = ydl.process_ie_result(info, download=True)
    except CultoError:
        raise
    except BaseException as exc:
        if hook.errors:
            raise hook.errors[0] from None
        if not isinstance(exc, Exception):
            raise  # KeyboardInterrupt, SystemExit
        raise _map_download_error(exc, url) from exc
    path = _downloaded_path(info, url)
    if path is None:
        raise _no_file_error(url, logger, max_filesize)
    report.finish("Audio downloaded")
    return path


def _check_media(info: Any, url: str, max_duration: float, max_filesize: int) -> None:
    details = {"url": url[:200]}
    if not isinstance(info, dict):
        raise PermanentStageError("no media found at this URL", code="unsupported_url")
    if info.get("_type") in ("playlist", "multi_video"):
        raise PermanentStageError(
            "the URL is a playlist; submit one video at a time",
            code="playlist_url",
            details=details,
        )
    if info.get("is_live") or info.get("live_status") in ("is_live", "is_upcoming"):
        raise PermanentStageError(
            "the video is a live stream (or has not started); submit it again after it ends",
            code="live_stream",
            details=details,
        )
    formats = info.get("requested_formats") or [info]
    if any(not str(f.get("protocol") or "").startswith("http") for f in formats):
        raise PermanentStageError(
            "no audio that can be downloaded over HTTP(S) was found at this URL",
            code="unsupported_url",
            details=details,
        )
    duration = info.get("duration")
    if isinstance(duration, int | float) and duration > max_duration:
        raise PermanentStageError(
            f"the media is {duration / 3600:.1f} h long; the limit is {max_duration / 3600:.1f} h",
            code="audio_too_long",
            details=details,
        )
    size = info.get("filesize") or info.get("filesize_approx")
    if isinstance(size, int | float) and size > max_filesize:
        raise PermanentStageError(
            f"the audio is {size / _MB:.0f} MB; the limit is {max_filesize / _MB:.0f} MB",
            code="audio_too_large",
            details=details,
        )


def _downloaded_path(info: Any, url: str) -> Path | None:
    downloads = info.get("requested_downloads") if isinstance(info, dict) else None
    for item in downloads or ():
        path = item.get("filepath")
        if path and Path(path).is_file():
            return Path(path)
    return None
