"""The container engine for the image test: podman and podman-compose, set up for the machine.

What it does, in order, each step timed (:attr:`Engine.figures`):

1. ``podman`` must exist and answer ``podman info``; otherwise the test skips, saying why.
2. The base image: ``CULTO_TEST_BASE`` if set (e.g. ``python:3.11.14-slim-bookworm`` where a
   registry is reachable), else ``localhost/culto-base:bookworm`` if it exists, else one made
   with ``debootstrap --variant=minbase bookworm`` plus python3, python3-venv and
   ca-certificates (about a minute; kept for the next run).
3. A configuration podman can run containers with here: the first of a few
   ``containers.conf`` variants under which a trivial container starts (machines that cannot
   raise RLIMIT_NOFILE need ``default_ulimits = []``; crun refuses a hybrid cgroup layout whose
   v2 hierarchy holds a controller, runc does not). It is passed to every podman command,
   podman-compose's included, through ``CONTAINERS_CONF``.
4. The images: the repository's Dockerfile on that base (with the host pip's CA bundle as a
   build secret and its index), and a Caddy stand-in (``proxy.Containerfile``, Debian's caddy):
   no container registry is needed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
BASE_TAG = "localhost/culto-base:bookworm"
IMAGE_TAG = "localhost/culto:test"
PROXY_TAG = "localhost/culto-proxy:test"
DEBIAN_MIRROR = "http://deb.debian.org/debian"

# Tried in order until a container runs; each is a complete containers.conf.
CONF_VARIANTS = (
    "",
    "[containers]\ndefault_ulimits = []\n",
    '[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\n',
    '[containers]\ndefault_ulimits = []\ncgroups = "disabled"\n',
)


class Unavailable(Exception):
    """Containers cannot run here; the message says why, in one line."""


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else "(no output)"


@dataclass
class Engine:
    """podman (and podman-compose) with the configuration that works on this machine."""

    workdir: Path
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    figures: dict[str, float | str] = field(default_factory=dict)

    # -- commands ------------------------------------------------------------------------

    def podman(
        self, *args: str, timeout: float = 120, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``podman ARGS``; raise with its last line of output on failure (``check``)."""
        result = subprocess.run(
            ["podman", *args], env=self.env, capture_output=True, text=True, timeout=timeout,
            check=False, input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
        )  # fmt: skip
        if check and result.returncode != 0:
            raise RuntimeError(f"podman {' '.join(args[:3])}: {_last_line(result.stderr)}")
        return result

    def compose_command(self) -> list[str]:
        """podman-compose from this interpreter's environment (the tox env)."""
        local = Path(sys.executable).parent / "podman-compose"
        found = str(local) if local.exists() else shutil.which("podman-compose")
        if found is None:
            raise Unavailable("podman-compose is not installed (run with tox -e image)")
        return [found]

    # -- setting up ----------------------------------------------------------------------

    def check_engine(self) -> None:
        if sys.platform != "linux":
            raise Unavailable(f"containers run on Linux only, this is {sys.platform}")
        if shutil.which("podman") is None:
            raise Unavailable("podman is not installed (scripts/test installs it when root)")
        info = subprocess.run(
            ["podman", "info", "--format", "json"], env=self.env, capture_output=True,
            text=True, timeout=60, check=False,
        )  # fmt: skip
        if info.returncode != 0:
            raise Unavailable(f"podman info failed: {_last_line(info.stderr)}")

    def base_image(self) -> str:
        """The base image's name, made with debootstrap if needed."""
        wanted = self.env.get("CULTO_TEST_BASE")
        if wanted:
            if self.podman("image", "exists", wanted, check=False).returncode != 0:
                self.podman("pull", wanted, timeout=600)
            return wanted
        if self.podman("image", "exists", BASE_TAG, check=False).returncode == 0:
            self.figures["base image"] = "reused"
            return BASE_TAG
        if os.geteuid() != 0 or shutil.which("debootstrap") is None:
            raise Unavailable(
                "no base image: debootstrap (as root) makes one, or set CULTO_TEST_BASE"
            )
        started = time.monotonic()
        with tempfile.TemporaryDirectory(dir=self.workdir, prefix="rootfs-") as tmp:
            rootfs = Path(tmp) / "rootfs"
            build = subprocess.run(
                ["debootstrap", "--variant=minbase",
                 "--include=python3,python3-venv,ca-certificates", "bookworm", str(rootfs),
                 DEBIAN_MIRROR],
                capture_output=True, text=True, timeout=900, check=False,
            )  # fmt: skip
            if build.returncode != 0:
                raise Unavailable(f"debootstrap failed: {_last_line(build.stdout + build.stderr)}")
            subprocess.run(["chroot", str(rootfs), "apt-get", "clean"], check=True, timeout=60)
            shutil.rmtree(rootfs / "var" / "lib" / "apt" / "lists", ignore_errors=True)
            tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
            imported = subprocess.run(
                ["podman", "import", "-", BASE_TAG], stdin=tar.stdout, env=self.env,
                capture_output=True, text=True, timeout=300, check=False,
            )  # fmt: skip
            tar.wait(60)
            if imported.returncode != 0:
                raise Unavailable(f"podman import failed: {_last_line(imported.stderr)}")
        self.figures["base image (debootstrap)"] = round(time.monotonic() - started, 1)
        return BASE_TAG

    def choose_config(self, image: str) -> None:
        """The first containers.conf under which a container runs (``CONTAINERS_CONF``)."""
        errors = []
        for n, text in enumerate(CONF_VARIANTS):
            conf = self.workdir / f"containers-{n}.conf"
            conf.write_text(text, encoding="utf-8")
            self.env["CONTAINERS_CONF"] = str(conf)
            probe = self.podman(
                "run", "--rm", "--network", "none", image, "true", check=False, timeout=60
            )
            if probe.returncode == 0:
                self.figures["containers.conf"] = text.replace("\n", " ").strip() or "default"
                return
            errors.append(_last_line(probe.stderr))
        raise Unavailable(f"no container starts here: {errors[-1]}")

    def build(self, base: str) -> None:
        """The culto image from the repository's Dockerfile, and the proxy stand-in."""
        args = ["build", "--isolation", "chroot", "--network", "host", "--format", "docker",
                "--build-arg", f"BASE={base}"]  # fmt: skip
        cert, index = host_pip_settings()
        if cert:
            args += ["--secret", f"id=pip_ca,src={cert}"]
        if index:
            args += ["--build-arg", f"PIP_INDEX_URL={index}"]
        started = time.monotonic()
        self.podman(*args, "-t", IMAGE_TAG, str(REPO), timeout=1800)
        self.figures["image build (s)"] = round(time.monotonic() - started, 1)
        size = json.loads(self.podman("image", "inspect", IMAGE_TAG).stdout)[0]["Size"]
        self.figures["image size (MB)"] = round(size / 1e6)
        started = time.monotonic()
        self.podman(*args, "-f", str(HERE / "proxy.Containerfile"), "-t", PROXY_TAG, str(HERE),
                    timeout=900)  # fmt: skip
        self.figures["proxy image build (s)"] = round(time.monotonic() - started, 1)


def host_pip_settings() -> tuple[str | None, str | None]:
    """The CA bundle and index URL this machine's pip uses (environment, then pip's
    configuration); a local ``file:`` index is useless inside a build and left out."""
    values: dict[str, str] = {}
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    for line in listed.stdout.splitlines():
        key, _, value = line.partition("=")
        values[key.split(".", 1)[-1]] = value.strip().strip("'\"")
    cert = os.environ.get("PIP_CERT") or values.get("cert")
    if not cert:
        system = Path("/etc/ssl/certs/ca-certificates.crt")
        cert = str(system) if system.exists() else None
    index = os.environ.get("PIP_INDEX_URL") or values.get("index-url")
    if index and index.startswith("file:"):
        index = None
    return cert, index
