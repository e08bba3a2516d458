"""Managed online endpoints through SDK v2 (``opml/backends/azure_v2/endpoints.py``): the service and deployment
contract over the fakes, the endpoint and deployment objects opml builds, Azure's states and refusals."""

from __future__ import annotations

import json

import pytest

from opml.backends.azure_v2 import AzureMLv2Backend, endpoint_view
from opml.backends.azure_v2 import endpoints as v2_endpoints
from opml.entities import DELETING, HEALTHY, SERVICE_FAILED, TRANSITIONING
from opml.errors import (
    AlreadyExists,
    BackendUnavailable,
    Conflict,
    InvalidInput,
    NotFound,
    SchemaChange,
    Unauthorized,
)
from tests.azure_fixtures import write_config
from tests.azure_v2_fakes import FakeAzureML, expired_sign_in, http_error, make_fake_sdk
from tests.azure_v2_fakes.online import MANAGED_SKUS

JOB = "sharp_lamp_7k2x9"


def put_model(
    cloud: FakeAzureML, name: str = "bank-model", version: int = 1, *, schema=None, job: str = JOB, task=None
):
    """A registered MLflow model as Azure keeps it, with the lineage opml writes (``AzureModels.register``)."""
    from azure.ai.ml.entities import Model

    properties = {
        "opml_algorithm": "LightGBM",
        "opml_primary_metric": "accuracy",
        "opml_metrics": json.dumps({"accuracy": 0.9 - version / 100, "AUC_weighted": 0.93}),
        "opml_dataset": "bank:1",
    }
    if task is not None:
        properties["opml_task"] = task
    if schema is not None:
        properties[v2_endpoints.INPUT_SCHEMA_PROPERTY] = json.dumps(schema)
    cloud.kind("models")[(name, str(version))] = Model(
        name=name,
        version=str(version),
        type="mlflow_model",
        path=f"azureml://jobs/{job}/outputs/artifacts/paths/model/",
        properties=properties,
    )


# -- the contract --------------------------------------------------------------------------------------------


# -- what opml builds ----------------------------------------------------------------------------------------


def settle(backend, cloud: FakeAzureML, name: str = "bank-svc"):
    """Azure's ticks and opml's looks until every step asked for is sent and provisioned."""
    for _ in range(10):
        cloud.execute_pending()
        service = backend.get_service(name)  # a look sends the next step Azure is ready for
        meta = backend.services.state.endpoint(name)
        busy = [d.name for d in service.deployments if d.state == TRANSITIONING]
        if (
            service.state == HEALTHY
            and not busy
            and not meta.get("pending_deployments")
            and not meta.get("pending_split")
        ):
            endpoint = cloud.kind("online_endpoints")[name]
            if endpoint.provisioning_state == "Succeeded":
                return service
    raise AssertionError(f"{name} did not settle: {service}")


@pytest.fixture
def deployed(azure_v2, v2_cloud):
    put_model(v2_cloud, version=1)
    put_model(v2_cloud, version=2, job="other_job")
    azure_v2.deploy_model(name="bank-svc", model_name="bank-model", app_insights_enabled=True, description="d")
    settle(azure_v2, v2_cloud)
    return azure_v2


