"""Draw ``docs/images/onboarding_funnel.png``, the README's chart, from the demo's dataset.

Run: ``chift-frames demo`` (it writes ``data/demo``), then ``python scripts/make_readme_chart.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from chift_frames import reports
from chift_frames.charts import CHARTS, to_png

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    dataset = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "data" / "demo"
    chart = CHARTS["onboarding_funnel"](reports.onboarding_funnel(dataset))
    if chart is None:
        raise SystemExit(f"{dataset}: the onboarding funnel has nothing to draw")
    figure, _ = chart
    target = ROOT / "docs" / "images" / "onboarding_funnel.png"
    target.write_bytes(to_png(figure))
    print(f"wrote {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
