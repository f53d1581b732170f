"""What a caller may mint: the invariants of token creation, decided in one pure function.

The identity service applies :func:`check_new_token` to every ``token_create`` (the edge may
check first, but its word is not taken). The invariants:

- **never longer-lived**: a token created through an expiring token expires no later than it
  (a lifetime under one minute is refused earlier, by the request model);
- **never wider in scope**: through a token, the new token's scope is within the parent's
  (``read`` ⊂ ``write`` ⊂ ``admin``; ``publish`` only from ``publish``... which cannot manage
  tokens, so only a browser session or an instance admin makes publish tokens);
- **never wider in channel**: a token bound to a channel makes only tokens bound to it;
- **others' tokens** are an instance admin's business (an admin user signed in, or its unbound,
  non-expiring admin token);
- the new token's channel must be one the caller may read.
"""

from __future__ import annotations

from datetime import datetime

from access.policy import Action, ChannelView, Principal, require, scope_allows
from culto.errors import Forbidden
from schemas.identity import TokenCreate, TokenScope


def owner_of_new_token(principal: Principal, body: TokenCreate) -> str:
    """Whose token ``body`` asks for: the caller's own, or (instance admins) another user's.

    Raises:
        Forbidden: another user's, asked by someone who is not an instance admin.
    """
    own = principal.user_id or ""
    if body.user_id is None or body.user_id == own:
        return own
    if not principal.instance_admin:
        raise Forbidden("manage tokens: only an instance admin may manage another user's tokens")
    return body.user_id


def check_new_token(
    principal: Principal, body: TokenCreate, channel: ChannelView | None, now: datetime
) -> None:
    """Refuse a token ``principal`` may not create (``channel``: the one ``body`` names).

    Raises:
        NotFound: the named channel is not readable by the caller.
        Forbidden: wider in scope or channel, or longer-lived, than the parent token.
    """
    if body.channel_id is not None:
        require(principal, Action.READ, channel, what=f"channel {body.channel_id}")
    bound = principal.token_channel
    if bound is not None and body.channel_id != bound:
        raise Forbidden(f"a token bound to channel {bound} may only create tokens bound to it")
    if not principal.credential.startswith("token:"):
        return
    if principal.scope is not None and not _within(body.scope, principal.scope):
        raise Forbidden(
            f"a {principal.scope.value} token may not create a {body.scope.value} token"
        )
    if principal.expires_at is not None:
        lifetime = body.lifetime()
        if lifetime is None or now + lifetime > principal.expires_at:
            raise Forbidden("a token may not create a token that outlives it")


def _within(child: TokenScope, parent: TokenScope) -> bool:
    rights = [s for s in TokenScope if scope_allows(child, s)]
    return all(scope_allows(parent, s) for s in rights)


def may_manage_token(principal: Principal, owner_id: str, channel_id: str | None) -> bool:
    """Whether ``principal`` may see or revoke a token of ``owner_id`` bound to ``channel_id``:
    its own (a bound token: only tokens bound to the same channel), or any as instance admin."""
    if principal.instance_admin:
        return True
    if owner_id != principal.user_id:
        return False
    return principal.token_channel is None or principal.token_channel == channel_id
