"""``culto backup DIR`` and ``culto restore DIR [--force]``: every stream, KV bucket and object
store of an instance, with JetStream's own snapshots (:mod:`mesh.backup`).

Which server:

- ``NATS_URL`` set: that server (a cluster), as ``NATS_USER``/``NATS_PASSWORD`` (the
  ``provision`` user on Kubernetes: it may take and restore snapshots);
- else, ``culto backup`` uses the running ``culto up`` of ``CULTO_DATA_DIR`` (a consistent
  snapshot of each stream while it serves), as its ``provision`` user;
- else the command starts the data directory's embedded nats-server itself (holding the data
  directory's lock, as ``culto up`` does) and stops it afterwards: a backup of a stopped
  instance, or a restore into a fresh ``CULTO_DATA_DIR`` that ``culto up`` then runs.
  ``culto restore`` refuses to run under a running ``culto up``: the services follow the very
  streams it replaces.

A backup directory holds one ``<stream>.snapshot`` per stream (JetStream's format, an
s2-compressed tar) and ``manifest.json`` (written last: without it the backup is incomplete)
with each file's size and SHA-256, checked before a restore starts.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import shutil
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from culto.errors import ConfigError, Conflict, InvalidInput, NotFound
from culto_app.instance import (
    URL_FILE,
    data_dir_lock,
    embedded_credentials,
    read_credentials,
    write_server_config,
)
from culto_app.settings import Settings
from mesh.backup import BACKUP_ORDER, SnapshotHeader, restore, snapshot
from mesh.connection import MeshConnection, NatsCredentials
from mesh.embedded import EmbeddedNatsServer
from mesh.errors import nats_errors
from mesh.permissions import inbox_prefix
from mesh.provision import provision
from mesh.subjects import EVENTS_STREAM, IDENTITY_BUCKET, VIDEOS_BUCKET

MANIFEST = "manifest.json"
FORMAT = "culto-backup"
VERSION = 1
SUFFIX = ".snapshot"
READ_CHUNK = 128 * 1024
PROGRESS_EVERY = 16 * 1024 * 1024
"""Bytes between progress lines of one stream (a line at start and end regardless)."""


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``backup DIR`` and ``restore DIR [--force]``."""
    backup = sub.add_parser(
        "backup", help="snapshot every stream, KV bucket and object store into DIR"
    )
    backup.add_argument(
        "dir",
        type=Path,
        metavar="DIR",
        help="a new or empty directory; strftime fields (%%Y%%m%%dT%%H%%M%%SZ) are expanded in UTC",
    )
    backup.add_argument(
        "--keep",
        type=int,
        metavar="N",
        help="afterwards delete the oldest backups next to DIR, keeping the N newest",
    )
    restore_ = sub.add_parser("restore", help="restore a backup into a fresh instance")
    restore_.add_argument("dir", type=Path, metavar="DIR", help="a directory made by culto backup")
    restore_.add_argument(
        "--force", action="store_true", help="replace an instance that already holds data"
    )


class _Say:
    """Progress lines on stderr (stdout stays empty: nothing secret or machine-read here)."""

    def __init__(self, out: TextIO) -> None:
        self._out = out

    def __call__(self, line: str) -> None:
        print(f"culto: {line}", file=self._out, flush=True)

    def meter(self, what: str) -> _Meter:
        return _Meter(self, what)


class _Meter:
    """Prints a stream's progress every :data:`PROGRESS_EVERY` bytes."""

    def __init__(self, say: _Say, what: str) -> None:
        self._say = say
        self._what = what
        self._next = PROGRESS_EVERY

    def __call__(self, moved: int) -> None:
        if moved >= self._next:
            self._say(f"  {self._what}: {_size(moved)}...")
            self._next = moved + PROGRESS_EVERY


def _size(n: int) -> str:
    return f"{n / 1024:.1f} KiB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.1f} MiB"


# -- which server -----------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def provision_connection(
    settings: Settings, say: _Say, *, restoring: bool
) -> AsyncIterator[MeshConnection]:
    """A connection with the rights of the ``provision`` user (see the module docstring).

    Raises:
        ConfigError: ``culto restore`` while ``culto up`` runs on the data directory.
        MeshUnavailable: the server does not answer.
    """
    if settings.nats_url:
        async with _connect(settings, settings.nats_url, settings.nats_credentials()) as mesh:
            yield mesh
        return
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(data_dir_lock(settings.data_dir))
        except ConfigError:
            if restoring:
                raise ConfigError(
                    f"CULTO_DATA_DIR: {settings.data_dir} is in use by a running 'culto up';"
                    " stop it first (a restore replaces the streams its services follow)"
                ) from None
            try:
                url = (settings.data_dir / URL_FILE).read_text(encoding="utf-8").strip()
            except OSError:
                raise ConfigError(
                    f"CULTO_DATA_DIR: the 'culto up' running on {settings.data_dir} has not"
                    " started its NATS server yet; try again in a moment"
                ) from None
            creds = read_credentials(settings.data_dir).get("provision")
            say(f"backing up the running 'culto up' at {url}")
            async with _connect(settings, url, creds) as mesh:
                yield mesh
            return
        async with (
            _offline_server(settings, say) as (url, creds),
            _connect(settings, url, creds) as mesh,
        ):
            yield mesh


