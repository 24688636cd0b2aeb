"""Attack review: a record's map replaced by a new map holding the same values.

Such a change looks harmless at its own heads (every value is what it was), so a rule that
compares values lets it through; but a teammate's concurrent edit, written in the old map,
is hidden once both changes merge. So an action item's owner's concurrent edit, or a room
owner's concurrent removal of a guest, would vanish by a change of someone not allowed to
make either. Fixtures: tests/test_action_items.py, tests/test_rooms_hostile.py.
"""

from __future__ import annotations

from automerge.core import ObjType
from hostile import forge
from replicas import exchange
from test_action_items import DOC, refused, team  # noqa: F401  (the fixture)
from test_hostile_roles import refused_everywhere
from test_rooms_hostile import office, space  # noqa: F401  (the fixture)

from bullpen.app.sales import action_items as tasks
from bullpen.crdt import records as rec


def replace(rid: str, fields: dict, touch: bool):
    """A raw change putting a new map under ``rid`` with ``fields`` (the old values)."""
    def tx_write(tx):
        records = rec.container(tx, rec.RECORDS)
        tx.put_object(records, rid, ObjType.Map)
        rec.write_record(tx, records, rid, fields,
                         map_fields=[k for k, v in fields.items() if isinstance(v, dict)])
        if touch:
            rec.mark_touched(tx, [rid])
    return tx_write


def raw(ws, doc_id: str, rid: str) -> dict:
    doc = ws.doc(doc_id)
    return rec.read_record(doc, rec.container(doc, rec.RECORDS), rid)


def test_a_rep_cannot_replace_a_teammates_item_with_a_copy(team):  # noqa: F811
    eli, fay, dana = team["eli"], team["fay"], team["manager"]
    item = tasks.add_item(fay, "Send the deck")["id"]
    exchange(fay, dana)
    exchange(dana, eli)
    forge(eli, DOC, replace(item, raw(eli, DOC, item), touch=True))
    assert "replaced" in refused(eli, dana)
    tasks.set_status(fay, item, "done")  # the owner's edit, which the copy would have hidden
    exchange(fay, dana)
    assert dana.get(item)["status"] == "done"


def test_a_guest_cannot_replace_the_room_with_a_copy(office):  # noqa: F811
    """Carl's copy of the room, concurrent with Eli taking Carl off its guest list, would
    hide the removal (Carl keeps the room)."""
    carl, dana = office["guest"], office["manager"]
    copy = raw(carl, space(office), office["room"])
    forge(carl, space(office), replace(office["room"], copy, touch=False))
    refused_everywhere(carl, dana, space(office))


def test_a_guest_cannot_replace_a_teammates_record_in_the_room_with_a_copy(office):  # noqa: F811
    carl, dana = office["guest"], office["manager"]
    task = office["vendor_task"]
    forge(carl, space(office), replace(task, raw(carl, space(office), task), touch=False))
    refused_everywhere(carl, dana, space(office))
