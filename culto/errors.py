"""The one exception tree of CultoTranscript, and the one way foreign errors enter it.

Every error the product raises on purpose derives from :class:`CultoError`. Each class carries a
stable machine ``code`` that ends up in JSON errors (``{"error": {"code", "message"}}``) and in
``error`` events. Foreign exceptions (nats-py, yt-dlp, youtube-transcript-api, faster-whisper)
are translated where the foreign library is called, by an :data:`ErrorTable` searched along the
exception's MRO inside :func:`mapped_errors` (the httpx ``map_exceptions`` idiom); HTTP statuses
are chosen from this tree by the same MRO search (``ops.http``).

::

    CultoError
    ├── ConfigError              bad environment / settings (fails at start-up)
    ├── InvalidInput             a request or file the caller must fix
    │   ├── PayloadTooLarge      over a size limit (a request, a transcript)
    │   └── TranscriptError      unreadable / empty / malformed transcript
    │       └── TranscriptTooLarge  over CULTO_MAX_TRANSCRIPT_BYTES
    ├── AccessError              the caller may not do this
    │   ├── Unauthenticated      no (valid) credentials where they are needed
    │   └── Forbidden            readable, but the caller's role or scope does not allow it
    ├── QuotaExceeded            a per-client quota or rate is used up (cursors, messages)
    ├── NotFound                 unknown video (or other record), or one the caller may not read
    │   └── HistoryTrimmed       events a replay still had to send were removed meanwhile
    ├── Conflict                 already exists, or a compare-and-set lost too often
    ├── JobCancelled             a stale job: its video was deleted, re-queued or settled
    ├── MeshError                NATS / JetStream trouble
    │   ├── MeshUnavailable      not connected, no responders, stream missing
    │   ├── StorageFull          JetStream's disk is full (writes fail until space is freed)
    │   └── MeshTimeout          a request timed out
    └── PipelineError            a processing stage failed
        ├── TransientStageError  worth retrying (network, busy resource)
        └── PermanentStageError  retrying cannot help
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar, TypeVar

T = TypeVar("T")
E = TypeVar("E", bound=BaseException)


class CultoError(Exception):
    """Root of every error CultoTranscript raises on purpose.

    Args:
        message: One human sentence that says what went wrong and, where possible, what to do.
        code: Overrides the class's stable machine code.
        details: Optional structured context (never secrets).
    """

    code: ClassVar[str] = "internal_error"

    def __init__(
        self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        if code is not None:
            # An instance-level code refines the class default (e.g. "youtube_unavailable").
            self.code = code  # type: ignore[misc]

    @property
    def kind(self) -> str:
        """The class's own code, even when the instance refines ``code``."""
        return type(self).code

    def to_dict(self) -> dict[str, Any]:
        """The ``{"code", "message"}`` body used in JSON errors and ``error`` events."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class ConfigError(CultoError):
    """A setting is missing or invalid; the message names the variable."""

    code = "config_error"


class InvalidInput(CultoError):
    """The caller sent something that cannot be accepted as it is."""

    code = "invalid_input"


class PayloadTooLarge(InvalidInput):
    """A request is over a size limit; retrying the same request cannot help."""

    code = "payload_too_large"


class TranscriptError(InvalidInput):
    """A transcript is empty, binary, not UTF-8, too large or malformed."""

    code = "invalid_transcript"


class TranscriptTooLarge(TranscriptError):
    """A transcript is over ``CULTO_MAX_TRANSCRIPT_BYTES``."""

    code = "transcript_too_large"


class AccessError(CultoError):
    """The caller may not do this (see ``access.policy``)."""

    code = "access_denied"


class Unauthenticated(AccessError):
    """Credentials are missing, malformed, expired or revoked where they are needed."""

    code = "unauthenticated"


class Forbidden(AccessError):
    """The caller may read the resource but its role or token scope does not allow the action."""

    code = "forbidden"


class QuotaExceeded(CultoError):
    """The caller used up a quota (cursors per user) or a rate (messages per second)."""

    code = "quota_exceeded"


class NotFound(CultoError):
    """The named record does not exist."""

    code = "not_found"


class HistoryTrimmed(NotFound):
    """A replay reached events that retention (or a purge) removed while it ran: what it would
    send next is not what follows the last event it sent.

    Attributes:
        first_available: The oldest sequence the stream still holds.
    """

    code = "history_trimmed"

    def __init__(self, first_available: int) -> None:
        super().__init__(f"the events after the resume point are gone (oldest: {first_available})")
        self.first_available = first_available


class Conflict(CultoError):
    """The record exists already, or a concurrent update won."""

    code = "conflict"


class JobCancelled(CultoError):
    """The job is stale: its video was deleted, re-queued or already settled; drop it quietly."""

    code = "job_cancelled"


class MeshError(CultoError):
    """NATS or JetStream failed in a way the caller cannot fix by changing its input."""

    code = "mesh_error"


class MeshUnavailable(MeshError):
    """NATS is not reachable, nobody answers, or a stream/bucket is missing."""

    code = "mesh_unavailable"


class StorageFull(MeshError):
    """JetStream cannot store anything: its disk (or storage limit) is full."""

    code = "storage_full"


class MeshTimeout(MeshError):
    """A request over NATS got no answer in time."""

    code = "mesh_timeout"


class PipelineError(CultoError):
    """A processing stage failed."""

    code = "pipeline_error"


class TransientStageError(PipelineError):
    """A stage failed for a reason that may pass (retry with backoff)."""

    code = "transient_error"


class PermanentStageError(PipelineError):
    """A stage failed and retrying cannot help."""

    code = "permanent_error"


ERROR_CLASSES: dict[str, type[CultoError]] = {
    cls.code: cls
    for cls in (
        CultoError,
        ConfigError,
        InvalidInput,
        PayloadTooLarge,
        TranscriptError,
        TranscriptTooLarge,
        AccessError,
        Unauthenticated,
        Forbidden,
        QuotaExceeded,
        NotFound,
        Conflict,
        JobCancelled,
        MeshError,
        MeshUnavailable,
        StorageFull,
        MeshTimeout,
        PipelineError,
        TransientStageError,
        PermanentStageError,
    )
}


def error_from_dict(body: dict[str, Any]) -> CultoError:
    """Rebuild a :class:`CultoError` from its ``to_dict`` form plus ``kind`` (NATS replies)."""
    code = str(body.get("code", "internal_error"))
    cls = ERROR_CLASSES.get(str(body.get("kind", code)), ERROR_CLASSES.get(code, CultoError))
    return cls(str(body.get("message", "")), code=code, details=body.get("details") or None)


ErrorFactory = Callable[[BaseException, str], CultoError]
"""Builds our error from a foreign one and a short context (``"reading video X"``)."""

ErrorTable = Mapping[type[BaseException], ErrorFactory]
"""Foreign exception class → factory; looked up along the raised exception's MRO."""


def lookup(table: Mapping[type[E], T], exc: BaseException) -> T | None:
    """The entry of the most specific class of ``exc`` in ``table`` (MRO order), or ``None``.

    Walking the MRO instead of testing ``isinstance`` in table order makes the table's order
    irrelevant: a subclass entry always wins over its base class, wherever it is written.
    """
    for cls in type(exc).__mro__:
        if cls in table:
            return table[cls]
    return None


@contextmanager
def mapped_errors(
    table: ErrorTable, context: str, *, fallback: ErrorFactory | None = None
) -> Iterator[None]:
    """Re-raise foreign exceptions from the block as the :class:`CultoError` ``table`` names.

    Our own errors pass through unchanged; an exception with no table entry is re-raised as is,
    unless ``fallback`` builds one (for libraries whose error classes are not worth listing).
    ``KeyboardInterrupt``, ``SystemExit`` and cancellation are never translated.
    """
    try:
        yield
    except CultoError:
        raise
    except Exception as exc:
        factory = lookup(table, exc) or fallback
        if factory is None:
            raise
        raise factory(exc, context) from exc
