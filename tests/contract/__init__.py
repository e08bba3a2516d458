"""The Backend contract: every backend passes this suite, one module per concern.

A backend's test module subclasses ``BackendContract`` and provides four fixtures:
``backend`` (a fresh, empty workspace), ``executor`` (whatever makes queued work
execute: for the local backend, a real agent process), ``model_runs`` (a workspace
with a finished AutoML run: the backend and two run ids whose models differ) and
``capabilities`` (a ``Capabilities``: what the backend does differently where the
contract leaves it room).
"""

from tests.contract.alerts import AlertContract
from tests.contract.audit import AuditContract
from tests.contract.capabilities import Capabilities
from tests.contract.computes import ComputeContract
from tests.contract.datasets import DatasetContract
from tests.contract.deployments import DeploymentContract
from tests.contract.fixtures import python_command
from tests.contract.models import ModelContract
from tests.contract.pipelines import PipelineContract
from tests.contract.runs import RunContract
from tests.contract.schedules import ScheduleContract
from tests.contract.services import ServiceContract
from tests.contract.tokens import TokenContract
from tests.contract.workspace import WorkspaceContract

__all__ = ["BackendContract", "Capabilities", "python_command"]


class BackendContract(
    WorkspaceContract,
    DatasetContract,
    ComputeContract,
    RunContract,
    ModelContract,
    ServiceContract,
    DeploymentContract,
    PipelineContract,
    ScheduleContract,
    TokenContract,
    AuditContract,
    AlertContract,
):
    """Every concern of the contract; a backend's test class subclasses this."""
