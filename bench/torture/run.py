"""One torture run from set-up to verdict: the team, the random rounds, the final heal, the
measured heal-to-equal time and the checks, gathered in a ``Report`` whose failures say which
member, which document or record, and why; each failure that matches a known open bug of
issue 12 names it."""

from __future__ import annotations

import json
import random
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from .cluster import Cluster, Node
from .known import KNOWN_BUGS, Attribution, refusal_bug
from .ledger import Write
from .netlab import Loopback, NetnsLab
from .ops import SetupFailed, Torture
from .verify import (
    Probe,
    Settled,
    diverged_docs,
    missing_writes,
    named,
    parse_status,
    refusals_in_logs,
    refusals_in_status,
    settings_conflicts,
    wait_until,
)

RSS_LIMIT_MB = 400.0
IDLE_CPU_LIMIT = 20.0  # percent of one core, per node, once everyone is equal
@dataclass
class Failure:
    check: str  # network | setup | converge | missing | refused | settings | rss | idle
    node: str
    detail: str
    bug: str = ""  # KNOWN_BUGS keys ('a+b') when known open bugs explain this failure

    def __str__(self) -> str:
        known = f"  [known: {self.bug}]" if self.bug else ""
        return f"{self.check:9s} {self.node}: {self.detail}{known}"


@dataclass
class Report:
    seed: int
    rounds: int
    nodes: int
    mode: str
    root: str
    failures: list[Failure] = field(default_factory=list)
    heal_s: float | None = None
    notes: list[str] = field(default_factory=list)
    stats: dict[str, float] = field(default_factory=dict)
    settled: dict[str, int] = field(default_factory=dict)  # refusals excused, by doc (author)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def only_known(self) -> bool:
        return all(f.bug for f in self.failures)

    def text(self) -> str:
        heal = f"{self.heal_s:.2f} s" if self.heal_s is not None else "never (diverged)"
        lines = [f"torture seed={self.seed} rounds={self.rounds} nodes={self.nodes} "
                 f"mode={self.mode}: {'OK' if self.ok else f'{len(self.failures)} FAILURES'}",
                 f"heal to every member equal: {heal} (goal < 5 s)",
                 "stats: " + ", ".join(f"{k}={v:g}" for k, v in self.stats.items()),
                 *(f"note: {n}" for n in self.notes), *(str(f) for f in self.failures),
                 *(f"refusals settled (a demoted or removed member's change, refused while "
                   f"it arrived alone, held by every member in the end): {doc} x{n}"
                   for doc, n in self.settled.items()),
                 *(f"known bug {key}: {KNOWN_BUGS[key]}"
                   for key in sorted({k for f in self.failures for k in f.bug.split("+")} - {""})),
                 f"journal and serve logs: {self.root}"]
        return "\n".join(lines)


def run(seed: int, rounds: int, nodes: int, netns: bool, root: Path, tell: str = "one",
        converge_timeout: float = 60.0, check_every: int = 0) -> Report:
    """Build a team of ``nodes`` members, do ``rounds`` random operations, heal, check (also
    every ``check_every`` rounds, so a long run tells when a failure first appears)."""
    net = NetnsLab() if netns else Loopback()
    report = Report(seed, rounds, nodes, "netns" if netns else "loopback", str(root))
    if isinstance(net, NetnsLab):
        network_notes(net, report)
    cluster = Cluster(root, net)
    try:
        torture = Torture(cluster, random.Random(seed), seed, nodes + 2, tell)
        start = time.monotonic()
        try:
            torture.setup(nodes)
        except SetupFailed as exc:
            report.failures.append(Failure("setup", "founder", str(exc)))
            return report
        report.stats["setup_s"] = round(time.monotonic() - start, 1)
        heals: list[float] = []
        for number in range(1, rounds + 1):
            cluster.round = number
            report.stats["netem_rounds"] = report.stats.get("netem_rounds", 0) + net.netem_on
            torture.step()
            for node in cluster.nodes:
                node.rss_mb()
            if number == rounds or (check_every and number % check_every == 0):
                cluster.round = number + 1
                heal_and_check(torture, report, converge_timeout, heals)
        report.stats["run_s"] = round(time.monotonic() - start, 1)
    finally:
        cluster.close()
    return report


