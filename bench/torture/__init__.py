"""The torture suite's parts: processes (``cluster``), network namespaces (``netlab``; delay
and loss without the kernel's netem from ``tunnetem``), the random operations (``ops``), the
record of confirmed writes (``ledger``) and the final checks (``verify``).
``bench/torture.py`` runs them; ``tests/test_torture.py`` runs a short seed."""
