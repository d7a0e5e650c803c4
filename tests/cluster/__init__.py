"""The replicated set-up: PostgreSQL 15, several gateway replicas, nginx.

A package, so that its conftest keeps a module name of its own beside tests/e2e's (whose tests import
`conftest` by that name); its folder is on the path so that the tests import `cluster_support` as is.
"""
import pathlib
import sys

_here = str(pathlib.Path(__file__).resolve().parent)
if _here not in sys.path:
    sys.path.insert(0, _here)
