"""Large per-video artifacts in the ``culto_artifacts`` object store.

Names are ``<video_id>/input.json`` (a transcript submitted with the request) and
``<video_id>/transcript.json`` (the cleaned transcript the pipeline analysed). A submit request
too large for one NATS message waits in its own bucket, ``culto_staging`` (an hour at most),
until the API service takes it: the frontend may write there and nowhere else. Summaries are
small and live in the video record itself.
"""

from __future__ import annotations

import contextlib
import re
import uuid

from nats.js.object_store import ObjectStore

from culto.errors import CultoError, NotFound, PayloadTooLarge
from mesh.connection import MeshConnection
from mesh.errors import nats_errors
from mesh.retry import retry_within
from mesh.subjects import ARTIFACTS_BUCKET, STAGING_BUCKET, video_token
from schemas.transcripts import Transcript
from schemas.videos import TranscriptInput

INPUT = "input.json"
TRANSCRIPT = "transcript.json"
ARTIFACT_NAMES = (INPUT, TRANSCRIPT)
_STAGED_REF = re.compile(r"[0-9a-f]{32}")


class ArtifactStore:
    """Typed access to per-video artifacts.

    Args:
        mesh: The process's connection.
    """

    def __init__(self, mesh: MeshConnection) -> None:
        self._mesh = mesh
        self._stores: dict[str, ObjectStore] = {}

    async def _bucket(self, name: str = ARTIFACTS_BUCKET) -> ObjectStore:
        store = self._stores.get(name)
        if store is None:
            with nats_errors(f"opening object store {name}"):
                store = self._stores[name] = await self._mesh.js.object_store(name)
        return store

    async def _put(self, video_id: str, name: str, data: bytes) -> None:
        store = await self._bucket()
        what = f"storing {name} of {video_id}"

        async def once() -> None:
            with nats_errors(what):
                await store.put(f"{video_token(video_id)}/{name}", data)

        await retry_within(once, what=what)  # an overwrite: safe to repeat

    async def _get(self, video_id: str, name: str) -> bytes:
        store = await self._bucket()
        with nats_errors(f"reading {name} of {video_id}"):
            result = await store.get(f"{video_token(video_id)}/{name}")
        if result.data is None:
            raise NotFound(f"{name} of video {video_id} not found")
        return result.data

    async def put_input(self, video_id: str, transcript: TranscriptInput) -> None:
        """Keep the transcript submitted with the request until the worker reads it."""
        await self._put(video_id, INPUT, transcript.model_dump_json().encode())

    async def get_input(self, video_id: str) -> TranscriptInput:
        """The submitted transcript; :class:`NotFound` if there is none."""
        return TranscriptInput.model_validate_json(await self._get(video_id, INPUT))

    async def put_transcript(self, video_id: str, transcript: Transcript) -> None:
        """Store the cleaned transcript."""
        await self._put(video_id, TRANSCRIPT, transcript.model_dump_json().encode())

    async def stage(self, data: bytes) -> str:
        """Keep a request too large for one NATS message; returns its reference.

        NATS refuses messages over ``max_payload`` (1 MiB by default), while a submit may carry
        a transcript of up to ``CULTO_MAX_TRANSCRIPT_BYTES``: such a request travels as this
        reference, and the API service takes it back with :meth:`take_staged`.
        """
        ref = uuid.uuid4().hex
        store = await self._bucket(STAGING_BUCKET)
        with nats_errors("staging a large request"):
            await store.put(ref, data)
        return ref

    async def take_staged(self, ref: str, *, max_bytes: int) -> bytes:
        """Read and delete a staged request.

        Raises:
            NotFound: no such reference (already taken, or never staged).
            PayloadTooLarge: the staged request is over ``max_bytes``.
        """
        if not _STAGED_REF.fullmatch(ref):
            raise NotFound("no such staged request")
        store = await self._bucket(STAGING_BUCKET)
        name = ref
        with nats_errors("reading a staged request"):
            info = await store.get_info(name)
        if (info.size or 0) > max_bytes:
            raise PayloadTooLarge(f"the staged request is over {max_bytes} bytes")
        with nats_errors("reading a staged request"):
            result = await store.get(name)
        with contextlib.suppress(CultoError), nats_errors("deleting a staged request"):
            await store.delete(name)
        if result.data is None:
            raise NotFound("no such staged request")
        return result.data

    async def delete_all(self, video_id: str) -> int:
        """Delete every artifact of a video; returns how many existed."""
        store = await self._bucket()
        removed = 0
        for name in ARTIFACT_NAMES:
            try:
                with nats_errors(f"deleting {name} of {video_id}"):
                    await store.delete(f"{video_token(video_id)}/{name}")
                removed += 1
            except NotFound:
                continue
        return removed
