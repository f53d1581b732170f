"""The identity service's management verbs added for the page's Channels and password views:
``channel_update`` (rename, visibility) and ``password`` (a user's own change, an admin's
reset, the CLI's ``user passwd``).

Kept apart from :mod:`services.identity.service` so they can move with the service's verb
table; like the other verbs they act on a call the edge has authorized with
``access.policy``.
"""

from __future__ import annotations

from pydantic import BaseModel

from schemas.identity import ChannelUpdateCall, PasswordCall
from services.api.endpoints import Handler, parse_request
from services.identity.accounts import Accounts


def management_routes(accounts: Accounts) -> dict[str, Handler]:
    """Verb → handler, merged into the identity service's routes."""

    async def channel_update(data: bytes) -> BaseModel:
        call = parse_request(ChannelUpdateCall, data)
        return await accounts.update_channel(
            call.channel_id, name=call.name, visibility=call.visibility
        )

    async def password(data: bytes) -> BaseModel:
        call = parse_request(PasswordCall, data)
        return await accounts.set_password(
            call.user_id,
            call.password,
            current=call.current_password,
            keep_session=call.keep_session,
        )

    return {"channel_update": channel_update, "password": password}
