"""Who may do what on NATS: one user per role, each with the least subject permissions it needs.

Written once here; ``culto up`` renders its embedded server's configuration from it
(:func:`server_config`) and the Kubernetes NATS configuration is checked against it
(``tests/k8s``). The scheme is the classic one of nats-server: *users* with a password and
``permissions`` (publish/subscribe allow lists) in the server's configuration file, all in the
default account. Accounts or nkeys/JWTs would isolate tenants or let an operator issue
credentials without touching the server's configuration; one application in one account needs
neither, and passwords from a Secret are what Kubernetes hands out easily.

Each role also gets its own reply inbox prefix (``_INBOX.<role>``): replies to its requests,
its JetStream acks and its push consumers' deliveries arrive there, and no other role may
subscribe to it, so a worker cannot read the replies the frontend receives.

How the subjects come about (nats-py 2.x against nats-server 2.10+):

- ``js.stream_info(S)`` / a KV or object-store handle: ``$JS.API.STREAM.INFO.<S>``;
- an ephemeral or ordered consumer (``LiveFeed``, KV watch/keys, object-store get):
  ``$JS.API.CONSUMER.CREATE.<S>`` or ``….<S>.<name>[.<filter>]``, then ``CONSUMER.INFO``,
  ``CONSUMER.MSG.NEXT`` (pull), ``CONSUMER.DELETE`` and flow-control replies ``$JS.FC.<S>.>``;
- KV ``get``: ``$JS.API.DIRECT.GET.KV_<b>.$KV.<b>.<key>`` (buckets allow direct get);
- event replay and the latest events (``EventReader``): batched direct get,
  ``$JS.API.DIRECT.GET.CULTO_EVENTS`` with a JSON body (ADR-31, ``mesh.direct_get``);
  ``put``/``create``/``update``/``purge``: a JetStream publish to ``$KV.<b>.<key>``;
- object store ``get_info``: ``$JS.API.STREAM.MSG.GET.OBJ_<b>``; ``put``: publishes to
  ``$O.<b>.C.<nuid>`` (chunks) and ``$O.<b>.M.<name>`` (meta), purging the old chunks
  (``$JS.API.STREAM.PURGE.OBJ_<b>``) on overwrite/delete;
- the pull consumer's acks, naks and progress pings: ``$JS.ACK.CULTO_JOBS.culto-workers.>``;
- the micro services: ``$SRV.{PING,INFO,STATS}[.<name>[.<id>]]`` (``culto-videos``,
  ``culto-identity``) and their endpoints, and they answer on the callers' reply subjects
  (``allow_responses``);
- ``IdentityStore.any_user``: ``$JS.API.STREAM.INFO.KV_culto_identity`` with a subjects filter;
  the identity directory (``mesh.directory``) watches both identity buckets (ordered consumers).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from mesh.subjects import (
    ABANDONED_JOBS_ADVISORY,
    API_PREFIX,
    ARTIFACTS_BUCKET,
    CURSORS_BUCKET,
    EVENT_SUBJECTS,
    EVENTS_STREAM,
    FENCE_SUBJECT,
    IDENTITY_API_PREFIX,
    IDENTITY_BUCKET,
    INGRESS_BUCKET,
    JOBS_PREFIX,
    JOBS_STREAM,
    SESSIONS_BUCKET,
    STAGING_BUCKET,
    VIDEOS_BUCKET,
    WORKERS_CONSUMER,
    YOUTUBE_INDEX_BUCKET,
)

Role = Literal["frontend", "api", "worker", "provision", "tail", "admin"]
ROLES: tuple[Role, ...] = ("frontend", "api", "worker", "provision", "tail", "admin")

_API = "$JS.API"
_KV_VIDEOS = f"KV_{VIDEOS_BUCKET}"
_KV_INDEX = f"KV_{YOUTUBE_INDEX_BUCKET}"
_OBJ = f"OBJ_{ARTIFACTS_BUCKET}"
_STAGING = f"OBJ_{STAGING_BUCKET}"
_KV_IDENTITY = f"KV_{IDENTITY_BUCKET}"
_KV_SESSIONS = f"KV_{SESSIONS_BUCKET}"
_KV_CURSORS = f"KV_{CURSORS_BUCKET}"
_KV_INGRESS = f"KV_{INGRESS_BUCKET}"


@dataclass(frozen=True, slots=True)
class Permissions:
    """Allow lists of one NATS user (everything else is denied)."""

    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    allow_responses: bool = False


def inbox_prefix(role: Role) -> str:
    """The reply-subject prefix of ``role``'s connections (only it may subscribe there)."""
    return f"_INBOX.{role}"


