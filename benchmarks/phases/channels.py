"""Culto-only phases: the cost of authorization, and of following channels."""

from __future__ import annotations

import statistics
import uuid

from sse_clients import Spec
from sse_report import Figures

from phases.publish import GROUPS, Publisher
from phases.target import Target


async def auth(target: Target) -> Figures:
    """CPU per delivery: admin streams naming videos, then members' unfiltered streams."""
    ids, args = target.ids, target.args
    out: dict[str, list[float]] = {"admin_named": [], "members_unfiltered": []}
    for _ in range(2):
        for kind in out:
            videos = [str(uuid.uuid4()) for _ in range(args.videos)]
            groups = [videos[g::GROUPS] for g in range(GROUPS)]
            channels = {v: ids.channels[g] for g in range(GROUPS) for v in groups[g]}
            async with Publisher(target.url) as pub:
                head = await pub.head()
            if kind == "admin_named":
                specs = [Spec(f"videos={','.join(groups[i % GROUPS])}", ids.admin, head)
                         for i in range(args.clients)]  # fmt: skip
            else:
                specs = [Spec("", ids.members[i % GROUPS], head) for i in range(args.clients)]
            r = await target.round(100.0, specs, channels)
            out[kind].append(r["cpu_us_per_delivery"])
    plain, authorised = (statistics.fmean(v) for v in out.values())
    print(f"  auth: {plain:.2f} µs without, {authorised:.2f} µs with (x{authorised / plain:.3f})")
    return {"admin_named_us": plain, "members_unfiltered_us": authorised}


FOLLOW_VIDEOS = 100
"""Videos per channel in the follow phase (10 channels: 1,000 videos)."""


async def follow(target: Target) -> Figures:
    """CPU per delivery: ``--clients`` streams following one of 10 channels of
    :data:`FOLLOW_VIDEOS` videos each (``?channel_id=``, members of private channels) against
    as many streams naming the same 100 videos (``?videos=``, the admin: no look-ups). Each
    event reaches clients ÷ 10 streams either way; rounds alternate, twice each."""
    ids, args = target.ids, target.args
    out: dict[str, list[float]] = {"videos_named": [], "channel_followed": []}
    lost: dict[str, int] = {kind: 0 for kind in out}
    fanout = args.clients // GROUPS
    for _ in range(2):
        for kind in out:
            groups = [[str(uuid.uuid4()) for _ in range(FOLLOW_VIDEOS)] for _ in range(GROUPS)]
            channels = {v: ids.channels[g] for g in range(GROUPS) for v in groups[g]}
            async with Publisher(target.url) as pub:
                head = await pub.head()
            if kind == "videos_named":
                specs = [Spec(f"videos={','.join(groups[i % GROUPS])}", ids.admin, head)
                         for i in range(args.clients)]  # fmt: skip
            else:
                specs = [Spec(f"channel_id={ids.channels[i % GROUPS]}", ids.members[i % GROUPS],
                              head) for i in range(args.clients)]  # fmt: skip
            r = await target.round(args.follow_rate, specs, channels, fanout)
            out[kind].append(r["cpu_us_per_delivery"])
            lost[kind] += r["lost"]
    named, followed = (statistics.fmean(v) for v in out.values())
    print(
        f"  follow: {followed:.2f} µs per delivery following channels, {named:.2f} µs naming"
        f" videos (channels ÷ videos x{followed / named:.3f}); lost {lost['channel_followed']}"
        f" / {lost['videos_named']}",
        flush=True,
    )
    return {"videos_named_us": named, "channel_followed_us": followed,
            "ratio": followed / named, "rate": args.follow_rate, "fanout": fanout,
            "lost_followed": lost["channel_followed"], "lost_named": lost["videos_named"],
            "rounds": out}  # fmt: skip
