"""Bullpen: a peer-to-peer, offline-first virtual sales office.

The code lives in the design card's top-level folders (crdt/, sync/, app/, ui/) and the command
line's cli/, mapped to ``bullpen.crdt``, ``bullpen.sync``, ``bullpen.app``, ``bullpen.ui`` and
``bullpen.cli`` by pyproject.toml so the installed package has one namespace.
"""

__version__ = "0.1.0"
