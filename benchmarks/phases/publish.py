"""Who the benchmark streams as, and what it publishes: identities and the publisher."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any

GROUPS = 10
"""Private channels (each with one member) of the auth and follow phases."""
PLACEHOLDER = "t=0000000000.000000"


@dataclass
class Identities:
    """The admin's token, and one member token per private channel (the auth phase)."""

    admin: str
    channels: list[str]
    members: list[str]
    viewers: list[str]
    """Tokens of distinct users for the reconnect storm: resuming viewers are many people,
    and the hub runs at most a few replays of one user at once (``REPLAYS_PER_CLIENT``)."""


async def identities(url: str) -> Identities:
    """Provision, then create users, channels and tokens (before any frontend starts)."""
    from mesh.connection import MeshConnection
    from mesh.identity.store import IdentityStore
    from mesh.provision import StreamPolicy, provision
    from schemas.identity import ChannelRole, TokenScope, Visibility
    from services.identity.accounts import Accounts

    async with MeshConnection(url, name="bench-setup") as mesh:
        await provision(mesh, StreamPolicy())
        accounts = Accounts(IdentityStore(mesh))

        async def token(email: str, admin: bool = False) -> tuple[str, str]:
            user = (await accounts.add_user(email, "bench password", admin=admin)).user
            made = await accounts.create_token(user.id, scope=TokenScope.READ)
            return user.id, made.token

        _, admin = await token("admin@bench.example", admin=True)
        channels, members = [], []
        for group in range(GROUPS):
            channel = await accounts.add_channel(f"bench {group}", Visibility.PRIVATE)
            user_id, member = await token(f"member{group}@bench.example")
            await accounts.grant(channel.id, user_id, ChannelRole.VIEWER)
            channels.append(channel.id)
            members.append(member)
        return Identities(admin, channels, members, await _viewers(accounts))


STORM_USERS = 200


async def _viewers(accounts: Any) -> list[str]:
    """Admin tokens of :data:`STORM_USERS` users, made without a KDF run each (one hash,
    shared: nobody signs in with these passwords)."""
    from access.credentials import hash_password
    from schemas.identity import TokenScope, UserRecord
    from services.identity.accounts import new_user_id

    shared = hash_password("bench password")
    tokens = []
    for i in range(STORM_USERS):
        user = UserRecord(
            id=new_user_id(), email=f"viewer{i}@bench.example", admin=True, password_hash=shared
        )
        await accounts.store.create_user(user)
        tokens.append((await accounts.create_token(user.id, scope=TokenScope.READ)).token)
    return tokens


class Publisher:
    """Publishes ``video.status`` events stamped with their publish time."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def __aenter__(self) -> Publisher:
        import nats

        from schemas.events import VideoStatusEventDTO

        self.nc = await nats.connect(self.url, pending_size=256 * 1024 * 1024)
        self.js = self.nc.jetstream()
        dto = VideoStatusEventDTO(
            video_id=str(uuid.uuid4()), status="PROCESSING", progress=50, message=PLACEHOLDER
        )
        raw = dto.model_dump_json()
        self.vid = dto.video_id
        self.before, self.after = raw.split(PLACEHOLDER)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.nc.close()

    def payload(self, video: str) -> bytes:
        text = self.before + f"t={time.time():.6f}" + self.after
        return text.replace(self.vid, video).encode()

    async def steady(
        self, rate: float, seconds: float, videos: list[str], channels: dict[str, str]
    ) -> tuple[int, float]:
        """Core-publish ``rate`` events/s for ``seconds`` (the stream stores them; no ack is
        awaited, so the publisher is cheap); ``(events, seconds taken)``."""
        from mesh.events import CHANNEL_HEADER
        from schemas.identity import DEFAULT_CHANNEL_ID

        total, tick = int(rate * seconds), 0.005
        per_tick = max(1, round(rate * tick))
        start, sent = time.monotonic(), 0
        while sent < total:
            for _ in range(min(per_tick, total - sent)):
                video = videos[sent % len(videos)]
                headers = {CHANNEL_HEADER: channels.get(video, DEFAULT_CHANNEL_ID)}
                subject = f"culto.events.{video}.video.status"
                await self.nc.publish(subject, self.payload(video), headers=headers)
                sent += 1
            delay = start + sent / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                await asyncio.sleep(0)  # let the client flush its buffer
        await self.nc.flush()
        return total, time.monotonic() - start

    async def acked(self, videos: list[str], per_video: int) -> dict[str, list[int]]:
        """Publish ``per_video`` events per video and wait for the acks: the seqs by video."""
        from mesh.events import CHANNEL_HEADER
        from schemas.identity import DEFAULT_CHANNEL_ID

        seqs: dict[str, list[int]] = {v: [] for v in videos}
        for _ in range(per_video):

            async def one(video: str) -> None:
                ack = await self.js.publish(
                    f"culto.events.{video}.video.status",
                    self.payload(video),
                    headers={CHANNEL_HEADER: DEFAULT_CHANNEL_ID},
                )
                seqs[video].append(ack.seq)

            await asyncio.gather(*(one(v) for v in videos))
        return seqs

    async def head(self) -> int:
        return int((await self.js.stream_info("CULTO_EVENTS")).state.last_seq)

    async def consumers(self) -> int:
        return int((await self.js.stream_info("CULTO_EVENTS")).state.consumer_count)
