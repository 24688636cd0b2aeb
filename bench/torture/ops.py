"""The random operations of a torture run, each done the way a user does it: a ``bullpen``
command on one member's profile (running node or not). A command that exits 0 is a confirmed
write, entered in the ledger with what every member must hold afterwards; one that a member
refuses locally (an id it has not received yet, say) is journaled as unconfirmed.

Membership and manager-only operations follow one rule so that the run's expectations are
exact: role changes and removals are made by the founder (never removed, never demoted), and
only after the target's confirmed writes have reached the founder ("settled"); a write by a
manager-only command is made by a current manager whose role is settled.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable

from bullpen.app.sales.use_cases import QUOTAS, RATES, SNAPSHOTS

from .cluster import Cluster, Node, shown
from .ledger import Ledger, Write
from .verify import Probe, missing_writes, wait_until

STAGES = ("prospecting", "qualification", "proposal", "negotiation", "closed_won", "closed_lost")
NAMES = ("Ann", "Bob", "Cat", "Dan", "Eve", "Fay", "Gus", "Hal", "Ivy", "Jon", "Kim", "Lou")
SETTLE_TIMEOUT = 15.0


class SetupFailed(RuntimeError):
    """The team could not be built (the message says which command failed and why)."""


class Torture:
    """Drives one run: ``setup`` makes the team, ``step`` does one random operation."""

    def __init__(self, cluster: Cluster, rng: random.Random, seed: int, max_nodes: int,
                 tell: str) -> None:
        self.c = cluster
        self.rng = rng
        self.seed = seed
        self.max_nodes = max_nodes
        self.tell = tell
        self.ledger = Ledger()
        self.counter = 0
        self.partitioned: list[int] = []
        self.unvisited: list[Callable[[], None]] | None = None

    # ----- helpers ---------------------------------------------------------------------------

    def token(self) -> str:
        self.counter += 1
        return f"T{self.seed}r{self.c.round}n{self.counter}"

    @property
    def founder(self) -> Node:
        return self.c.nodes[0]

    def run(self, node: Node, *args: str, network: bool = False) -> str | None:
        """Run a command; its stdout when it exited 0, else None (journaled unconfirmed)."""
        proc = self.c.cli(node, *args, network=network)
        if proc.returncode == 0:
            return proc.stdout
        self.ledger.unconfirmed.append(f"round {self.c.round} {node}: bullpen {shown(args)}"
                                       f" -> {proc.stderr.strip()[-200:]}")
        return None

    def confirm(self, node: Node, args: tuple[str, ...], what: str, target: str,
                name: str = "", value: object = None) -> None:
        self.ledger.add(Write(self.c.round, node.name, " ".join(args), what, target, name,
                              value))

    def writers(self) -> list[Node]:
        return self.c.members()

    def managers(self) -> list[Node]:
        return [n for n in self.c.members() if n.role == "manager"]

    # ----- team set-up -----------------------------------------------------------------------

    def setup(self, count: int) -> None:
        founder = self.c.new_node(NAMES[0])
        self.c.cli(founder, "init", "--name", founder.name, "--workspace", "Torture Sales")
        founder.role = "manager"
        self.c.start(founder)
        for _ in range(count - 1):
            joiner = self.join(founder)
            if joiner is None:
                raise SetupFailed(self.why_join_failed(founder))
            if joiner.index > 1:  # a ring besides the star around the founder
                self.c.cli(joiner, "peer", "add", self.c.nodes[joiner.index - 1].addr)

    def why_join_failed(self, inviter: Node) -> str:
        """The refused command and the inviter's last error line (its log's traceback end)."""
        errors = [line for path in inviter.logs
                  for line in path.read_text(errors="replace").splitlines()
                  if "Error" in line and "Traceback" not in line]
        return (f"set-up: a join failed: {self.ledger.unconfirmed[-1:] or ['the node']}; "
                f"{inviter} logged: {errors[-1].strip(' |') if errors else 'nothing'}")

    def invite(self, inviter: Node, role: str) -> str | None:
        """An invite code naming the inviter's running node (its addresses are published a
        moment after it starts); None when the inviter refuses (its role, as it knows it)."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            out = self.run(inviter, "invite", "--role", role, "--json")
            if out is None:
                return None
            data = json.loads(out)
            if inviter.addr in data.get("addrs", []):
                return data["code"]
            time.sleep(0.5)  # poll interval of the condition above
        return None

    def join(self, inviter: Node, role: str = "rep") -> Node | None:
        """``invite`` on a running manager, ``join`` and ``serve`` on a new profile."""
        invite = self.invite(inviter, role)
        if invite is None:
            return None
        joiner = self.c.new_node(NAMES[len(self.c.nodes) % len(NAMES)]
                                 + ("" if len(self.c.nodes) < len(NAMES) else str(self.c.round)))
        host = self.c.net.host(joiner.index)
        if self.run(joiner, "join", invite, "--name", joiner.name, "--listen",
                    f"/ip4/{host}/tcp/0", network=True) is None:
            return None
        joiner.role = role
        if not self.c.start(joiner):
            return None
        self.confirm(inviter, ("invite+join",), "member", joiner.peer_id, value=role)
        return joiner

    # ----- the operations --------------------------------------------------------------------

    def step(self) -> None:
        """One random operation among those that apply now; the first rounds do every kind
        once, in a seeded order, so that even a short run covers them all."""
        choices: list[tuple[int, Callable[[], None]]] = [
            (6, self.op_opp_add), (4, self.op_opp_update), (1, self.op_opp_delete),
            (2, self.op_contact), (1, self.op_event), (2, self.op_topic_post),
            (1, self.op_announce), (2, self.op_doc), (1, self.op_resource),
            (1, self.op_forecast), (2, self.op_manager_setting), (1, self.op_join),
            (1, self.op_role), (1, self.op_remove), (2, self.op_kill),
            (2, self.op_restart_same), (2, self.op_restart_new),
        ]
        if self.c.net.partitions:
            choices += [(2, self.op_partition), (1, self.op_netem)]
        weights, actions = zip(*choices, strict=True)
        if self.unvisited is None:
            self.unvisited = self.rng.sample(actions, len(actions))
        if self.unvisited:
            return self.unvisited.pop()()
        self.rng.choices(actions, weights)[0]()

    def op_opp_add(self) -> None:
        node, tok = self.rng.choice(self.writers()), self.token()
        args = ("opp", "add", "--account", f"Acct {self.rng.randrange(20)}", "--title", tok,
                "--amount", str(self.rng.randrange(1, 500) * 1000), "--stage",
                self.rng.choice(STAGES), "--close", f"2026-{self.rng.randrange(10, 13)}-15")
        self._add(node, "opportunity", args, "title", tok)

    def _add(self, node: Node, kind: str, args: tuple[str, ...], name: str, tok: str) -> str:
        out = self.run(node, *args)
        if out is None:
            return ""
        record_id = out.strip().split()[-1]
        self.ledger.created(kind, record_id, node.name)
        self.confirm(node, args, "field", record_id, name, tok)
        return record_id

    def _pick(self, kind: str) -> str | None:
        live = self.ledger.live(kind)
        return self.rng.choice(live) if live else None

    def op_opp_update(self) -> None:
        self._update("opportunity", "opp", "--next-step", "next_step")

    def _update(self, kind: str, cmd: str, flag: str, name: str) -> None:
        record_id = self._pick(kind)
        if record_id is None:
            return self.op_opp_add()
        node, tok = self.rng.choice(self.writers()), self.token()
        args = (cmd, "update", record_id, flag, tok)
        if kind == "opportunity" and self.rng.random() < 0.5:
            args += ("--stage", self.rng.choice(STAGES))
        if self.run(node, *args) is not None:
            self.confirm(node, args, "field", record_id, name, tok)

    def op_opp_delete(self) -> None:
        self._delete("opportunity", "opp")

    def _delete(self, kind: str, cmd: str) -> None:
        record_id = self._pick(kind)
        node = self.rng.choice(self.writers())
        if record_id and self.run(node, cmd, "delete", record_id) is not None:
            self.ledger.deleted.add(record_id)
            self.confirm(node, (cmd, "delete", record_id), "deleted", record_id)

    def op_contact(self) -> None:
        roll = self.rng.random()
        if roll < 0.5 or not self.ledger.live("contact"):
            node, tok = self.rng.choice(self.writers()), self.token()
            args = ("contact", "add", "--name", tok, "--company", f"Co {self.rng.randrange(9)}",
                    "--emails", f"{tok.lower()}@example.com")
            self._add(node, "contact", args, "name", tok)
        elif roll < 0.85:
            self._update("contact", "contact", "--notes", "notes")
        else:
            self._delete("contact", "contact")

    def op_event(self) -> None:
        node, tok, day = self.rng.choice(self.writers()), self.token(), self.rng.randrange(1, 28)
        args = ("event", "add", "--title", tok, "--start", f"2026-12-{day:02d}T10:00",
                "--end", f"2026-12-{day:02d}T11:00")
        self._add(node, "event", args, "title", tok)

    def op_topic_post(self) -> None:
        node, tok = self.rng.choice(self.writers()), self.token()
        topic = self._pick("topic")
        if topic is None or self.rng.random() < 0.3:
            self._add(node, "topic", ("topic", "add", tok, "--category", "general"), "title", tok)
        else:
            self._add(node, "post", ("post", topic, tok), "text", tok)

    def op_announce(self) -> None:
        node, tok = self.rng.choice(self.writers()), self.token()
        self._add(node, "announcement", ("announce", tok), "text", tok)

    def op_doc(self) -> None:
        node, tok = self.rng.choice(self.writers()), self.token()
        doc = self._pick("document")
        if doc is None or self.rng.random() < 0.4:
            self._add(node, "document", ("doc", "new", tok), "title", tok)
            return
        args = ("doc", "append", doc, f" {tok}")
        if self.run(node, *args) is not None:
            self.confirm(node, args, "text", doc, value=tok)

    def op_resource(self) -> None:
        node, tok = self.rng.choice(self.writers()), self.token()
        path = self.c.root / "files" / f"{tok}.txt"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(self.rng.randbytes(self.rng.randrange(100, 200_000)))
        record_id = self._add(node, "resource", ("resource", "add", str(path)), "name",
                              path.name)
        if record_id:
            self.confirm(node, ("resource", "add", str(path)), "blob", record_id)

    def op_forecast(self) -> None:
        node = self.rng.choice(self.writers())
        self.run(node, "forecast", "--period", "2026-Q4", "--json")

    def op_manager_setting(self) -> None:
        """quota set, rate set or forecast snapshot, by a current manager."""
        node = self.rng.choice(self.managers())
        roll = self.rng.random()
        if roll < 0.4:
            owner = self.rng.choice(self.c.members()).name
            amount = self.rng.randrange(1, 100) * 10_000
            args = ("quota", "set", owner, "2026-Q4", str(amount))
            if self.run(node, *args) is not None:
                self.confirm(node, args, "setting", f"{owner}|2026-Q4", QUOTAS, float(amount))
        elif roll < 0.7:
            cur, rate = self.rng.choice(("USD", "GBP", "CHF", "JPY")), self.rng.randrange(1, 300)
            args = ("rate", "set", cur, f"{rate / 100:.2f}")
            if self.run(node, *args) is not None:
                self.confirm(node, args, "setting", cur, RATES, rate / 100)
        else:
            args = ("forecast", "snapshot", "--period", "2026-Q4", "--json")
            out = self.run(node, *args)
            if out is not None:
                key = json.loads(out)["snapshot"]
                self.confirm(node, args, "setting", key, SNAPSHOTS)

    def op_join(self) -> None:
        inviters = [n for n in self.managers()  # a joiner starts on the partition's side A
                    if n.running and n.index not in self.partitioned]
        if len(self.c.nodes) >= self.max_nodes or not inviters:
            return self.op_opp_add()
        joiner = self.join(self.rng.choice(inviters))
        if joiner is not None:
            self.told(joiner)

    def told(self, node: Node) -> None:
        """Tell running teammates the node's (new) address, as the --tell policy says."""
        others = [n for n in self.c.running_members() if n is not node]
        count = {"none": 0, "one": 1, "all": len(others)}[self.tell]
        for other in self.rng.sample(others, min(count, len(others))):
            self.c.cli(other, "peer", "add", node.addr)

    def _settled(self, target: Node) -> bool:
        """Have the target's confirmed writes reached the founder? (waits a while when both
        run, so they can)"""
        timeout = SETTLE_TIMEOUT if target.running and self.founder.running else 0
        with Probe(self.founder.home) as probe:
            ok = wait_until(lambda: not missing_writes(probe, self.ledger.by_node(target.name)),
                            timeout, 0.3)
        if not ok:
            self.c.note(f"{target}'s writes did not reach the founder in {timeout:g} s: "
                        "role change / removal skipped")
        return bool(ok)

    def op_role(self) -> None:
        targets = [n for n in self.c.members() if n is not self.founder]
        if not targets:
            return
        target = self.rng.choice(targets)
        role = "rep" if target.role == "manager" else "manager"
        if role == "rep" and not self._settled(target):
            return
        if self.run(self.founder, "member", "role", target.peer_id, role) is not None:
            target.role = role
            self.confirm(self.founder, ("member", "role", target.name, role), "member",
                         target.peer_id, value=role)

    def op_remove(self) -> None:
        targets = [n for n in self.c.members() if n is not self.founder]
        if len(self.c.members()) <= 4 or not targets:
            return self.op_contact()
        target = self.rng.choice(targets)
        if not self._settled(target):
            return
        if self.run(self.founder, "member", "remove", target.peer_id) is not None:
            target.removed = True
            self.confirm(self.founder, ("member", "remove", target.name), "member",
                         target.peer_id, value="")

    def op_kill(self) -> None:
        running = self.c.running_members()
        if len(running) > 2:
            self.c.kill(self.rng.choice(running))

    def op_restart_same(self) -> None:
        """A stopped member back on its old port (a new one if that is taken meanwhile)."""
        node = self._stopped()
        if not self.c.start(node, node.port):
            self.c.start(node)
            self.told(node)

    def op_restart_new(self) -> None:
        """A stopped member back on a new port: a laptop on another network."""
        node = self._stopped()
        self.c.start(node)
        self.told(node)

    def _stopped(self) -> Node:
        """A stopped member; when none is, a running one killed now."""
        stopped = [n for n in self.c.members() if not n.running]
        if stopped:
            return self.rng.choice(stopped)
        node = self.rng.choice(self.c.members())
        self.c.kill(node)
        return node

    def op_partition(self) -> None:
        if self.partitioned:
            self.c.net.heal()
            self.c.note(f"healed partition {self.partitioned}")
            self.partitioned = []
            return
        members = [n.index for n in self.c.members()]
        side = self.rng.sample(members, self.rng.randrange(1, max(2, len(members) // 2 + 1)))
        self.c.net.partition(side)
        self.partitioned = side
        self.c.note(f"partition: {sorted(side)} | the rest")

    def op_netem(self) -> None:
        on = not self.c.net.netem_on
        self.c.net.netem(on)
        self.c.note(f"netem {'on' if on else 'off'}"
                    + (f" (unavailable: {self.c.net.netem_error})" if self.c.net.netem_error
                       else ""))

