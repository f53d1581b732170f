"""The ``culto`` command line (README, "Command line").

Every command reads its settings from the environment once; invalid configuration ends the
command at start-up with one line naming the variable and exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from culto import __version__
from culto.errors import CultoError
from culto_app import admin_cli, backup_cli
from culto_app.settings import Settings

EXIT_USAGE = 2
FORMATS = {".txt": "txt", ".vtt": "vtt", ".srt": "srt"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="culto", description="CultoTranscript: sermons transcribed and analysed live."
    )
    parser.add_argument("--version", action="version", version=f"culto {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    up = sub.add_parser("up", help="run the whole system locally (embedded NATS unless NATS_URL)")
    up.add_argument("--port", type=int, help="frontend port (default: PORT or 8000)")
    up.add_argument("--workers", type=int, default=1, help="worker count (default 1)")
    sub.add_parser("frontend", help="run the Tornado HTTP edge (NATS_URL required)")
    sub.add_parser("api", help="run the video API service (NATS_URL required)")
    worker = sub.add_parser("worker", help="run a transcription worker (NATS_URL required)")
    worker.add_argument("--concurrency", type=int, default=1, help="jobs at once (default 1)")
    sub.add_parser("provision", help="create/update streams, KV buckets and object stores")
    sub.add_parser(
        "selfcheck",
        help="start every role against a throwaway nats-server and check what it serves",
    )
    analyze = sub.add_parser("analyze", help="analyse a transcript file and print a SummaryDTO")
    analyze.add_argument("path", type=Path, help="a .txt, .vtt or .srt transcript")
    analyze.add_argument("--lang", choices=("pt", "en"), help="language (default: detect)")
    tail = sub.add_parser(
        "tail", help="print live events (NATS_URL, or the running 'culto up' in CULTO_DATA_DIR)"
    )
    tail.add_argument("--video", action="append", default=[], metavar="ID", help="repeatable")
    tail.add_argument("--since", type=int, metavar="SEQ", help="replay from this sequence first")
    shape = tail.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="one JSON object per event")
    shape.add_argument("--raw", action="store_true", help="seq, video, type, JSON; tab-separated")
    admin_cli.add_parsers(sub)
    backup_cli.add_parsers(sub)
    return parser


def _fail(message: str) -> int:
    print(f"culto: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def analyze_file(path: Path, language: str | None, settings: Settings) -> str:
    """Parse and analyse one transcript file; returns the ``SummaryDTO`` JSON.

    Raises:
        CultoError: unreadable, unsupported, empty, oversized or malformed input.
    """
    from culto.errors import InvalidInput
    from services.analysis import analyze
    from services.transcripts import parse_transcript
    from services.transcripts.decode import check_size

    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InvalidInput(f"{path}: unsupported file type; use .txt, .vtt or .srt")
    try:
        check_size(path.stat().st_size, settings.max_transcript_bytes)  # before reading it all
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read file ({exc.strerror})") from None
    transcript = parse_transcript(data, fmt, max_bytes=settings.max_transcript_bytes)  # type: ignore[arg-type]
    summary = analyze(transcript, language=language)  # type: ignore[arg-type]
    return summary.model_dump_json(indent=2)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``culto`` console script."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from culto_app import roles, tail

    try:
        if args.command == "up":
            env = dict(os.environ)
            if args.port is not None:
                env["PORT"] = str(args.port)
            if args.workers < 1:
                return _fail("--workers must be at least 1")
            settings = Settings.from_env(env, environment="dev")
            return asyncio.run(roles.run_up(settings, workers=args.workers))
        if args.command == "analyze":
            settings = Settings.from_env(environment="dev")
            print(analyze_file(args.path, args.lang, settings))
            return 0
        settings = Settings.from_env()
        if args.command == "frontend":
            return asyncio.run(roles.run_frontend(settings))
        if args.command == "api":
            return asyncio.run(roles.run_api(settings))
        if args.command == "worker":
            return asyncio.run(roles.run_worker(settings, workers=max(args.concurrency, 1)))
        if args.command == "provision":
            return asyncio.run(roles.run_provision(settings))
        if args.command == "backup":
            return asyncio.run(backup_cli.backup_command(settings, args.dir, keep=args.keep))
        if args.command == "restore":
            return asyncio.run(backup_cli.restore_command(settings, args.dir, force=args.force))
        if args.command == "selfcheck":
            from culto_app.selfcheck import run_selfcheck

            return asyncio.run(run_selfcheck(settings))
        if args.command in admin_cli.COMMANDS:
            return _admin(settings, args)
        if args.command == "tail":
            fmt: tail.Format = "json" if args.json else "raw" if args.raw else "text"
            try:
                return asyncio.run(
                    tail.run_tail(settings, videos=args.video, since=args.since, fmt=fmt)
                )
            except KeyboardInterrupt:  # Ctrl-C before the signal handlers were installed
                return 0
    except CultoError as exc:
        return _fail(exc.message)
    except KeyboardInterrupt:
        return 130
    return _fail(f"unknown command {args.command!r}")


def _admin(settings: Settings, args: argparse.Namespace) -> int:
    """``culto user|channel|token``: arguments (and a password on stdin) first, then NATS."""
    admin_cli.check(args)
    if (args.command, args.action) in (("user", "add"), ("user", "passwd")):
        args.password = admin_cli.read_password(sys.stdin)
    return asyncio.run(admin_cli.run_admin(settings, args, sys.stdout))


if __name__ == "__main__":
    sys.exit(main())
