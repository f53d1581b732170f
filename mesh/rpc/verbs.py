"""Every verb of the API role, declared once: service, name, request, reply, policy action.

Both sides use these objects: :class:`~mesh.rpc.server.RpcService` serves them and
:class:`~mesh.rpc.client.RpcClient` calls them, so a verb's subject, models and authorization
cannot drift apart. Adding a verb is one line here, one handler in its service and one client
method.

Verbs with ``action=None`` authenticate by other means: ``login`` by a password or a one-time
secret, ``logout`` by the session it ends, and the edge's batches (``touch``, ``cursor_ack``)
carry each caller's own credential per item, which the service resolves one by one.
"""

from __future__ import annotations

from typing import Any

from access.policy import Action
from mesh.rpc.protocol import Empty, ServiceSpec, Verb
from mesh.subjects import API_PREFIX, IDENTITY_API_PREFIX
from schemas.api import CreateRequest, VideoRef
from schemas.cursors import CursorAckCall
from schemas.identity import (
    ChannelChange,
    ChannelCreate,
    ChannelDTO,
    LoginRequest,
    MemberCall,
    MemberDTO,
    MemberRef,
    PasswordChange,
    PasswordResetCall,
    PasswordResetDone,
    PublishAccepted,
    PublishCall,
    SessionOpened,
    TokenCreate,
    TokenCreated,
    TokenDTO,
    TokenRef,
    TouchCall,
    UserCreate,
    UserCreated,
)
from schemas.videos import VideoDTO, VideoListQuery, VideoPage

VIDEOS = ServiceSpec("culto-videos", API_PREFIX, "CultoTranscript video catalog")
IDENTITY = ServiceSpec(
    "culto-identity",
    IDENTITY_API_PREFIX,
    "CultoTranscript accounts, HTTP publish ingress and cursor acks",
)

# -- the video catalog ------------------------------------------------------------------------
VIDEO_LIST = Verb(VIDEOS, "list", VideoListQuery, VideoPage, Action.READ, writes=False)
VIDEO_GET = Verb(VIDEOS, "get", VideoRef, VideoDTO, Action.READ, writes=False)
VIDEO_CREATE = Verb(VIDEOS, "create", CreateRequest, VideoDTO, Action.SUBMIT, timeout=30.0)
VIDEO_DELETE = Verb(VIDEOS, "delete", VideoRef, Empty, Action.DELETE)

# -- identity ---------------------------------------------------------------------------------
LOGIN = Verb(IDENTITY, "login", LoginRequest, SessionOpened, None)
LOGOUT = Verb(IDENTITY, "logout", Empty, Empty, None)
USER_ADD = Verb(IDENTITY, "user_add", UserCreate, UserCreated, Action.CREATE_USER)
CHANNEL_ADD = Verb(IDENTITY, "channel_add", ChannelCreate, ChannelDTO, Action.CREATE_CHANNEL)
CHANNEL_SET = Verb(IDENTITY, "channel_set", ChannelChange, ChannelDTO, Action.MANAGE_CHANNEL)
MEMBER_SET = Verb(IDENTITY, "member_set", MemberCall, MemberDTO, Action.MANAGE_MEMBERS)
MEMBER_REMOVE = Verb(IDENTITY, "member_remove", MemberRef, Empty, Action.MANAGE_MEMBERS)
TOKEN_CREATE = Verb(IDENTITY, "token_create", TokenCreate, TokenCreated, Action.MANAGE_TOKENS)
TOKEN_REVOKE = Verb(IDENTITY, "token_revoke", TokenRef, TokenDTO, Action.MANAGE_TOKENS)
TOUCH = Verb(IDENTITY, "touch", TouchCall, Empty, None)
PUBLISH = Verb(IDENTITY, "publish", PublishCall, PublishAccepted, Action.PUBLISH)
CURSOR_ACK = Verb(IDENTITY, "cursor_ack", CursorAckCall, Empty, None)
PASSWORD_CHANGE = Verb(IDENTITY, "password_change", PasswordChange, Empty, Action.CHANGE_PASSWORD)
PASSWORD_RESET = Verb(
    IDENTITY, "password_reset", PasswordResetCall, PasswordResetDone, Action.RESET_PASSWORD
)

ALL_VERBS: tuple[Verb[Any, Any], ...] = (
    VIDEO_LIST,
    VIDEO_GET,
    VIDEO_CREATE,
    VIDEO_DELETE,
    LOGIN,
    LOGOUT,
    USER_ADD,
    CHANNEL_ADD,
    CHANNEL_SET,
    MEMBER_SET,
    MEMBER_REMOVE,
    TOKEN_CREATE,
    TOKEN_REVOKE,
    TOUCH,
    PUBLISH,
    CURSOR_ACK,
    PASSWORD_CHANGE,
    PASSWORD_RESET,
)
"""The whole protocol (tests call every verb with every kind of bad credential)."""
