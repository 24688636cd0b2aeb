"""Attack review (meetings): admission is checked when a member joins, but a meeting can last
an hour; a member removed from the team (or made a guest) during it must not go on hearing
it. Real libp2p in one trio process, as tests/test_meeting_node.py."""

from __future__ import annotations

import pytest
import trio
from test_meeting_node import LOOPBACK, MEMBERS, PEERS, SEEDS, TEAM, Heard, joined

from bullpen.sync.meeting_node import MeetingNode


@pytest.mark.parametrize("taken_away", ["removed", "made a guest"])
def test_a_participant_no_longer_on_the_team_is_dropped(taken_away: str) -> None:
    members, team = set(MEMBERS), set(TEAM)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            heard = Heard()
            host = MeetingNode(SEEDS["host"], is_member=members.__contains__,
                               may_meet=team.__contains__, on_packet=heard, listen=LOOPBACK)
            meeting = await nursery.start(host.run, "Standup")
            await joined(nursery, "eli", meeting)
            await joined(nursery, "mal", meeting)
            await heard.until(lambda: PEERS["mal"] in heard.roster().peers.values())
            team.discard(PEERS["mal"])
            if taken_away == "removed":
                members.discard(PEERS["mal"])
            await heard.until(lambda: PEERS["mal"] not in heard.roster().peers.values())
            assert PEERS["eli"] in heard.roster().peers.values()  # the others stay
            nursery.cancel_scope.cancel()

    trio.run(main)


def test_a_participant_leaves_a_host_no_longer_on_the_team() -> None:
    members = set(MEMBERS)
    ended: list[str] = []

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            heard = Heard()
            host = MeetingNode(SEEDS["host"], is_member=MEMBERS.__contains__,
                               may_meet=TEAM.__contains__, on_packet=heard, listen=LOOPBACK)
            meeting = await nursery.start(host.run, "Standup")
            eli = MeetingNode(SEEDS["eli"], is_member=members.__contains__,
                              may_meet=TEAM.__contains__, on_packet=Heard(), listen=LOOPBACK)

            left = trio.Event()

            async def attend() -> None:
                ended.append(await eli.run("", meeting))
                left.set()

            nursery.start_soon(attend)
            await heard.until(lambda: PEERS["eli"] in heard.roster().peers.values())
            members.discard(PEERS["host"])  # Eli's replica learns the host was removed
            await heard.until(lambda: PEERS["eli"] not in heard.roster().peers.values())
            with trio.fail_after(20):
                await left.wait()
            nursery.cancel_scope.cancel()

    trio.run(main)
    assert ended == ["left: the host is no longer a member of this workspace"]