def network_notes(net: NetnsLab, report: Report) -> None:
    """Which emulation links the namespaces and what its self-check measured (a failure when
    that is off from what the links promise)."""
    why = f" (kernel: {net.kernel_error})" if net.emulation != "kernel netem" else ""
    report.notes.append(f"network: {net.emulation or 'bridges only'}{why}; self-check: "
                        f"{net.measured.text()}")
    if net.netem_error:
        report.notes.append(f"netem delay/loss skipped: {net.netem_error}")
    report.failures += [Failure("network", "lab", p) for p in net.measured.problems()]
    if net.measured.rtt_ms is not None:
        report.stats.update(netem_rtt_ms=round(net.measured.rtt_ms, 1),
                            netem_loss_pct=round(net.measured.loss_pct, 2))


def heal_and_check(torture: Torture, report: Report, timeout: float, heals: list[float]) -> None:
    """Heal everything, time how long until every member is equal, then check them all."""
    heal_all(torture)
    healed = time.monotonic()
    report.heal_s = converge(torture.c, healed, timeout)
    if report.heal_s is not None:
        heals.append(report.heal_s)
        report.stats.update(heals=len(heals), heal_median_s=statistics.median(heals),
                            heal_max_s=max(heals))
    if isinstance(torture.c.net, NetnsLab):
        report.stats.update({f"netem_{k}": v for k, v in torture.c.net.counts().items()})
    report.stats["complete_s"] = complete(  # no second wait when the digests differ
        torture, healed, min(timeout, 20) if report.heal_s is not None else 0)
    check(torture, report)
    (Path(report.root) / "report.txt").write_text(  # so far: a long run stopped early keeps it
        f"as of the check at round {torture.c.round - 1}:\n{report.text()}\n")


def heal_all(torture: Torture) -> None:
    """Bring every member back (same port when free) and end any partition and netem, the
    partition last: the heal time is measured from then."""
    cluster = torture.c
    for node in cluster.members():
        if not node.running and not cluster.start(node, node.port):
            cluster.start(node)
            torture.told(node)
    if isinstance(cluster.net, NetnsLab):
        cluster.net.netem(False)
        cluster.net.heal()
        torture.partitioned = []
    cluster.note("healed: every member up, no partition")


def converge(cluster: Cluster, since: float, timeout: float) -> float | None:
    """Seconds from ``since`` until every member's digest is equal, or None (timed out)."""
    probes = [Probe(n.home) for n in cluster.members()]
    try:
        done = wait_until(lambda: len({p.digest() for p in probes}) == 1, timeout, 0.1)
    finally:
        for probe in probes:
            probe.ws.close()
    return round(time.monotonic() - since, 2) if done else None


def complete(torture: Torture, since: float, timeout: float) -> float:
    """Seconds from ``since`` until every member holds every confirmed write (files arrive
    after the digests agree), or -1 when some still lack one at the deadline."""
    writes = torture.ledger.current()
    probes = [Probe(n.home) for n in torture.c.members()]
    try:
        done = wait_until(lambda: not any(missing_writes(p, writes) for p in probes), timeout,
                          0.5)
    finally:
        for probe in probes:
            probe.ws.close()
    return round(time.monotonic() - since, 2) if done else -1


def check(torture: Torture, report: Report) -> None:
    """Every check on every member; failures already reported (an earlier checkpoint) are
    not repeated."""
    before = list(report.failures)
    report.failures = []
    try:
        run_checks(torture, report)
    finally:
        report.failures = before + [f for f in report.failures if f not in before]