def test_deploy_builds_a_key_endpoint_and_a_no_code_mlflow_deployment(azure_v2, v2_cloud):
    from azure.ai.ml.entities import ManagedOnlineDeployment, ManagedOnlineEndpoint

    put_model(v2_cloud, version=1)
    put_model(v2_cloud, version=2, job="other_job")
    azure_v2.deploy_model(name="bank-svc", model_name="bank-model", app_insights_enabled=True, description="d")
    created = v2_cloud.calls_of("online_endpoints.begin_create_or_update")[0]["endpoint"]
    assert type(created) is ManagedOnlineEndpoint
    assert (created.name, created.auth_mode, created.description) == ("bank-svc", "key", "d")
    # Azure creates a deployment only in a provisioned endpoint, and opml gives traffic only to a provisioned one
    assert v2_cloud.calls_of("online_deployments.begin_create_or_update") == []
    assert len(v2_cloud.calls_of("online_endpoints.begin_create_or_update")) == 1
    v2_cloud.execute_pending()  # the endpoint is provisioned
    azure_v2.get_service("bank-svc")
    deployment = v2_cloud.calls_of("online_deployments.begin_create_or_update")[0]["deployment"]
    assert type(deployment) is ManagedOnlineDeployment
    assert (deployment.name, deployment.endpoint_name, deployment.model) == (
        "blue",
        "bank-svc",
        "azureml:bank-model:2",  # the latest version, none was asked for
    )
    assert (deployment.instance_type, deployment.instance_count) == ("Standard_DS3_v2", 1)
    assert deployment.app_insights_enabled is True
    assert deployment.code_configuration is None and deployment.environment is None  # MLflow: no-code
    rest = deployment._to_rest_object(location="westeurope")  # what the SDK would send
    assert (rest.properties.model, rest.sku.capacity) == ("azureml:bank-model:2", 1)
    assert len(v2_cloud.calls_of("online_endpoints.begin_create_or_update")) == 1  # blue is still Creating
    settle(azure_v2, v2_cloud)
    traffic = v2_cloud.calls_of("online_endpoints.begin_create_or_update")[-1]["endpoint"]
    assert (traffic.traffic, traffic.mirror_traffic) == ({"blue": 100}, {})
    assert str(traffic._to_rest_online_endpoint(location="westeurope").properties.auth_mode).endswith("KEY")
    assert len(v2_cloud.calls_of("online_deployments.begin_create_or_update")) == 1


def test_opmls_instance_types_are_azures():
    assert v2_endpoints.DEFAULT_INSTANCE_TYPE in v2_endpoints.MANAGED_INSTANCE_TYPES
    assert set(v2_endpoints.MANAGED_INSTANCE_TYPES) == MANAGED_SKUS


def test_the_service_of_an_endpoint(azure_v2, v2_cloud):
    put_model(v2_cloud, version=1)
    put_model(v2_cloud, version=2, job="other_job")
    service = azure_v2.deploy_model(
        name="bank-svc", model_name="bank-model", app_insights_enabled=True, description="d"
    )
    assert service.request_format == "input_data"
    assert service.scoring_uri == "https://bank-svc.westeurope.inference.ml.azure.com/score"
    assert service.swagger_uri == "https://bank-svc.westeurope.inference.ml.azure.com/swagger.json"
    assert (service.model, service.state, service.compute_type) == ("bank-model:2", TRANSITIONING, "Managed")
    assert service.auth_enabled and service.app_insights_enabled and service.description == "d"
    assert service.created_at.year >= 2026 and service.updated_at >= service.created_at
    assert [(d.name, d.traffic, d.state) for d in service.deployments] == [("blue", 100, TRANSITIONING)]
    healthy = settle(azure_v2, v2_cloud)
    assert healthy.deployments[0].state == HEALTHY and healthy.traffic == {"blue": 100}


def test_provisioning_states_map_onto_service_states():
    states = endpoint_view.STATES
    assert (states["Creating"], states["Updating"], states["Scaling"]) == (TRANSITIONING,) * 3
    assert (states["Succeeded"], states["Failed"], states["Canceled"], states["Deleting"]) == (
        HEALTHY,
        SERVICE_FAILED,
        SERVICE_FAILED,
        DELETING,
    )


def test_a_deployment_azure_cannot_provision_fails_with_its_reason_in_the_logs(deployed, v2_cloud):
    deployed.create_deployment("bank-svc", name="green", model_name="bank-model", model_version=1)
    stored = v2_cloud.kind("online_deployments")[("bank-svc", "green")]
    stored.instance_type = "Standard_Tiny"  # what Azure has no managed SKU for
    v2_cloud.execute_pending()
    green = next(d for d in deployed.list_deployments("bank-svc") if d.name == "green")
    assert green.state == SERVICE_FAILED and "logs" in green.error
    assert deployed.get_service("bank-svc").state == HEALTHY  # blue answers; green takes no traffic
    assert "Standard_Tiny is not supported" in deployed.client.online_deployments.get_logs("green", "bank-svc", 5)


def test_a_missing_model_fails_the_deployment(azure_v2, v2_cloud):
    put_model(v2_cloud, version=1)
    azure_v2.deploy_model(name="bank-svc", model_name="bank-model")
    v2_cloud.execute_pending()
    azure_v2.get_service("bank-svc")  # the deployment is sent
    del v2_cloud.kind("models")[("bank-model", "1")]  # gone before Azure provisioned the deployment
    v2_cloud.execute_pending()
    service = azure_v2.get_service("bank-svc")
    assert service.state == SERVICE_FAILED and "blue" in service.error
    assert "Model bank-model:1 not found" in azure_v2.get_service_logs("bank-svc", tail=5)


