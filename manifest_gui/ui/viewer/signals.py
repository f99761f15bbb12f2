"""emit(): SignalInstance.emit with a guard against a PySide6 6.12.0 reference-count bug.

Why: in PySide6 6.12.0 every Python call of `signal.emit(...)` returns True without taking a
reference to it, so each call drops one reference to True. On Python 3.11 (where True is not
immortal) the process aborts with "Fatal Python error: bool_dealloc" once a few thousand
signals have been emitted, or at exit. The bug is detected once at import; only then does
emit() add back the reference the binding failed to take (Py_IncRef, never released, exactly
like the reference the binding should have returned).
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

from PySide6.QtCore import QObject, Signal, SignalInstance

_incref = ctypes.pythonapi.Py_IncRef
_incref.argtypes = [ctypes.py_object]
_incref.restype = None


class _Probe(QObject):
    fired = Signal()


def _emit_drops_true() -> bool:
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(16):
        probe.fired.emit()
    dropped = before - sys.getrefcount(True)
    for _ in range(max(dropped, 0)):  # give back what the probe itself took
        _incref(True)
    return dropped >= 16


EMIT_DROPS_TRUE = _emit_drops_true()


def emit(signal: SignalInstance, *args: Any) -> None:
    """Emit `signal` (from any thread, as signal.emit would)."""
    signal.emit(*args)
    if EMIT_DROPS_TRUE:
        _incref(True)
