"""Import opportunities: the column mapping preview, a changed mapping, bad rows, the dry run,
then the import."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from ui_helpers import settle, wait

from bullpen.ui import interop
from bullpen.ui.import_preview import ImportPreviewDialog

CSV = """Deal Name,Company,Deal Value,Stage,Close Date,Region
Globex wave two,Globex,"12,000",Proposal,2031-02-01,EMEA
Initech pilot,Initech,8000,Qualification,2031-03-15,US
Broken row,Umbrella,lots,Proposal,2031-04-01,US
"""


def test_import_with_mapping_preview(qtbot, session, tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    path.write_text(CSV)
    before = len(session.ws.list("opportunity"))
    interop.import_file(session.ctx, session.window, "opportunities", str(path))
    dialog = session.window.findChild(ImportPreviewDialog)
    assert dialog is not None
    settle(qtbot)
    # "Deal Value" is no name the reader knows: it says so, and lists the columns.
    assert "no column for amount" in dialog.summary.text()
    assert dialog.combo("Deal Value").currentData() == "ignore"
    assert not dialog.import_button.isEnabled()

    amount = dialog.combo("Deal Value")
    amount.setCurrentIndex(amount.findData("amount"))  # the user picks the field
    settle(qtbot)
    assert dialog.combo("Deal Name").currentData() == "title"
    assert dialog.combo("Company").currentData() == "account"
    assert dialog.combo("Region").currentData() == "ignore"
    assert dialog.summary.text().startswith("Would create 2 and update 0 deals")
    bad = [dialog.bad_rows.item(r).text() for r in range(dialog.bad_rows.count())]
    assert len(bad) == 1 and bad[0].startswith("row 4: amount")
    assert not dialog.import_button.isEnabled()  # bad rows refuse the file ...
    dialog.skip_bad.setChecked(True)  # ... unless the user skips them
    assert dialog.import_button.isEnabled()
    assert len(session.ws.list("opportunity")) == before  # the preview stored nothing

    qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    settle(qtbot)
    wait(qtbot, lambda: session.window.findChild(ImportPreviewDialog) is None)
    assert len(session.ws.list("opportunity")) == before + 2
    deals = {d["title"]: d for d in session.ws.list("opportunity")}
    assert deals["Globex wave two"]["amount"] == 12000
    assert "created 2" in session.window.statusBar().currentMessage()
