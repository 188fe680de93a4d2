"""Example apps downstream of the mesh. They are not part of the installed package: run them
from a checkout, e.g. ``python -m examples.call_summary``."""
