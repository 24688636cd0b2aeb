"""One light style sheet: a calm sidebar, readable tables, visible focus; 1280x800 first."""

ACCENT = "#2f6fde"

STYLE = f"""
QMainWindow, QDialog {{ background: #f6f7f9; }}
QListWidget#sidebar {{
    background: #1f2633; color: #d8dee9; border: none; font-size: 14px; padding-top: 8px;
}}
QListWidget#sidebar::item {{
    padding: 9px 16px; border: none; border-left: 3px solid transparent;
}}
QListWidget#sidebar::item:selected {{
    background: #2c3546; color: white; border-left: 3px solid {ACCENT};
}}
QListWidget#sidebar::item:hover {{ background: #283041; }}
QLabel#heading {{ font-weight: 600; font-size: 13px; padding: 2px 0; }}
QLabel#title {{ font-weight: 600; font-size: 17px; }}
QLabel#muted {{ color: #6b7280; }}
QLabel#bignumber {{ font-size: 20px; font-weight: 600; }}
QLabel#network[state="online"] {{ color: #15803d; }}
QLabel#network[state="offline"] {{ color: #9ca3af; }}
QPushButton {{
    padding: 4px 12px; border: 1px solid #c9ced6; border-radius: 4px; background: white;
}}
QPushButton:hover {{ background: #eef2f8; }}
QPushButton:checked {{ background: #dbe6fb; border-color: {ACCENT}; }}
QPushButton#primary {{ background: {ACCENT}; color: white; border-color: {ACCENT}; }}
QPushButton#primary:hover {{ background: #2559b8; }}
QPushButton:disabled {{ color: #a0a6b0; background: #f1f2f4; }}
QLineEdit, QComboBox, QDateEdit, QDoubleSpinBox, QSpinBox {{
    padding: 3px 6px; border: 1px solid #c9ced6; border-radius: 4px; background: white;
}}
QLineEdit:focus, QTextEdit:focus, QPlainTextEdit:focus {{ border: 1px solid {ACCENT}; }}
QTableView, QTreeWidget, QListWidget, QTextEdit, QTextBrowser, QPlainTextEdit {{
    background: white; border: 1px solid #dde1e7; selection-background-color: #dbe6fb;
    selection-color: black; alternate-background-color: #f9fafb;
}}
QHeaderView::section {{
    background: #eef0f3; border: none; border-right: 1px solid #dde1e7; padding: 4px 6px;
    font-weight: 600;
}}
QListWidget::item {{ padding: 6px 4px; border-bottom: 1px solid #eef0f3; }}
QListWidget#dayList::item {{
    background: #eef4ff; border: 1px solid #cfdcf5; border-radius: 4px; margin: 2px;
}}
QListWidget#dayList::item:selected {{ border: 1px solid {ACCENT}; }}
QTreeWidget::item {{ padding: 4px 0; }}
QTextEdit#editor {{ padding: 8px; }}
QFrame#stageColumn {{ background: #eceff3; border-radius: 6px; }}
QListWidget#stageList {{ background: transparent; border: none; }}
QListWidget#stageList::item {{
    background: white; border: 1px solid #d8dce3; border-radius: 5px; padding: 4px 6px;
}}
QListWidget#stageList::item:selected {{ border: 1px solid {ACCENT}; background: #f0f5ff; }}
QFrame#card {{ background: white; border: 1px solid #dde1e7; border-radius: 6px; }}
QToolButton {{ padding: 3px 6px; border-radius: 4px; }}
QToolButton:checked {{ background: #dbe6fb; }}
QStatusBar {{ background: #eef0f3; }}
"""
