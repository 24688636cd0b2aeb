"""Calendar logic shared by the CLI and the desktop app."""
