"""The backend contract (tests/contract) calls every public operation of the Backend interface, and every backend
(local, Azure SDK v1, Azure SDK v2) runs all of it: an operation added without a contract test turns this red."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

from opml.backends.base import Backend
from tests import contract, test_azure_backend, test_azure_v2_backend, test_local_backend

MODULES = [importlib.import_module(f"tests.contract.{info.name}") for info in pkgutil.iter_modules(contract.__path__)]


def public_operations() -> set[str]:
    return {name for name, _ in inspect.getmembers(Backend, inspect.isfunction) if not name.startswith("_")}


def called_methods(source: str) -> set[str]:
    """Names of the methods called on anything (``x.name(...)``) in ``source``."""
    return {
        node.func.attr
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }


def test_every_backend_operation_is_called_by_the_contract():
    called = set().union(*(called_methods(Path(module.__file__).read_text()) for module in MODULES))
    operations = public_operations()
    assert len(operations) > 50
    missing = sorted(operations - called)
    assert missing == [], f"Backend operations no contract test calls (add one in tests/contract/): {missing}"


def test_every_concern_is_part_of_the_contract():
    concerns = {
        value
        for module in MODULES
        for name, value in vars(module).items()
        if inspect.isclass(value) and name.endswith("Contract") and value.__module__ == module.__name__
    }
    assert len(concerns) >= 9
    assert concerns <= set(contract.BackendContract.__mro__)


def test_every_backend_runs_the_contract():
    assert issubclass(test_local_backend.TestLocalBackend, contract.BackendContract)
    assert issubclass(test_azure_backend.TestAzureBackendContract, contract.BackendContract)
    assert issubclass(test_azure_v2_backend.TestAzureV2BackendContract, contract.BackendContract)
