"""Example request bodies of the OpenAPI document, and the tags that group its operations.

Swagger UI fills "Try it out" with the first example of a body; without one it builds a body of
every property set to ``null``, which the API refuses (422). Each example here is a body the
API accepts (a test validates every one against its model, and submits the video ones to a real
edge).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_VIDEO = "3f2b8c1e-5d4a-4c7b-9e1f-0a2b3c4d5e6f"
_SERMON = (
    "Irmãos, abram em João 3:16. Porque Deus amou o mundo de tal maneira que deu o seu Filho. "
    "Como disse Agostinho, nosso coração é inquieto até que repouse em ti."
)

EXAMPLES: Mapping[str, Mapping[str, tuple[str, Any]]] = {
    "VideoCreate": {
        "transcript": (
            "A pasted transcript (processed offline)",
            {
                "title": "Culto de domingo — Pr. João Silva",
                "channel_id": "default",
                "transcript": {"format": "txt", "content": _SERMON},
            },
        ),
        "youtube": (
            "A YouTube video (captions, else its audio)",
            {"url": "https://www.youtube.com/watch?v=M7lc1UVf-VE", "channel_id": "default"},
        ),
        "external": (
            "Processed by your own worker, which reports through POST /api/v2/events/publish",
            {
                "title": "Culto de quarta",
                "channel_id": "default",
                "processing": "external",
                "transcript": {"format": "txt", "content": _SERMON},
            },
        ),
    },
    "LoginRequest": {
        "password": (
            "Email and password",
            {"email": "admin@localhost", "password": "correct horse battery"},
        ),
        "once": (
            "The secret of a one-time link (/login#once=…)",
            {"once": "kP3v9QyZr2Lm8XwT5nB7cD1fG4hJ6sA0eU9iO2qW"},
        ),
    },
    "PasswordChange": {
        "change": (
            "Change one's password",
            {"current_password": "correct horse battery", "new_password": "a longer passphrase"},
        ),
        "after_link": (
            "Set one after signing in with a one-time link (within its hour)",
            {"new_password": "a longer passphrase"},
        ),
    },
    "ChannelCreate": {
        "public": ("A public channel", {"name": "Igreja Central", "visibility": "public"}),
        "private": ("A private channel", {"name": "Conselho", "visibility": "private"}),
    },
    "ChannelPatch": {
        "rename": ("Rename", {"name": "Igreja Central — Culto jovem"}),
        "visibility": ("Make it private", {"visibility": "private"}),
    },
    "MemberPut": {"editor": ("Make the user an editor", {"role": "editor"})},
    "MemberAdd": {
        "editor": ("Add a user by email", {"email": "pastor@example.org", "role": "editor"})
    },
    "TokenCreate": {
        "read": ("A read token", {"name": "church website", "scope": "read"}),
        "publish": (
            "An external worker's token, one channel, 30 days",
            {
                "name": "transcription worker",
                "scope": "publish",
                "channel_id": "default",
                "expires_in_days": 30,
            },
        ),
    },
    "UserCreate": {
        "generated": ("A password is generated, shown once", {"email": "pastor@example.org"}),
        "admin": (
            "An admin with a chosen password",
            {"email": "media@example.org", "password": "correct horse battery", "admin": True},
        ),
    },
    "PasswordReset": {
        "generated": ("Generate one (shown once)", {}),
        "chosen": ("Set this one", {"password": "a temporary passphrase"}),
    },
    "CursorAck": {"ack": ("Acknowledge up to 1042", {"cursor": "inbox", "seq": 1042})},
    "PublishableEvent": {
        "progress": (
            "Progress",
            {
                "type": "video.status",
                "video_id": _VIDEO,
                "status": "PROCESSING",
                "progress": 40,
                "message": "Transcribing: 40 %",
            },
        ),
        "summary": (
            "The summary (the video becomes PROCESSED)",
            {
                "type": "summary.ready",
                "video_id": _VIDEO,
                "summary": {
                    "language": "pt",
                    "word_count": 2450,
                    "speaker": "Pr. João Silva",
                    "themes": ["Graça", "Fé"],
                    "passages": [
                        {
                            "reference": "João 3:16",
                            "book_id": "JHN",
                            "chapter": 3,
                            "verse_start": 16,
                            "verse_end": 16,
                            "mentions": 1,
                            "timestamps": [62.5],
                        }
                    ],
                    "key_points": ["Deus amou o mundo primeiro."],
                },
            },
        ),
        "failure": (
            "A failure (the video becomes FAILED)",
            {
                "type": "error",
                "video_id": _VIDEO,
                "code": "transcription_failed",
                "message": "The audio could not be decoded.",
            },
        ),
    },
}
"""Schema (component) name → example name → ``(summary, body)``."""

TAGS: tuple[tuple[str, str], ...] = (
    ("videos", "Submit, list, read and delete sermons"),
    ("events", "Live progress: Server-Sent Events, WebSocket, cursors, the publish ingress"),
    ("auth", "Sign in and out, the caller, passwords, the XSRF token"),
    ("channels", "Channels, their visibility and members"),
    ("tokens", "API tokens for programs"),
    ("users", "Accounts (admins)"),
    ("ops", "Health, readiness, metrics"),
    ("docs", "The page, this explorer and the generated documents"),
)
"""The groups of the API explorer, in the order it shows them."""

_TAG_OF_PREFIX: tuple[tuple[str, str], ...] = (
    ("/api/v2/events/health", "ops"),
    ("/api/v2/events/", "events"),
    ("/api/v2/videos/", "videos"),
    ("/api/v2/auth/", "auth"),
    ("/api/v2/csrf", "auth"),
    ("/login", "auth"),
    ("/api/v2/channels", "channels"),
    ("/api/v2/tokens", "tokens"),
    ("/api/v2/users", "users"),
    ("/health", "ops"),
    ("/ready", "ops"),
    ("/metrics", "ops"),
)

HIDDEN_ROUTES = frozenset({"/static/{path}", "/docs/assets/{path}", "/favicon.ico", "/favicon.svg"})
"""Routes the application serves but the document leaves out: files, not an API."""


def tag_of(path: str) -> str:
    """The group of ``path``'s operations (``docs`` for the page and documents)."""
    for prefix, tag in _TAG_OF_PREFIX:
        if path.startswith(prefix):
            return tag
    return "docs"


def decorate(paths: dict[str, Any]) -> dict[str, Any]:
    """Tag every operation, give request bodies their examples, drop :data:`HIDDEN_ROUTES`."""
    kept = {path: item for path, item in paths.items() if path not in HIDDEN_ROUTES}
    for path, item in kept.items():
        for method, op in item.items():
            if method == "parameters":
                continue
            op["tags"] = [tag_of(path)]
            _add_examples(op)
    return kept


def _add_examples(op: dict[str, Any]) -> None:
    for media in op.get("requestBody", {}).get("content", {}).values():
        ref = media.get("schema", {}).get("$ref", "")
        found = EXAMPLES.get(ref.rsplit("/", 1)[-1])
        if found:
            media["examples"] = {
                name: {"summary": summary, "value": value}
                for name, (summary, value) in found.items()
            }
