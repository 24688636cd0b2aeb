import random

from bullpen.app.demo.team import seed_demo, simulate_step


def test_demo_workspace_is_a_realistic_team(ws, tmp_path):
    seed_demo(ws, files_dir=tmp_path / "files")
    assert len(ws.members()) == 4
    opps = ws.list("opportunity")
    assert len(opps) == 40
    assert len({o["owner"] for o in opps}) == 4
    assert len({o["stage"] for o in opps}) >= 4
    assert len(ws.list("contact")) == 25
    assert len(ws.list("event")) == 12
    assert len(ws.list("topic")) == 3 and len(ws.list("post")) == 7
    assert len(ws.list("announcement")) == 3
    assert len(ws.list("document")) == 3
    assert ws.list("resource")[0]["name"] == "price-list-2027.csv"
    assert ws.search("globex")


def test_simulated_teammate_makes_visible_changes(ws):
    seed_demo(ws, opportunities=10)
    rng = random.Random(3)
    before = ws.digest()
    actions = [simulate_step(ws, rng) for _ in range(10)]
    assert ws.digest() != before
    assert all(a != "idle" for a in actions)
