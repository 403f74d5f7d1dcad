"""Progress bars for long work: a widget in Jupyter, text on a terminal, nothing elsewhere.

A fetch or the reports of a large account take minutes; a notebook user should see them
advance as a terminal user does. ``tqdm.auto`` draws a widget when ``ipywidgets`` is there;
without it, plain ``tqdm`` writes text, which a notebook shows too (``tqdm.auto`` would warn).
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

__all__ = ["in_notebook", "progress_bar"]


def in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (IPython with a kernel, not a terminal shell)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and getattr(shell, "kernel", None) is not None


def progress_bar(total: int, enabled: bool | None, desc: str, unit: str) -> Any:
    """Return a ``tqdm`` bar; ``enabled=None``: on in a notebook and on an interactive terminal."""
    notebook = in_notebook()
    if enabled is None:
        enabled = notebook or sys.stderr.isatty()
    if enabled and notebook and importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm
    else:
        from tqdm import tqdm
    return tqdm(
        total=total, desc=desc, unit=unit, disable=not enabled, dynamic_ncols=True, leave=False
    )