@contextlib.asynccontextmanager
async def _offline_server(
    settings: Settings, say: _Say
) -> AsyncIterator[tuple[str, NatsCredentials]]:
    """The data directory's own embedded server, started for this command only."""
    users = embedded_credentials(settings.data_dir)
    config = write_server_config(settings.data_dir, users)
    store = settings.data_dir / "jetstream"
    say(f"no 'culto up' is running: starting the embedded nats-server on {store}")
    async with EmbeddedNatsServer(store_dir=store, port=0, config_file=config) as server:
        yield server.url, users["provision"]


@contextlib.asynccontextmanager
async def _connect(
    settings: Settings, url: str, creds: NatsCredentials | None
) -> AsyncIterator[MeshConnection]:
    mesh = MeshConnection(
        url,
        name="culto-backup",
        credentials=creds,
        tls_ca=settings.nats_ca_file,
        inbox_prefix=inbox_prefix("provision"),
    )
    async with mesh:
        yield mesh


# -- backup -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """One stream of a backup (a line of the manifest)."""

    name: str
    file: str
    bytes: int
    sha256: str
    messages: int
    first_seq: int
    last_seq: int
    config: dict[str, Any]
    state: dict[str, Any]


def _empty_target(directory: Path) -> None:
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise InvalidInput(f"DIR: {directory} exists and is not an empty directory")
    directory.mkdir(parents=True, exist_ok=True)


async def run_backup(mesh: MeshConnection, directory: Path, say: _Say) -> list[Entry]:
    """Snapshot every stream into ``directory`` (new or empty), manifest last."""
    _empty_target(directory)
    entries: list[Entry] = []
    started = time.monotonic()
    for name in BACKUP_ORDER:
        try:
            header, chunks = await snapshot(mesh.nc, name, progress=say.meter(name))
        except NotFound:
            say(f"{name}: not provisioned, skipped")
            continue
        state = header.state
        say(f"{name}: {state.get('messages', 0)} messages, {_size(int(state.get('bytes', 0)))}")
        path = directory / f"{name}{SUFFIX}"
        digest = hashlib.sha256()
        size = 0
        with path.open("wb") as out:
            async for chunk in chunks:
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        entries.append(_entry(name, path.name, size, digest.hexdigest(), header))
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "streams": [_as_dict(e) for e in entries],
    }
    tmp = directory / f"{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    tmp.replace(directory / MANIFEST)
    total = sum(e.bytes for e in entries)
    say(
        f"backup of {len(entries)} streams ({_size(total)}) in {directory}"
        f" after {time.monotonic() - started:.1f}s"
    )
    return entries


def _entry(name: str, file: str, size: int, sha: str, header: SnapshotHeader) -> Entry:
    state = header.state
    return Entry(
        name=name,
        file=file,
        bytes=size,
        sha256=sha,
        messages=int(state.get("messages", 0)),
        first_seq=int(state.get("first_seq", 0)),
        last_seq=int(state.get("last_seq", 0)),
        config=header.config,
        state=state,
    )


def _as_dict(entry: Entry) -> dict[str, Any]:
    return {field: getattr(entry, field) for field in Entry.__slots__}


# -- restore ----------------------------------------------------------------------------------


def read_manifest(directory: Path) -> list[Entry]:
    """The backup's streams, each file checked against its size and SHA-256.

    Raises:
        InvalidInput: no backup there, an incomplete one, or a damaged file.
    """
    path = directory / MANIFEST
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(
            f"DIR: {directory} holds no {MANIFEST} (not a backup, or an incomplete one)"
        ) from None
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"DIR: cannot read {path} ({type(exc).__name__})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT or raw.get("version") != VERSION:
        raise InvalidInput(f"DIR: {path} is not a culto backup manifest of version {VERSION}")
    entries = [Entry(**{f: item[f] for f in Entry.__slots__}) for item in raw["streams"]]
    for entry in entries:
        _check_file(directory, entry)
    return entries


