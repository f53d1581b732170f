"""The channels migration: every video belongs to a channel.

Videos stored before channels existed have no ``channel_id``; others may name a channel that
does not exist (deleted, or never created). Both kinds move to the instance's public default
channel (:data:`~schemas.identity.DEFAULT_CHANNEL_ID`), created first if missing. Each record
changes by compare-and-set (:meth:`mesh.videos.VideoStore.update`), so a worker or the API
service writing the same record at the same moment loses nothing. Running it again moves
nothing: ``culto provision`` and ``culto up`` run it at every start.
"""

from __future__ import annotations

import logging

from culto.errors import NotFound
from mesh.connection import MeshConnection
from mesh.identity.store import IdentityStore
from mesh.videos import VideoStore
from schemas.identity import DEFAULT_CHANNEL_ID
from schemas.videos import VideoRecord
from services.identity.accounts import Accounts

log = logging.getLogger(__name__)


async def migrate_channels(mesh: MeshConnection) -> int:
    """Ensure the default channel, then move every video without an existing channel into it.

    Returns:
        How many video records were moved.
    """
    identity = IdentityStore(mesh)
    await Accounts(identity).ensure_default_channel()
    videos = VideoStore(mesh)
    exists: dict[str, bool] = {DEFAULT_CHANNEL_ID: True}

    def to_default(record: VideoRecord) -> VideoRecord | None:
        # Pure (it may run again after a lost race): a channel not looked up yet was set
        # meanwhile by someone else; leave it to them (the next run checks it).
        if record.channel_id is not None and exists.get(record.channel_id, True):
            return None
        return record.model_copy(update={"channel_id": DEFAULT_CHANNEL_ID})

    moved = 0
    for item in await videos.all():
        channel_id = item.record.channel_id
        if channel_id is not None and channel_id not in exists:
            exists[channel_id] = await identity.channel(channel_id) is not None
        if channel_id is not None and exists[channel_id]:
            continue
        try:
            result = await videos.update(item.record.id, to_default)
        except NotFound:
            continue  # deleted meanwhile
        if result.changed:
            moved += 1
    if moved:
        log.info("moved %d video(s) to the default channel", moved)
    return moved
