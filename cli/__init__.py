"""The ``bullpen`` command line, a presentation layer beside the desktop app (ui/).

Thin argument parsing over the use cases in app/. Modules are imported when their command runs,
not when the parser is built, so a command (and above all a failing one) starts quickly.
"""
