"""What one failover run observed, for the test's assertions and the benchmark's output."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from mesh.subjects import EVENTS_STREAM
from tests.topology.streams import Frame, StreamClient


@dataclass
class FailoverReport:
    """What happened, for assertions and for the benchmark's output."""

    videos: list[str]
    statuses: dict[str, str]
    listed: dict[str, str]
    """Status of every video the API lists (catches duplicates created by retried POSTs)."""
    clients: list[StreamClient]
    truth: dict[str, list[Frame]]
    """Client name -> every stored event matching its filter, ascending."""
    events_total: int
    killed_node: str
    new_leader: str
    leader_election_s: float
    all_leaders_s: float
    """Until every R3 stream (events, jobs, KV, object store) had a leader again."""
    first_publish_after_kill_s: float
    frontend_resume_s: float
    list_lag_s: float
    """From the last video's completion until the (catalog-served) list showed it."""
    killed_frontend: int
    frontend_clients_moved: int
    duration_s: float
    logs: dict[str, str] = field(default_factory=dict)

    def mismatches(self) -> list[str]:
        """Every client whose frames differ from the truth for its filter, described."""
        problems: list[str] = []
        for client in self.clients:
            want, got = self.truth[client.name], client.frames
            if got == want:
                continue
            ids = [f[0] for f in got]
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            missing = sorted({f[0] for f in want} - set(ids))
            extra = sorted(set(ids) - {f[0] for f in want})
            unordered = any(a >= b for a, b in itertools.pairwise(ids))
            first_diff = next(
                (i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b),
                min(len(got), len(want)),
            )
            problems.append(
                f"{client.name}: got {len(got)} want {len(want)}; duplicates {dupes[:10]}, "
                f"missing {missing[:10]}, unexpected {extra[:10]}, out of order {unordered}, "
                f"first difference at index {first_diff}"
            )
        return problems

    def summary(self) -> str:
        """One paragraph for people."""
        frames = sum(len(c.frames) for c in self.clients)
        return (
            f"topology failover: {len(self.videos)} videos, {self.events_total} events stored, "
            f"{len(self.clients)} SSE clients received {frames} frames; "
            f"killed {EVENTS_STREAM} leader {self.killed_node}: new leader {self.new_leader} "
            f"after {self.leader_election_s:.2f}s, every stream led again after "
            f"{self.all_leaders_s:.2f}s, first event stored "
            f"{self.first_publish_after_kill_s:.2f}s after the kill; killed frontend "
            f"{self.killed_frontend}: its {self.frontend_clients_moved} clients resumed on "
            f"frontend {1 - self.killed_frontend} within "
            f"{self.frontend_resume_s:.2f}s; the video list agreed {self.list_lag_s:.2f}s "
            f"after the last video finished; total {self.duration_s:.1f}s"
        )
