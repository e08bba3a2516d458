"""Copy the browser journey's screenshots into docs/images for the README, as small PNGs.

Run after ``pytest tests/test_browser_journey.py``:  ``.venv/bin/python -m tests.browser_screenshots``.
The README shows exactly what the test saw.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from tests.test_browser_journey import SCREENSHOTS

REPO = Path(__file__).resolve().parent.parent
IMAGES = REPO / "docs" / "images"
WIDTH = 1000  # pixels: readable in the README, small in the repository

# screenshot of the journey -> name in docs/images
CHOSEN = {
    "01-overview.png": "overview.png",
    "02-dataset.png": "dataset.png",
    "04-automl-running.png": "automl-running.png",
    "06-leaderboard.png": "leaderboard.png",
    "07-leaderboard-roc.png": "leaderboard-roc.png",
    "09-endpoint-healthy.png": "endpoint.png",
    "10-scored.png": "score.png",
    "11-telemetry.png": "telemetry.png",
    "swagger-ui.png": "swagger-ui.png",
    "13-pipeline-published.png": "pipeline-published.png",
    "15-pipeline-completed.png": "pipeline-completed.png",
}


def main() -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    for source, target in CHOSEN.items():
        image = Image.open(SCREENSHOTS / source).convert("RGB")
        image = image.resize((WIDTH, round(image.height * WIDTH / image.width)), Image.Resampling.LANCZOS)
        image.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(IMAGES / target, optimize=True)
        print(f"{IMAGES / target}: {(IMAGES / target).stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
