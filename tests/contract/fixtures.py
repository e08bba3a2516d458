"""Fixtures and helpers the contract's modules share (built on a backend's three fixtures)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TRAINING_STEPS = [
    {
        "name": "train",
        "type": "automl",
        "settings": {"dataset": "${dataset}", "label_column": "y", "experiment_timeout_minutes": 20},
    },
    {"name": "register", "type": "register_model", "model_name": "bank-model"},
]


def python_command(code: str) -> dict:
    return {"command": [sys.executable, "-c", code]}


def ids(entities) -> list[str]:
    return [entity.id for entity in entities]


class ContractFixtures:
    @pytest.fixture
    def registered_model(self, model_runs):
        """The workspace of ``model_runs`` with the AutoML run's best model registered as bank-model:1."""
        backend, automl_run, _ = model_runs
        backend.register_model(name="bank-model", run_id=automl_run)
        return backend

    @pytest.fixture
    def pipeline(self, backend, bank_small_csv: Path):
        """An AutoML pipeline (train, register) over the dataset "bank", taken as a parameter."""
        backend.register_dataset(name="bank", source=bank_small_csv)
        return backend.create_pipeline(
            name="bank-train", steps=TRAINING_STEPS, parameters={"dataset": "bank"}, description="train"
        )

    @pytest.fixture
    def published(self, backend, pipeline):
        return backend.publish_pipeline(pipeline.id, name="Bankmarketing Train", description="d", version="2.0")