def test_azures_naming_rule_and_what_managed_endpoints_cannot_do(azure_v2, v2_cloud):
    put_model(v2_cloud)
    for bad in ("1bank", "bank_svc", "ab", "x" * 33, "bank-", "Bank-Svc"):  # the SDK would lowercase Bank-Svc
        with pytest.raises(InvalidInput, match="unique in the workspace's Azure region"):
            azure_v2.deploy_model(name=bad, model_name="bank-model")
    with pytest.raises(InvalidInput, match="always authenticate"):
        azure_v2.deploy_model(name="bank-svc", model_name="bank-model", auth_enabled=False)
    assert v2_cloud.calls_of("online_endpoints.begin_create_or_update") == []
    azure_v2.deploy_model(name="bank-svc2", model_name="bank-model")
    with pytest.raises(BackendUnavailable, match="create a new deployment"):
        azure_v2.restart_service("bank-svc2")
    with pytest.raises(BackendUnavailable, match="Application Insights"):
        azure_v2.get_service_telemetry("bank-svc2")
    with pytest.raises(BackendUnavailable, match="Azure Monitor"):
        azure_v2.compare_deployments("bank-svc2", since=0)
    with pytest.raises(BackendUnavailable, match="data_collector"):
        azure_v2.get_collected_data("bank-svc2")


def test_keys_come_from_the_endpoint_and_are_regenerated_by_type(deployed, v2_cloud):
    keys = deployed.get_service_keys("bank-svc")
    assert (keys.primary, keys.secondary) == v2_cloud.kind("endpoint_keys")["bank-svc"]
    deployed.regenerate_service_key("bank-svc", "secondary")
    assert v2_cloud.calls_of("online_endpoints.begin_regenerate_keys")[-1] == {
        "name": "bank-svc",
        "key_type": "secondary",
    }


def test_app_insights_is_switched_on_every_deployment(deployed, v2_cloud):
    deployed.create_deployment("bank-svc", name="green", model_name="bank-model", model_version=1)
    settle(deployed, v2_cloud)
    off = deployed.update_service("bank-svc", app_insights_enabled=False)
    assert not off.app_insights_enabled
    sent = [call["deployment"] for call in v2_cloud.calls_of("online_deployments.begin_create_or_update")[2:]]
    assert sorted((d.name, d.app_insights_enabled) for d in sent) == [("blue", False), ("green", False)]
    assert all(not d.app_insights_enabled for d in v2_cloud.kind("online_deployments").values())


def test_the_split_is_the_endpoints_own(deployed, v2_cloud):
    deployed.create_deployment("bank-svc", name="green", model_name="bank-model", model_version=1, traffic=10)
    stored = v2_cloud.kind("online_endpoints")["bank-svc"]
    assert stored.traffic == {"blue": 100}  # until green is provisioned
    assert deployed.get_service("bank-svc").traffic == {"blue": 90, "green": 10}  # what was asked for
    settle(deployed, v2_cloud)
    stored = v2_cloud.kind("online_endpoints")["bank-svc"]
    assert (stored.traffic, stored.mirror_traffic) == ({"blue": 90, "green": 10}, {})
    deployed.set_traffic("bank-svc", {"blue": 100})
    settle(deployed, v2_cloud)
    deployed.set_mirror_traffic("bank-svc", {"green": 20})
    settle(deployed, v2_cloud)
    sent = v2_cloud.calls_of("online_endpoints.begin_create_or_update")[-1]["endpoint"]
    assert (sent.traffic, sent.mirror_traffic) == ({"blue": 100}, {"green": 20})  # zeroes dropped, as the SDK does
    assert deployed.get_service("bank-svc").mirror_traffic == {"blue": 0, "green": 20}


def test_the_previous_split_survives_a_new_session(deployed, v2_cloud, tmp_path):
    deployed.create_deployment("bank-svc", name="green", model_name="bank-model", model_version=1)
    deployed.set_traffic("bank-svc", {"blue": 40, "green": 60})
    again = AzureMLv2Backend(
        config=write_config(tmp_path), sdk=make_fake_sdk(v2_cloud), credential=object(), state_dir=tmp_path / "v2"
    )
    assert again.rollback_traffic("bank-svc").traffic == {"blue": 100, "green": 0}
    assert json.loads((tmp_path / "v2" / "endpoints.json").read_text())["bank-svc"]["previous_traffic"] == {
        "blue": 40,
        "green": 60,
    }