def _info(*streams: str) -> tuple[str, ...]:
    return tuple(f"{_API}.STREAM.INFO.{s}" for s in streams)


def _consumers(stream: str) -> tuple[str, ...]:
    """Ephemeral/ordered consumers on ``stream``: create, inspect, pull, delete, flow control."""
    return (
        f"{_API}.CONSUMER.CREATE.{stream}",
        f"{_API}.CONSUMER.CREATE.{stream}.>",
        f"{_API}.CONSUMER.INFO.{stream}.*",
        f"{_API}.CONSUMER.MSG.NEXT.{stream}.*",
        f"{_API}.CONSUMER.DELETE.{stream}.*",
        f"$JS.FC.{stream}.>",
    )


# Reading events: the stream's bounds (EventReader.bounds), the live feed (an ordered consumer:
# create and flow control only; nats-py neither inspects, pulls from nor deletes it), and
# history, replays and the latest event per subject, by batched direct get with a JSON body
# (mesh.direct_get: the subject has no suffix), the end of a replay confirmed by the stream
# leader on a replicated stream. No other consumer is made on CULTO_EVENTS.
_EVENTS_READ = (
    *_info(EVENTS_STREAM),
    f"{_API}.CONSUMER.CREATE.{EVENTS_STREAM}",
    f"{_API}.CONSUMER.CREATE.{EVENTS_STREAM}.>",
    f"$JS.FC.{EVENTS_STREAM}.>",
    f"{_API}.DIRECT.GET.{EVENTS_STREAM}",
    f"{_API}.STREAM.MSG.GET.{EVENTS_STREAM}",  # a replay confirmed by the leader (replicas > 1)
)
# Readiness (mesh.provision.streams_present) looks at these three.
_READINESS = _info(EVENTS_STREAM, JOBS_STREAM, _KV_VIDEOS)


def _kv_read(stream: str) -> tuple[str, ...]:
    return (
        *_info(stream),
        f"{_API}.DIRECT.GET.{stream}",
        f"{_API}.DIRECT.GET.{stream}.>",
        f"{_API}.STREAM.MSG.GET.{stream}",
    )


def _kv_write(bucket: str) -> tuple[str, ...]:
    return (f"$KV.{bucket}.>",)


def _identity_read() -> tuple[str, ...]:
    """Read and follow both identity buckets: get, stream info (``any_user``), watch."""
    return _unique(
        _kv_read(_KV_IDENTITY),
        _consumers(_KV_IDENTITY),
        _kv_read(_KV_SESSIONS),
        _consumers(_KV_SESSIONS),
    )


def _identity_write() -> tuple[str, ...]:
    """Write both identity buckets (create, CAS update, purge: JetStream publishes)."""
    # Whoever may take access away orders it among the events (mesh.fence).
    return (*_kv_write(IDENTITY_BUCKET), *_kv_write(SESSIONS_BUCKET), FENCE_SUBJECT)


def _objects(bucket: str = ARTIFACTS_BUCKET, *, purge: bool) -> tuple[str, ...]:
    """An object store: read (info, chunks by ordered consumer) and write."""
    stream = f"OBJ_{bucket}"
    return (
        *_info(stream),
        f"{_API}.STREAM.NAMES",  # ObjectStore.get subscribes by subject: which stream has it
        f"{_API}.STREAM.MSG.GET.{stream}",
        f"{_API}.DIRECT.GET.{stream}.>",
        *_consumers(stream),
        f"$O.{bucket}.>",
        *((f"{_API}.STREAM.PURGE.{stream}",) if purge else ()),
    )


def _unique(*groups: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(s for group in groups for s in group))


