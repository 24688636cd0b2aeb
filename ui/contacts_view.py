"""Contacts: the team's address book, filterable, editable inline; .vcf in and out."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QPushButton, QWidget

from . import interop
from .base_view import RecordTableScreen
from .context import AppContext
from .records_model import Column, when


class ContactsView(RecordTableScreen):
    title = "Contacts"
    kinds = ("contact",)
    placeholder = "Filter contacts by name, company, email…"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        self.columns = [
            Column("name", "Name", editable=True, width=180),
            Column("company", "Company", editable=True, width=160),
            Column("title", "Job title", editable=True, width=150),
            Column("emails", "Email", width=230),
            Column("phones", "Phone", width=130),
            Column("updated_at", "Updated", text=lambda r: when(r.get("updated_at"))),
        ]
        super().__init__(ctx, parent)
        self.model.sort_column = 0
        self.model.on_edit = self._edit
        for label, slot in (("Import .vcf…", lambda: interop.import_file(ctx, self, "contacts")),
                            ("Export .vcf…", lambda: interop.export_file(ctx, self, "contacts"))):
            button = QPushButton(label, self)
            button.clicked.connect(slot)
            self.toolbar.addWidget(button)
        add = QPushButton("New contact", self)
        add.setObjectName("primary")
        add.clicked.connect(self.new_contact)
        self.toolbar.addWidget(add)

    def _edit(self, record_id: str, field: str, value: Any) -> None:
        self.ctx.run(self.ws.update, record_id, {field: value}, what=f"Changing {field}")

    def new_contact(self) -> None:
        from PySide6.QtWidgets import QInputDialog

        name, ok = QInputDialog.getText(self, "New contact", "Name:")
        if ok and name.strip():
            self.ctx.run(self.ws.add, "contact", {"name": name.strip()},
                         done=self.show_record, what="Adding the contact")
