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

# step name of a journey screenshot ("NN-<step>.png") -> name in docs/images
CHOSEN = {
    "overview": "overview.png",
    "dataset": "dataset.png",
    "automl-running": "automl-running.png",
    "leaderboard": "leaderboard.png",
    "leaderboard-roc": "leaderboard-roc.png",
    "endpoint-healthy": "endpoint.png",
    "endpoint-deployments": "endpoint-deployments.png",
    "scored": "score.png",
    "explained": "score-explained.png",
    "monitoring-drift": "monitoring-drift.png",
    "telemetry": "telemetry.png",
    "swagger-ui": "swagger-ui.png",
    "pipeline-published": "pipeline-published.png",
    "pipeline-completed": "pipeline-completed.png",
    "runs-compare": "runs-compare.png",
}


def shot(step: str) -> Path:
    """The journey's screenshot of a step, whatever its number."""
    found = sorted(SCREENSHOTS.glob(f"[0-9][0-9]-{step}.png")) or [SCREENSHOTS / f"{step}.png"]
    return found[-1]


def main() -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    for source, target in CHOSEN.items():
        image = Image.open(shot(source)).convert("RGB")
        image = image.resize((WIDTH, round(image.height * WIDTH / image.width)), Image.Resampling.LANCZOS)
        image.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(IMAGES / target, optimize=True)
        print(f"{IMAGES / target}: {(IMAGES / target).stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
