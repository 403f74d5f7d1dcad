"""Components outside pip that some tests need: Chromium, Java (for Spark) and Azurite.

On a fresh machine with only Python, the README's test command still passes: a test that
needs a missing component skips, and the reason says how to install it. When the
environment asks for every component (``CHIFT_FRAMES_TEST_ALL=1``, as ``.ci/run`` sets after
installing them), a missing one fails the test instead, so CI can't pass by skipping.
"""

from __future__ import annotations

import os
import shutil

import pytest

ALL = "CHIFT_FRAMES_TEST_ALL"

# component -> (the program that shows it is there, how to get it)
COMPONENTS = {
    "chromium": ("chromium", "apt-get install chromium"),
    "java": ("java", "apt-get install openjdk-17-jre-headless"),
    "azurite": ("azurite-blob", "npm install -g azurite"),
}


def require(component: str) -> str:
    """Return the path of ``component``'s program; skip the test (or fail, under ALL) without it."""
    program, how = COMPONENTS[component]
    found = shutil.which(program)
    if found:
        return found
    why = f"{component} is not installed ({program} not on PATH): {how}, or run .ci/run"
    if os.environ.get(ALL) == "1":
        pytest.fail(f"{why}; {ALL}=1 asks for every component", pytrace=False)
    pytest.skip(why)
