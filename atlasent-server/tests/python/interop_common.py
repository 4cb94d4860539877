"""Shared by the interop scripts (interop.py, interop_current.py)."""

import sys


def check(name, cond, detail=""):
    """Print `ok name`, or `FAIL name: detail` and stop with status 1."""
    if not cond:
        print(f"FAIL {name}: {detail}")
        sys.exit(1)
    print(f"ok   {name}")
