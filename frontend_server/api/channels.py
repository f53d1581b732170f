"""REST handlers of a channel's members: list them with their emails, add one by email.

Like the other identity handlers, each asks ``access.policy`` first; the list comes from the
replica's directory (memory), a change goes to the identity service over NATS with the
caller's own credential (the service decides again).
"""

from __future__ import annotations

from pydantic import RootModel

from access.policy import Action, require
from culto.errors import NotFound
from frontend_server.api.identity import SETTLE_TIMEOUT, IdentityHandler
from schemas.identity import MemberAdd, MemberInfo


class MemberList(RootModel[list[MemberInfo]]):
    """``GET /api/v2/channels/{id}/members``: the members, owners first, then by email."""


_RANK_ORDER = {"owner": 0, "editor": 1, "viewer": 2}


class MembersHandler(IdentityHandler):
    """``GET`` (list) and ``POST`` (add by email) ``/api/v2/channels/{channel_id}/members``."""

    def get(self, channel_id: str) -> None:
        """200 ``MemberList`` (owners and admins)."""
        view = self.authenticator.channel(channel_id)
        require(self.principal, Action.LIST_MEMBERS, view, what=f"channel {channel_id}")
        directory = self.authenticator.directory
        members = [
            MemberInfo(user_id=user_id, email=user.email, role=role)
            for user_id, role in directory.members_of(channel_id).items()
            if (user := directory.users.get(user_id)) is not None
        ]
        members.sort(key=lambda m: (_RANK_ORDER[m.role.value], m.email))
        self.write_json(MemberList(members))

    async def post(self, channel_id: str) -> None:
        """Give the user with this email a role here (or change it): 200 ``MemberInfo``;
        404 when no user has that email (an admin creates accounts)."""
        view = self.authenticator.channel(channel_id)
        require(self.principal, Action.MANAGE_MEMBERS, view, what=f"channel {channel_id}")
        body = self.parse_body(MemberAdd)
        directory = self.authenticator.directory
        user = directory.user_by_email(body.email)
        if user is None:
            raise NotFound(
                f"no user with email {body.email}; an admin creates the account first",
                code="user_not_found",
            )
        member = await self.identity.set_member(
            channel_id, user.id, body.role, self.caller.credential
        )
        await directory.until(
            lambda: directory.members_of(channel_id).get(user.id) == body.role, SETTLE_TIMEOUT
        )
        self.write_json(MemberInfo(user_id=user.id, email=user.email, role=member.role))