PERMISSIONS: Mapping[Role, Permissions] = {
    # HTTP edge: calls the API and identity services, follows and replays events, checks
    # readiness, and follows the identity buckets (read only: logins, logouts and management go
    # to the identity service; so do cursor acks, though it reads the cursors). It stages a
    # submit over 256 KiB in its own bucket, culto_staging (VideoApiClient.create), the one
    # write it needs: object names are encoded in subjects, so only a bucket of its own keeps
    # it from overwriting another video's artifacts. It cannot publish events, write records,
    # identities, sessions, cursors or jobs, or purge anything.
    "frontend": Permissions(
        publish=_unique(
            (f"{API_PREFIX}.*", f"{IDENTITY_API_PREFIX}.*"),
            _identity_read(),
            _kv_read(_KV_CURSORS),  # resuming ?cursor= (acks are written by the API role)
            _consumers(_KV_CURSORS),  # counting a user's cursors for the quota (a watch)
            _kv_read(_KV_VIDEOS),  # the channel of each video a stream names (never a write)
            _EVENTS_READ,
            _READINESS,
            # ArtifactStore.stage: a fresh name, so no purge of old chunks is ever needed.
            (*_info(_STAGING), f"{_API}.STREAM.MSG.GET.{_STAGING}", f"$O.{STAGING_BUCKET}.>"),
        ),
        subscribe=(f"{inbox_prefix('frontend')}.>",),
    ),
    # Video API service: serves culto.api.videos.* (micro service + $SRV discovery), owns records
    # (KV CAS, catalog watch), the YouTube index, queues and cancels jobs (publish, purge),
    # settles abandoned jobs (advisory, get and delete the message), publishes video.deleted
    # and job_abandoned errors, reads/deletes artifacts and takes staged requests. Its identity
    # service serves culto.api.identity.* (logins, management, the HTTP publish ingress) and
    # owns the identity buckets (read, watch, CAS writes).
    "api": Permissions(
        publish=_unique(
            _READINESS,
            _identity_read(),
            _identity_write(),
            _kv_read(_KV_CURSORS),  # the identity service's cursor_ack (forward-only CAS)
            _consumers(_KV_CURSORS),  # counting a user's cursors (the quota): a filtered watch
            _kv_write(CURSORS_BUCKET),
            _kv_read(_KV_INGRESS),  # the publish ingress's answers per Idempotency-Key
            _kv_write(INGRESS_BUCKET),
            _kv_read(_KV_VIDEOS),
            _consumers(_KV_VIDEOS),  # Catalog: KvMirror; VideoStore.all: kv_scan.scan
            _kv_write(VIDEOS_BUCKET),
            _kv_read(_KV_INDEX),
            _kv_write(YOUTUBE_INDEX_BUCKET),
            (f"{JOBS_PREFIX}.process.*",),  # JobQueue.enqueue
            (
                *_info(JOBS_STREAM),
                f"{_API}.STREAM.PURGE.{JOBS_STREAM}",  # JobQueue.cancel
                f"{_API}.STREAM.MSG.GET.{JOBS_STREAM}",  # the abandoned job's message
                f"{_API}.STREAM.MSG.DELETE.{JOBS_STREAM}",  # JobQueue.remove
            ),
            (EVENT_SUBJECTS,),  # events of videos (not the identity fence)
            (f"{_API}.STREAM.PURGE.{EVENTS_STREAM}",),  # a deleted video's events are purged
            _EVENTS_READ,  # fail_job decides from the stream what is already published
            _objects(purge=True),
            _objects(STAGING_BUCKET, purge=True),  # ArtifactStore.take_staged
        ),
        subscribe=(
            f"{API_PREFIX}.*",
            f"{IDENTITY_API_PREFIX}.*",
            "$SRV.*",
            "$SRV.*.culto-videos",
            "$SRV.*.culto-videos.*",
            "$SRV.*.culto-identity",
            "$SRV.*.culto-identity.*",
            ABANDONED_JOBS_ADVISORY,
            f"{inbox_prefix('api')}.>",
        ),
        allow_responses=True,
    ),
    # Worker: pulls jobs from the shared durable consumer (ack, nak, in-progress), reads its
    # limits and the backlog (metrics), updates records, publishes events, reads the submitted
    # transcript and stores the cleaned one. It cannot answer (or listen to) the API subjects,
    # queue jobs, or touch the YouTube index.
    "worker": Permissions(
        publish=_unique(
            _READINESS,
            (
                f"{_API}.CONSUMER.INFO.{JOBS_STREAM}.{WORKERS_CONSUMER}",
                f"{_API}.CONSUMER.MSG.NEXT.{JOBS_STREAM}.{WORKERS_CONSUMER}",
                f"$JS.ACK.{JOBS_STREAM}.{WORKERS_CONSUMER}.>",
                f"{_API}.STREAM.MSG.GET.{JOBS_STREAM}",  # JobQueue.backlog: the oldest job
            ),
            _kv_read(_KV_VIDEOS),
            _kv_write(VIDEOS_BUCKET),
            (EVENT_SUBJECTS,),  # events of videos (not the identity fence)
            _EVENTS_READ,
            _objects(purge=True),  # put_transcript overwrites on a redelivered job
        ),
        subscribe=(f"{inbox_prefix('worker')}.>",),
    ),
    # Provisioning is the JetStream administrator: streams, consumers, buckets (and operators'
    # `nats stream backup/restore`, which also acknowledge and send snapshot chunks). Its data
    # migration (services.identity.migration) creates the default channel and moves channel-less
    # video records into it: writes to both buckets, and flow control of the records' key scan.
    "provision": Permissions(
        publish=(
            f"{_API}.>",
            "$JS.SNAPSHOT.>",
            *_kv_write(IDENTITY_BUCKET),
            *_kv_write(VIDEOS_BUCKET),
            f"$JS.FC.{_KV_VIDEOS}.>",
        ),
        subscribe=("_INBOX.>",),
    ),
    # `culto tail`: read-only. Follows and replays events, reads titles from the records.
    "tail": Permissions(
        publish=_unique(_EVENTS_READ, _kv_read(_KV_VIDEOS)),
        subscribe=(f"{inbox_prefix('tail')}.>",),
    ),
    # `culto user|channel|token` (and `culto up`'s first-run bootstrap): manages accounts
    # directly in the identity buckets (read, watch, CAS writes). Nothing else: no events,
    # records, jobs or service subjects.
    "admin": Permissions(
        publish=_unique(_identity_read(), _identity_write()),
        subscribe=(f"{inbox_prefix('admin')}.>",),
    ),
}
"""Role → allow lists. Anything not listed is refused by the server."""


