"""First start with no profile: create a workspace, join with an invite code, or try a demo."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QRadioButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

CREATE, JOIN, DEMO = "create", "join", "demo"


class FirstStartDialog(QDialog):
    """Asks what to do; :meth:`choice` and the fields tell the caller, which does the work."""

    def __init__(self, home: str, needs_passphrase: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Welcome to Bullpen")
        self.setMinimumWidth(520)
        intro = QLabel(
            "<h2>Welcome to Bullpen</h2><p>Your team's pipeline, documents and discussions "
            "live on your PCs and sync directly between you: no server.</p>"
            f"<p style='color:#6b7280'>Profile folder: {home}</p>", self)
        intro.setWordWrap(True)
        self.create = QRadioButton("Create a new workspace for my team", self)
        self.join = QRadioButton("Join my team's workspace with an invite code", self)
        self.demo = QRadioButton("Open a demo workspace (a sample sales team)", self)
        self.create.setChecked(True)
        group = QButtonGroup(self)
        for i, button in enumerate((self.create, self.join, self.demo)):
            group.addButton(button, i)
        self.name = QLineEdit(self)
        self.name.setPlaceholderText("Your name, as teammates will see it")
        self.title = QLineEdit(self)
        self.title.setPlaceholderText("e.g. Northwind Sales")
        self.code = QPlainTextEdit(self)
        self.code.setPlaceholderText("BP1-…")
        self.code.setFixedHeight(70)
        self.passphrase = QLineEdit(self)
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setPlaceholderText(
            "required: this computer has no keyring" if needs_passphrase
            else "optional: without one, the OS keyring keeps the key")
        self.pages = QStackedWidget(self)
        create_page, join_page, demo_page = QWidget(), QWidget(), QWidget()
        form = QFormLayout(create_page)
        form.addRow("Workspace", self.title)
        form = QFormLayout(join_page)
        form.addRow("Invite code", self.code)
        QVBoxLayout(demo_page).addWidget(QLabel(
            "A temporary workspace with teammates who keep working while you watch.", demo_page))
        for page in (create_page, join_page, demo_page):
            self.pages.addWidget(page)
        group.idClicked.connect(self.pages.setCurrentIndex)
        common = QFormLayout()
        common.addRow("Your name", self.name)
        common.addRow("Passphrase", self.passphrase)
        self.error = QLabel(self)
        self.error.setStyleSheet("color: #b91c1c")
        self.error.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Continue")
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        self.needs_passphrase = needs_passphrase
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        for button in (self.create, self.join, self.demo):
            layout.addWidget(button)
        layout.addWidget(self.pages)
        layout.addLayout(common)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    def choice(self) -> str:
        if self.join.isChecked():
            return JOIN
        return DEMO if self.demo.isChecked() else CREATE

    def _accept(self) -> None:
        choice = self.choice()
        if choice != DEMO and not self.name.text().strip():
            self.error.setText("Please enter your name.")
            return
        if choice == CREATE and not self.title.text().strip():
            self.error.setText("Please name the workspace.")
            return
        if choice == JOIN and not self.code.toPlainText().strip():
            self.error.setText("Please paste the invite code a teammate sent you.")
            return
        if choice != DEMO and self.needs_passphrase and not self.passphrase.text():
            self.error.setText("Please choose a passphrase: it protects your data on this PC.")
            return
        self.accept()
