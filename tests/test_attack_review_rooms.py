"""Attack review (deal rooms): what a rep who does not own a room may not take away from it.

Threat model: a modified client of a rep writes any change to a room's document; every peer
judges it by the author's role (docs/SECURITY.md). Fixture: tests/test_rooms_hostile.py.
"""

from __future__ import annotations

import pytest
from hostile import forge, put_record
from test_hostile_roles import refused_everywhere
from test_rooms_hostile import office, space  # noqa: F401  (the fixture)

from bullpen.app.members.access import AccessPolicy
from bullpen.app.members.authz import NotAllowed


def test_a_rep_who_does_not_own_the_room_cannot_delete_it(office):  # noqa: F811
    """Marking the room record deleted hides the room from everyone and ends every guest's
    access to it: a take-away only the owner or a manager may do."""
    ray, dana, carl = office["other_rep"], office["manager"], office["guest"]
    assert f"space:{office['room']}" in AccessPolicy(dana).guest_docs(carl.peer_id)
    with pytest.raises(NotAllowed):  # the honest client says no first
        ray.delete(office["room"])
    forge(ray, space(office), lambda tx: put_record(tx, office["room"], {"_deleted": True}))
    refused_everywhere(ray, dana, space(office))
    assert f"space:{office['room']}" in AccessPolicy(dana).guest_docs(carl.peer_id)
    office["rep"].delete(office["other"])  # the owner may