def _quote(value: str) -> str:
    # A `$NAME` value is an environment variable reference nats-server expands (Kubernetes);
    # anything else is a literal, JSON-quoted (the config format accepts JSON strings).
    if value.startswith("$") and value[1:].replace("_", "").isalnum():
        return value
    return json.dumps(value)


def _list(subjects: tuple[str, ...], indent: str) -> str:
    inner = "".join(f"{indent}  {json.dumps(s)}\n" for s in subjects)
    return f"[\n{inner}{indent}]"


def authorization_block(passwords: Mapping[Role, str], *, indent: str = "") -> str:
    """The ``authorization { users = [...] }`` block for these users' passwords.

    Args:
        passwords: Role → password, or ``$VARIABLE`` for one nats-server reads from its
            environment (Kubernetes Secrets).
        indent: Prefix of every line (to embed the block in YAML).
    """
    lines = [f"{indent}authorization {{", f"{indent}  users = ["]
    for role in ROLES:
        if role not in passwords:
            continue
        perms = PERMISSIONS[role]
        pad = indent + "      "
        lines.append(f"{indent}    {{")
        lines.append(f"{pad}user: {json.dumps(role)}")
        lines.append(f"{pad}password: {_quote(passwords[role])}")
        lines.append(f"{pad}permissions: {{")
        lines.append(f"{pad}  publish: {{ allow: {_list(perms.publish, pad + '  ')} }}")
        lines.append(f"{pad}  subscribe: {{ allow: {_list(perms.subscribe, pad + '  ')} }}")
        if perms.allow_responses:
            lines.append(f"{pad}  allow_responses: true")
        lines.append(f"{pad}}}")
        lines.append(f"{indent}    }}")
    lines.append(f"{indent}  ]")
    lines.append(f"{indent}}}")
    return "\n".join(lines) + "\n"


def main() -> None:
    """``python -m mesh.permissions [INDENT]``: the block for Kubernetes' ``nats.conf``, with
    each password read by nats-server from ``$<ROLE>_PASSWORD`` (Secret ``nats-users``)."""
    import sys

    indent = " " * int(sys.argv[1]) if len(sys.argv) > 1 else ""
    print(authorization_block({r: f"${r.upper()}_PASSWORD" for r in ROLES}, indent=indent), end="")


if __name__ == "__main__":
    main()