def test_a_new_endpoint_of_an_old_name_has_no_split_to_roll_back_to(deployed, v2_cloud):
    deployed.create_deployment("bank-svc", name="green", model_name="bank-model", model_version=1)
    deployed.set_traffic("bank-svc", {"blue": 40, "green": 60})
    deployed.delete_service("bank-svc")
    assert deployed.get_service("bank-svc").state == DELETING
    v2_cloud.execute_pending()
    deployed.deploy_model(name="bank-svc", model_name="bank-model")
    with pytest.raises(Conflict, match="no earlier traffic split"):
        deployed.rollback_traffic("bank-svc")


def test_the_fake_refuses_what_azure_refuses(deployed, v2_cloud):
    """opml checks the split before Azure does; Azure's own checks are played too, so a split opml let through
    wrongly would fail here."""
    client = deployed.client
    endpoint = client.online_endpoints.get("bank-svc")
    for traffic, mirror, fragment in (
        ({"blue": 90}, {}, "add up to 100"),
        ({"blue": 100, "red": 0}, {}, None),  # zero shares are dropped before the PUT
        ({"blue": 100}, {"red": 10}, "do not exist"),
        ({"blue": 100}, {"blue": 10}, "both live and mirror"),
    ):
        endpoint.traffic, endpoint.mirror_traffic = traffic, mirror
        if fragment is None:
            client.online_endpoints.begin_create_or_update(endpoint)
            continue
        with pytest.raises(Exception, match=fragment):
            client.online_endpoints.begin_create_or_update(endpoint)
    with pytest.raises(Exception, match="has traffic"):
        client.online_deployments.begin_delete("blue", "bank-svc")


def test_schema_changes_are_refused_unless_confirmed(azure_v2, v2_cloud):
    columns = [{"name": "age", "type": "integer"}, {"name": "job", "type": "string"}]
    put_model(v2_cloud, version=1, schema=columns)
    put_model(v2_cloud, version=2, schema=[{"name": "age", "type": "integer"}])
    put_model(v2_cloud, version=3)  # lineage without columns: nothing to compare
    azure_v2.deploy_model(name="bank-svc", model_name="bank-model", model_version=1)
    with pytest.raises(SchemaChange, match="no column"):
        azure_v2.create_deployment("bank-svc", name="green", model_name="bank-model", model_version=2)
    assert [d.name for d in azure_v2.list_deployments("bank-svc")] == ["blue"]
    azure_v2.create_deployment(
        "bank-svc", name="green", model_name="bank-model", model_version=2, allow_schema_change=True
    )
    azure_v2.create_deployment("bank-svc", name="red", model_name="bank-model", model_version=3)
    assert [d.model for d in azure_v2.list_deployments("bank-svc")] == ["bank-model:1", "bank-model:2", "bank-model:3"]


def test_a_model_of_another_task_is_refused_on_an_endpoint(azure_v2, v2_cloud):
    put_model(v2_cloud, version=1)
    put_model(v2_cloud, version=2, task="regression")
    put_model(v2_cloud, version=3, task="classification")
    azure_v2.deploy_model(name="bank-svc", model_name="bank-model", model_version=1)
    with pytest.raises(InvalidInput, match="bank-model:2 is a regression model and endpoint 'bank-svc' serves a"):
        azure_v2.create_deployment("bank-svc", name="green", model_name="bank-model", model_version=2)
    azure_v2.create_deployment("bank-svc", name="green", model_name="bank-model", model_version=3)
    assert [d.name for d in azure_v2.list_deployments("bank-svc")] == ["blue", "green"]


def test_logs_are_the_live_deployments(deployed, v2_cloud):
    v2_cloud.execute_pending()
    deployed.create_deployment("bank-svc", name="green", model_name="bank-model", model_version=1)
    deployed.promote_deployment("bank-svc", "green")
    v2_cloud.execute_pending()
    logs = deployed.get_service_logs("bank-svc", tail=2)
    assert v2_cloud.calls_of("online_deployments.get_logs")[-1] == {
        "name": "green",
        "endpoint_name": "bank-svc",
        "lines": 2,
    }
    assert logs.splitlines() == ["Scoring timeout is set to 60000", "Listening on 0.0.0.0:31311"]