def _check_file(directory: Path, entry: Entry) -> None:
    digest = hashlib.sha256()
    size = 0
    try:
        with (directory / entry.file).open("rb") as data:
            while block := data.read(1 << 20):
                digest.update(block)
                size += len(block)
    except OSError as exc:
        raise InvalidInput(f"DIR: cannot read {entry.file} ({exc.strerror})") from None
    if size != entry.bytes or digest.hexdigest() != entry.sha256:
        raise InvalidInput(f"DIR: {entry.file} is damaged (size or SHA-256 differs)")


async def occupied(mesh: MeshConnection) -> list[str]:
    """What an instance already holds (empty: nothing a restore would destroy)."""
    found: list[str] = []
    with nats_errors("inspecting the instance"):
        names = {str(info.config.name) for info in await mesh.jsm.streams_info()}
        for stream, what in ((EVENTS_STREAM, "events"), (f"KV_{VIDEOS_BUCKET}", "video records")):
            if stream in names:
                count = int((await mesh.jsm.stream_info(stream)).state.messages or 0)
                if count:
                    found.append(f"{count} {what}")
        identity = f"KV_{IDENTITY_BUCKET}"
        if identity in names:
            info = await mesh.jsm.stream_info(
                identity, subjects_filter=f"$KV.{IDENTITY_BUCKET}.user.*"
            )
            users = len(info.state.subjects or {})
            if users:
                found.append(f"{users} users")
    return found


async def run_restore(
    mesh: MeshConnection,
    directory: Path,
    entries: list[Entry],
    settings: Settings,
    say: _Say,
    *,
    force: bool,
) -> None:
    """Replace the instance's streams by the backup's, then provision (settings reconciled)."""
    held = await occupied(mesh)
    if held and not force:
        raise Conflict(
            f"the instance is not empty ({', '.join(held)}); restore into a fresh one"
            " (a new CULTO_DATA_DIR, or a new NATS cluster), or pass --force to replace it"
        )
    policy = settings.stream_policy()
    with nats_errors("inspecting the instance"):
        existing = {str(info.config.name) for info in await mesh.jsm.streams_info()}
    started = time.monotonic()
    for entry in entries:
        if entry.name in existing:
            with nats_errors(f"deleting {entry.name}"):
                await mesh.jsm.delete_stream(entry.name)
        # The target's replica count, not the source's: a cluster's backup restores on a laptop.
        config = {**entry.config, "num_replicas": policy.replicas}
        say(f"{entry.name}: restoring {entry.messages} messages ({_size(entry.bytes)})")
        meter = say.meter(entry.name)
        await restore(
            mesh.nc,
            entry.name,
            SnapshotHeader(config=config, state=entry.state),
            _read_chunks(directory / entry.file),
            progress=meter,
        )
    for step in await provision(mesh, policy):
        if step.action != "unchanged":
            say(f"provision: {step}")
    say(f"restored {len(entries)} streams in {time.monotonic() - started:.1f}s")


async def _read_chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as data:
        while block := data.read(READ_CHUNK):
            yield block


# -- entry points -----------------------------------------------------------------------------


async def backup_command(
    settings: Settings, directory: Path, *, keep: int | None = None, err: TextIO = sys.stderr
) -> int:
    """``culto backup DIR [--keep N]``."""
    if keep is not None and keep < 1:
        raise InvalidInput("--keep: must be at least 1")
    say = _Say(err)
    target = Path(datetime.now(UTC).strftime(str(directory)))
    async with provision_connection(settings, say, restoring=False) as mesh:
        await run_backup(mesh, target, say)
    if keep is not None:
        prune(target.parent, keep, say)
    return 0


def prune(parent: Path, keep: int, say: _Say) -> None:
    """Delete the oldest complete backups in ``parent`` (directories with a culto manifest),
    keeping the ``keep`` newest; anything else there is left alone."""
    found: list[tuple[str, Path]] = []
    for child in parent.iterdir():
        try:
            raw = json.loads((child / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(raw, dict) and raw.get("format") == FORMAT:
            found.append((str(raw.get("created_at", "")), child))
    found.sort()
    for _, old in found[: max(0, len(found) - keep)]:
        shutil.rmtree(old)
        say(f"removed the old backup {old}")


async def restore_command(
    settings: Settings, directory: Path, *, force: bool, err: TextIO = sys.stderr
) -> int:
    """``culto restore DIR [--force]``."""
    say = _Say(err)
    entries = read_manifest(directory)  # before any server starts: a bad backup changes nothing
    async with provision_connection(settings, say, restoring=True) as mesh:
        await run_restore(mesh, directory, entries, settings, say, force=force)
    return 0
