"""The version of chift_frames: the one place it is written (pyproject.toml reads it).

A plain string, not ``importlib.metadata``, which costs every command a few dozen ms.
"""

__version__ = "0.1.0"