@pytest.mark.parametrize(
    ("error", "expected", "kept"),
    [
        (
            http_error(400, "Not enough quota available for Standard_DS3_v2 in SubscriptionId", "BadArgument"),
            Conflict,
            "Not enough quota",
        ),
        (expired_sign_in(), Unauthorized, "AADSTS700082"),
        (http_error(503, "Service Unavailable", "ServiceError"), BackendUnavailable, "Service Unavailable"),
    ],
)
def test_azures_refusals_are_opml_errors_keeping_azures_message(deployed, v2_cloud, error, expected, kept):
    v2_cloud.refuse("online_deployments.begin_create_or_update", error)
    with pytest.raises(expected, match=kept):
        deployed.create_deployment("bank-svc", name="green", model_name="bank-model")
    assert [d.name for d in deployed.list_deployments("bank-svc")] == ["blue"]


def test_an_unknown_model_deploys_nothing(azure_v2, v2_cloud):
    with pytest.raises(NotFound, match="no model nope"):
        azure_v2.deploy_model(name="bank-svc", model_name="nope")
    assert v2_cloud.kind("online_endpoints") == {}


BUSY = "Cannot create a deployment in endpoint bank-svc because it is in Updating provisioning state."


def test_a_step_azure_is_not_ready_for_is_sent_again_later(deployed, v2_cloud):
    for _ in range(2):  # creating it, then the look at the endpoint that create_deployment returns
        v2_cloud.refuse("online_deployments.begin_create_or_update", http_error(409, BUSY, "Conflict"))
    green = deployed.create_deployment("bank-svc", name="green", model_name="bank-model", model_version=1)
    assert (green.state, green.error) == (TRANSITIONING, None)
    assert ("bank-svc", "green") not in v2_cloud.kind("online_deployments")
    assert len(v2_cloud.calls_of("online_deployments.begin_create_or_update")) == 3  # blue, then green twice
    settle(deployed, v2_cloud)
    assert v2_cloud.kind("online_deployments")[("bank-svc", "green")].provisioning_state == "Succeeded"


def test_a_planned_deployment_azure_refuses_shows_azures_reason(azure_v2, v2_cloud):
    put_model(v2_cloud)
    azure_v2.deploy_model(name="bank-svc", model_name="bank-model")
    v2_cloud.refuse(
        "online_deployments.begin_create_or_update",
        http_error(400, "Not enough quota available for Standard_DS3_v2 in SubscriptionId sub-1", "BadArgument"),
    )
    v2_cloud.execute_pending()
    service = azure_v2.get_service("bank-svc")
    assert service.state == SERVICE_FAILED and "Not enough quota" in service.error
    assert "Not enough quota" in service.deployments[0].error
    azure_v2.get_service("bank-svc")
    assert len(v2_cloud.calls_of("online_deployments.begin_create_or_update")) == 1  # not sent again and again


def test_a_split_azure_refuses_shows_on_the_service_until_another_is_asked_for(deployed, v2_cloud):
    deployed.create_deployment("bank-svc", name="green", model_name="bank-model", model_version=1, traffic=10)
    v2_cloud.execute_pending()  # green is provisioned
    v2_cloud.refuse(
        "online_endpoints.begin_create_or_update", http_error(400, "Traffic update rejected", "BadArgument")
    )
    refused = deployed.get_service("bank-svc")
    assert "Traffic update rejected" in refused.error and refused.traffic == {"blue": 90, "green": 10}
    assert v2_cloud.kind("online_endpoints")["bank-svc"].traffic == {"blue": 100}
    deployed.set_traffic("bank-svc", {"blue": 80, "green": 20})
    assert settle(deployed, v2_cloud).error is None
    assert v2_cloud.kind("online_endpoints")["bank-svc"].traffic == {"blue": 80, "green": 20}