def run_checks(torture: Torture, report: Report) -> None:
    cluster, ledger = torture.c, torture.ledger
    members = cluster.members()
    names = {n.peer_id: str(n) for n in members}
    former = {n.peer_id: f"{n} (removed)" for n in cluster.nodes if n.removed}
    with ThreadPoolExecutor(len(members)) as pool:  # one status per member, side by side
        outs = pool.map(lambda n: cluster.cli(n, "status", "--json").stdout, members)
        statuses = {n.name: parse_status(out) for n, out in zip(members, outs, strict=True)}
    for name, data in statuses.items():  # kept beside the journal for diagnosis
        (cluster.root / f"status-{name}-round{cluster.round}.json").write_text(
            json.dumps(data, indent=1))
    digests = {str(n): statuses[n.name].get("digest", "?")[:12] for n in members}
    heads: dict[str, dict[str, str]] = {}
    missing: dict[str, tuple[Write, list[str]]] = {}  # what is missing -> who lacks it
    writes = ledger.current()
    for node in members:
        with Probe(node.home) as probe:
            heads[str(node)] = probe.heads()
            for write, line in missing_writes(probe, writes):
                missing.setdefault(line, (write, []))[1].append(str(node))
            report.failures += [Failure("settings", str(node), s)
                                for s in settings_conflicts(probe, writes)]
    settled = Settled({p[-6:]: s for p, s in ledger.standing().items()}, {n.short for n in members},
                      {d for docs in heads.values() for d in docs} - diverged_docs(heads).keys())
    refused: dict[str, list[tuple[str, str]]] = {}
    for node in members:
        found = refusals_in_status(statuses[node.name], node.short, names, former, settled)
        found += refusals_in_logs(node.logs, node.short, names, former, settled)
        refused[str(node)] = [(line, refusal_bug(line)) for line in found]
    refusals = [Failure("refused", m, line, bug) for m, lines in refused.items()
                for line, bug in lines]
    report.settled = {named(k, {**names, **former}): n for k, n in settled.excused.items()}
    why = Attribution(refused, isolated(cluster, statuses))
    if len(set(digests.values())) > 1:
        docs = diverged_docs(heads)
        report.failures.append(Failure(
            "converge", "all", f"digests differ after the heal at round {cluster.round}: "
            f"{digests}; documents: " + " | ".join(f"{d}: {line}" for d, line in docs.items()),
            why.diverged(docs, list(heads))))
    for line, (write, lacking) in missing.items():
        report.failures.append(Failure("missing", ", ".join(lacking), line,
                                       why.missing(write, ledger, lacking)))
    report.failures += refusals
    for node in cluster.nodes:
        node.rss_mb()
        if node.max_rss_mb > RSS_LIMIT_MB:
            report.failures.append(Failure("rss", str(node), f"{node.max_rss_mb:.0f} MB"))
    report.failures += idle_cpu(cluster, why)
    report.stats.update(
        confirmed_writes=len(ledger.writes), unconfirmed=len(ledger.unconfirmed),
        members=len(members), removed=sum(n.removed for n in cluster.nodes),
        restarts_new_port=sum(n.moved for n in cluster.nodes),
        max_rss_mb=round(max(n.max_rss_mb for n in cluster.nodes), 1))


def isolated(cluster: Cluster, statuses: dict[str, dict]) -> set[str]:
    """Members connected to no one at the end, in a run where someone moved to a new port."""
    if not any(n.moved for n in cluster.members()):
        return set()
    return {str(n) for n in cluster.members()
            if not any(p.get("connected") for p in statuses[n.name].get("peers", []))}


def idle_cpu(cluster: Cluster, why: Attribution, window: float = 3.0) -> list[Failure]:
    """Every running node's CPU over a quiet window after the last write (a redial or
    re-offer loop shows here), removed members' nodes included."""
    procs: dict[Node, psutil.Process] = {}
    for node in cluster.nodes:
        if node.running:
            proc = psutil.Process(node.serve.proc.pid)
            proc.cpu_percent(None)
            procs[node] = proc
    time.sleep(window)  # the measuring window itself, not a synchronisation
    out = []
    for node, proc in procs.items():
        busy = proc.cpu_percent(None)
        if busy > IDLE_CPU_LIMIT:
            what = "removed member's node" if node.removed else "node"
            out.append(Failure("idle", str(node), f"{what} used {busy:.0f}% of a core with "
                               "nothing left to write",
                               why.busy(str(node), node.removed)))
    return out