def test_a_deployment_still_answering_on_azure_is_not_deleted(deployed, v2_cloud):
    deployed.create_deployment("bank-svc", name="green", model_name="bank-model", model_version=1)
    promoted = deployed.promote_deployment("bank-svc", "green")  # green is still Creating on Azure
    assert promoted.traffic == {"blue": 0, "green": 100}
    with pytest.raises(Conflict, match="still answers on Azure"):
        deployed.delete_deployment("bank-svc", "blue")
    settle(deployed, v2_cloud)
    deployed.delete_deployment("bank-svc", "blue")
    v2_cloud.execute_pending()
    assert [d.name for d in deployed.list_deployments("bank-svc")] == ["green"]
    assert v2_cloud.kind("online_endpoints")["bank-svc"].traffic == {"green": 100}


def test_an_endpoint_azure_cannot_provision_is_a_failed_service(azure_v2, v2_cloud):
    from tests.azure_v2_fakes import azure_sets

    put_model(v2_cloud)
    azure_v2.deploy_model(name="bank-svc", model_name="bank-model")
    azure_sets(v2_cloud.kind("online_endpoints")["bank-svc"], provisioning_state="Failed")
    service = azure_v2.get_service("bank-svc")
    assert service.state == SERVICE_FAILED and "could not provision endpoint 'bank-svc'" in service.error
    assert [d.state for d in service.deployments] == [SERVICE_FAILED]
    assert v2_cloud.calls_of("online_deployments.begin_create_or_update") == []  # nothing sent to a failed one


def test_a_change_refused_while_the_endpoint_is_busy_is_a_conflict_to_retry():
    """Azure answers 409 while an endpoint is still Updating: not "already exists"."""
    from opml.backends.azure_common.errors import translate

    busy = http_error(409, "Endpoint bank-svc cannot be updated while it is in provisioning state Updating", "Conflict")
    error = translate(busy)
    assert isinstance(error, Conflict) and "provisioning state Updating" in str(error) and "try again" in str(error)
    assert isinstance(translate(http_error(409, "Endpoint bank-svc already exists", "Conflict")), AlreadyExists)


def test_deployments_are_sized_as_asked_and_azure_spells_the_size(azure_v2, v2_cloud):
    put_model(v2_cloud, version=1)
    put_model(v2_cloud, version=2, job="other_job")
    azure_v2.deploy_model(name="bank-svc", model_name="bank-model", instance_type="standard_f4s_v2", instance_count=3)
    settle(azure_v2, v2_cloud)
    sent = v2_cloud.calls_of("online_deployments.begin_create_or_update")[0]["deployment"]
    assert (sent.instance_type, sent.instance_count) == ("Standard_F4s_v2", 3)
    assert sent._to_rest_object(location="westeurope").sku.capacity == 3  # what Azure receives
    azure_v2.create_deployment("bank-svc", name="green", model_name="bank-model", model_version=2)
    settle(azure_v2, v2_cloud)
    sizes = {d.name: (d.instance_type, d.instance_count) for d in azure_v2.list_deployments("bank-svc")}
    assert sizes == {"blue": ("Standard_F4s_v2", 3), "green": ("Standard_DS3_v2", 1)}  # as Azure holds them
    with pytest.raises(InvalidInput, match="not a VM size of managed online endpoints"):
        azure_v2.create_deployment("bank-svc", name="red", model_name="bank-model", instance_type="Basic_A1")


def test_the_cli_deploys_a_sized_endpoint_on_sdk_v2(v2_cloud, tmp_path, monkeypatch, capsys):
    import json as json_module

    from opml.cli import main

    put_model(v2_cloud, version=1)
    monkeypatch.setattr("opml.backends.azure_v2.backend.load_sdk", lambda: make_fake_sdk(v2_cloud))
    monkeypatch.setenv("OPML_WORKSPACE", str(tmp_path / "home"))
    config = str(write_config(tmp_path))
    argv = ["--config", config, "--sdk", "v2", "--json", "services", "deploy", "bank-svc", "--model", "bank-model:1"]
    assert main([*argv, "--instance-type", "Standard_E4s_v3", "--instance-count", "2"]) == 0
    shown = json_module.loads(capsys.readouterr().out)
    assert shown["request_format"] == "input_data"
    [deployment] = shown["deployments"]
    assert (deployment["instance_type"], deployment["instance_count"]) == ("Standard_E4s_v3", 2)
    assert main([*argv[:5], "services", "deploy", "other-svc", "--model", "bank-model:1", "--instance-count", "0"]) == 2
    assert "instance count must be a whole number from 1 to 50" in capsys.readouterr().err
