"""AutoML tasks on both Azure backends, over the fakes: a regression run as AutoMLConfig (SDK v1) and as a
``RegressionJob`` (SDK v2), what is refused before anything reaches Azure, the best trial of a metric that falls
as models improve, regression and multiclass metrics on the leaderboard as Azure logs them, pipelines' AutoML steps
per task, and the task a registered model carries. opml's names are checked against the installed SDKs' own."""

from __future__ import annotations

import importlib.util
import json

import pytest

from opml.automl.names import (
    CLASSIFICATION_METRICS,
    LOWER_IS_BETTER,
    REGRESSION_METRICS,
    TASKS,
    algorithms,
    all_metrics,
    primary_metrics,
)
from opml.errors import InvalidInput
from opml.leaderboard import leaderboard
from tests.azure_fakes import FakeAutoMLConfig, automl_metric_objectives, check_automl_settings
from tests.azure_fixtures import submit_automl
from tests.azure_v2_fakes.compute import add_cluster

REGRESSION = {"label_column": "duration", "task": "regression"}  # bank's call duration: a quantity
NRMSE = "normalized_root_mean_squared_error"


@pytest.fixture
def v2(azure_v2, v2_cloud):
    add_cluster(v2_cloud, "cpu-cluster", max_instances=4)
    return azure_v2


def sent_to_azure(backend_name: str, cloud) -> list:
    """What opml submitted: v1 ``Experiment.submit`` calls, v2 ``jobs.create_or_update`` calls."""
    if backend_name == "azure":
        return [arguments for call, arguments in cloud.calls if call == "Experiment.submit"]
    return cloud.calls_of("jobs.create_or_update")


# -- opml's names are Azure's -----------------------------------------------------------------------------------


def test_opmls_metrics_and_algorithms_are_azures_for_each_task():
    """Each name opml sends or reads is one Azure ML knows for that task: primary metrics (SDK v1's sets and SDK
    v2's enums alike), the metrics a leaderboard shows (macro and micro forms included: Azure logs them under those
    names for every classification trial), the algorithms (v1's customer-facing model names, v2's enums), and which
    metrics fall as models improve (Azure's ``MetricObjective``)."""
    from azureml.automl.core.shared.constants import Metric, ModelNameMappings

    from opml.backends.azure_v2.jobs import azure_algorithms, azure_primary_metric

    v1_primary = {"classification": Metric.CLASSIFICATION_PRIMARY_SET, "regression": Metric.REGRESSION_PRIMARY_SET}
    v1_models = {
        "classification": ModelNameMappings.CustomerFacingModelToLegacyModelMapClassification,
        "regression": ModelNameMappings.CustomerFacingModelToLegacyModelMapRegression,
    }
    for task in TASKS:
        assert set(primary_metrics(task)) == set(v1_primary[task])
        v2_spellings = {azure_primary_metric(task, metric) for metric in primary_metrics(task)}
        assert len(v2_spellings) == len(primary_metrics(task))  # one SDK v2 metric each
        objectives = automl_metric_objectives(task)
        assert set(all_metrics(task)) <= set(objectives), set(all_metrics(task)) - set(objectives)
        assert {m for m in all_metrics(task) if m in LOWER_IS_BETTER} == {
            m for m in all_metrics(task) if objectives[m] == "minimize"
        }
        assert set(algorithms(task)) <= set(v1_models[task]) and set(algorithms(task)) <= set(azure_algorithms(task))
    assert {"AUC_macro", "f1_score_macro", "recall_score_micro"} <= set(CLASSIFICATION_METRICS)


def test_the_v1_register_step_knows_which_metrics_fall_as_opml_does():
    """The register step runs in Azure, without opml: its own rule picks the best trial when Azure tagged none."""
    from opml.backends.azure.pipeline_steps import SCRIPTS

    spec = importlib.util.spec_from_file_location("register_model_step", SCRIPTS / "register_model.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    for metric in (*CLASSIFICATION_METRICS, *REGRESSION_METRICS):
        assert script.lower_is_better(metric) == (metric in LOWER_IS_BETTER), metric


def test_the_v2_primary_metric_is_sent_in_the_sdks_spelling():
    from azure.ai.ml.automl import ClassificationPrimaryMetrics, RegressionPrimaryMetrics

    from opml.backends.azure_v2.jobs import azure_primary_metric

    assert azure_primary_metric("regression", NRMSE) == RegressionPrimaryMetrics.NORMALIZED_ROOT_MEAN_SQUARED_ERROR
    assert azure_primary_metric("regression", "spearman_correlation") == "SpearmanCorrelation"
    assert azure_primary_metric("classification", "AUC_weighted") == ClassificationPrimaryMetrics.AUC_WEIGHTED
    with pytest.raises(InvalidInput, match=r"AutoML regression has no primary metric 'accuracy'.*r2_score"):
        azure_primary_metric("regression", "accuracy")


# -- refused before anything is sent ----------------------------------------------------------------------------


@pytest.mark.parametrize("backend_name", ["azure", "v2"])
@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({**REGRESSION, "allowed_algorithms": ["XGBoostClassifier"]}, "not regression algorithm.*XGBoostClassifier"),
        ({**REGRESSION, "blocked_algorithms": ["LogisticRegression"]}, "not regression algorithm.*LogisticRegression"),
        ({**REGRESSION, "primary_metric": "AUC_weighted"}, "'AUC_weighted' is a classification metric"),
        ({"primary_metric": "r2_score"}, "'r2_score' is a regression metric"),
        ({"allowed_algorithms": ["ElasticNet"]}, "not classification algorithm.*ElasticNet"),
        ({"task": "regression"}, "text values"),  # the label y is yes/no
        ({"label_column": "duration"}, "too many classes.*'regression'"),
        ({**REGRESSION, "task": "forecasting"}, "task 'forecasting' is not supported"),
    ],
)
def test_a_setting_of_the_other_task_is_refused_before_anything_is_sent(
    request, backend_name, settings, message, bank_small_csv
):
    backend = request.getfixturevalue(backend_name)
    cloud = request.getfixturevalue("cloud" if backend_name == "azure" else "v2_cloud")
    with pytest.raises(InvalidInput, match=message):
        submit_automl(backend, bank_small_csv, **settings)
    assert sent_to_azure(backend_name, cloud) == []


@pytest.mark.parametrize(
    ("arguments", "refused"),
    [
        ({"task": "regression", "primary_metric": "accuracy"}, "'primary_metric' specified"),
        ({"task": "classification", "primary_metric": NRMSE}, "'primary_metric' specified"),
        (
            {"task": "regression", "primary_metric": "r2_score", "allowed_models": ["XGBoostClassifier"]},
            "allowed_models",
        ),
    ],
)
def test_the_v1_fake_refuses_what_azures_automl_settings_refuse(arguments, refused, tmp_path):
    """The fake AutoMLConfig is checked by the SDK's own AutoMLBaseSettings when submitted, so a setting of the
    other task that got past opml would fail there as in Azure, and opml would show Azure's words as bad input."""
    from opml.backends.azure_common.errors import translate

    config = FakeAutoMLConfig(**arguments, debug_log=str(tmp_path / "automl.log"), experiment_timeout_hours=0.5)
    with pytest.raises(Exception, match=refused) as raised:
        check_automl_settings(config)
    assert type(raised.value).__name__ == "ConfigException"
    assert isinstance(translate(raised.value), InvalidInput)
    accepted = FakeAutoMLConfig(
        task="regression",
        primary_metric=NRMSE,
        allowed_models=["XGBoostRegressor", "ElasticNet"],
        debug_log=str(tmp_path / "automl.log"),
        experiment_timeout_hours=0.5,
    )
    settings = check_automl_settings(accepted)
    assert (settings.task_type, settings.primary_metric) == ("regression", NRMSE)
    assert sorted(settings.whitelist_models) == ["ElasticNet", "XGBoostRegressor"]


# -- SDK v1: AutoMLConfig ---------------------------------------------------------------------------------------


def test_v1_a_regression_run_is_an_automl_config_of_that_task(azure, cloud, bank_small_csv):
    run = submit_automl(
        azure,
        bank_small_csv,
        **REGRESSION,
        primary_metric=NRMSE,
        experiment_timeout_minutes=45,
        max_iterations=20,
        max_concurrent_iterations=2,
        n_cross_validations=3,
        allowed_algorithms=["XGBoostRegressor", "ElasticNet", "LightGBM"],
        blocked_algorithms=["LightGBM"],
        enable_stack_ensemble=False,
    )
    [call] = sent_to_azure("azure", cloud)
    settings = call["config"].settings
    assert (settings["task"], settings["primary_metric"], settings["label_column_name"]) == (
        "regression",
        NRMSE,
        "duration",
    )
    assert settings["allowed_models"] == ["XGBoostRegressor", "ElasticNet", "LightGBM"]
    assert settings["blocked_models"] == ["LightGBM"]
    assert (settings["experiment_timeout_hours"], settings["iterations"], settings["n_cross_validations"]) == (
        0.75,
        20,
        3,
    )
    assert (settings["max_concurrent_iterations"], settings["enable_stack_ensemble"]) == (2, False)
    assert json.loads(call["tags"]["opml_params"])["task"] == "regression"
    assert run.progress["primary_metric"] == NRMSE


def test_v1_the_default_metric_of_a_regression_run_is_azures(azure, cloud, bank_small_csv):
    run = submit_automl(azure, bank_small_csv, **REGRESSION)
    [call] = sent_to_azure("azure", cloud)
    assert call["config"].settings["primary_metric"] == "spearman_correlation"  # AutoMLConfig's own default
    assert run.params["primary_metric"] == "spearman_correlation"


@pytest.fixture
def v1_regression(azure, cloud, bank_small_csv):
    """A finished v1 AutoML regression run ranked by a metric that falls as models improve."""
    run = submit_automl(azure, bank_small_csv, **REGRESSION, primary_metric=NRMSE)
    cloud.execute_all()
    return azure.get_run(run.id)


def test_v1_the_best_regression_trial_has_the_lowest_error(azure, cloud, v1_regression):
    trials = {run_id: run for run_id, run in cloud.runs.items() if run_id.startswith(f"{v1_regression.id}_")}
    errors = {run_id: run._metrics[NRMSE] for run_id, run in trials.items() if NRMSE in run._metrics}
    lowest = min(errors, key=errors.get)
    assert max(errors, key=errors.get) != lowest  # the trials differ: the highest error would be the wrong pick
    assert v1_regression.progress["best_child_id"] == lowest
    assert v1_regression.progress["best_metric"] == pytest.approx(errors[lowest])
    rows = leaderboard(azure, v1_regression.id)
    assert rows[0]["run_id"] == lowest and rows[0]["best"]
    assert [row[NRMSE] for row in rows] == sorted(errors.values())  # best first, then by the error, rising
    assert set(REGRESSION_METRICS) <= rows[0].keys() and "accuracy" not in rows[0]
    assert all(rows[0][name] is not None for name in REGRESSION_METRICS)  # every metric Azure logged, read back
    algorithms_tried = {row["algorithm"] for row in rows}
    assert algorithms_tried <= {"LightGBM", "XGBoostRegressor", "ElasticNet", "VotingEnsemble"}


def test_v1_a_registered_regression_model_says_its_task(azure, cloud, v1_regression):
    model = azure.register_model(name="duration-model", run_id=v1_regression.id)
    call = cloud.last_call("Run.register_model")
    assert call["properties"]["opml_task"] == "regression"
    assert (model.manifest["task"], model.primary_metric) == ("regression", NRMSE)
    assert model.run_id == v1_regression.progress["best_child_id"] and "r2_score" in model.metrics
    assert azure.get_model("duration-model").manifest["task"] == "regression"  # as Azure gives it back


def test_v1_a_model_registered_before_tasks_is_a_classifier_or_what_its_metric_says():
    from types import SimpleNamespace

    from opml.backends.azure.convert import to_model

    def model(properties):  # the attributes of the SDK's Model that opml reads
        fields = {"name": "m", "version": 1, "description": "", "tags": {}, "run_id": "r", "id": "m:1"}
        return SimpleNamespace(**fields, properties=properties, created_time=None)

    assert to_model(model({"opml_primary_metric": "AUC_weighted"})).manifest["task"] == "classification"
    assert to_model(model({"opml_primary_metric": "r2_score"})).manifest["task"] == "regression"
    assert to_model(model({})).manifest["task"] == "classification"


def test_v1_a_multiclass_leaderboard_reads_the_macro_and_micro_metrics_azure_logs(azure, cloud, bank_small_csv):
    run = submit_automl(azure, bank_small_csv, label_column="education", primary_metric="AUC_weighted")
    cloud.execute_all()
    rows = leaderboard(azure, run.id)
    best = cloud.runs[rows[0]["run_id"]]
    for name in ("AUC_macro", "AUC_micro", "f1_score_macro", "precision_score_micro", "recall_score_macro"):
        assert rows[0][name] == best._metrics[name], name
    assert set(CLASSIFICATION_METRICS) <= rows[0].keys() and NRMSE not in rows[0]
    assert azure.register_model(name="education", run_id=run.id).manifest["task"] == "classification"


def test_v1_a_regression_pipeline_trains_and_registers_a_regression_model(azure, cloud, bank_small_csv):
    azure.register_dataset(name="bank", source=bank_small_csv)
    metric = "normalized_mean_absolute_error"
    settings = {"dataset": "${dataset}", **REGRESSION, "primary_metric": metric, "experiment_timeout_minutes": 20}
    steps = [
        {"name": "train", "type": "automl", "settings": settings},
        {"name": "register", "type": "register_model", "model_name": "duration-model"},
    ]
    pipeline = azure.create_pipeline(name="duration", steps=steps, parameters={"dataset": "bank"})
    run = azure.run_pipeline(pipeline.id, experiment="duration-pipeline")
    automl_step, register_step = cloud.last_call("Experiment.submit")["config"].steps
    assert automl_step.automl_config.settings["task"] == "regression"
    assert automl_step.automl_config.settings["primary_metric"] == metric
    flags = dict(zip(register_step.arguments[0::2], register_step.arguments[1::2], strict=True))
    assert (flags["--task"], flags["--primary_metric"]) == ("regression", metric)
    cloud.execute_all()
    assert azure.get_run(run.id).status == "Completed"
    train = next(step for step in cloud.runs[run.id]._children if step.display_name == "train")
    trials = [child for child in train._children if child.properties.get("runTemplate") == "automl_child"]
    best = min(trials, key=lambda child: child._metrics[metric])  # the register step's own choice: Azure tagged none
    model = azure.get_model("duration-model")
    assert model.run_id == best.id and model.manifest["task"] == "regression" and model.primary_metric == metric
    azure.publish_pipeline(pipeline.id, name="duration", description="", version="1")  # built as Azure validates it


# -- SDK v2: RegressionJob --------------------------------------------------------------------------------------


def test_v2_a_regression_run_is_a_regression_job(v2, v2_cloud, bank_small_csv):
    from azure.ai.ml.entities._job.automl.tabular.regression_job import RegressionJob

    run = submit_automl(
        v2,
        bank_small_csv,
        **REGRESSION,
        primary_metric=NRMSE,
        experiment_timeout_minutes=45,
        max_iterations=20,
        max_concurrent_iterations=2,
        enable_early_stopping=False,
        allowed_algorithms=["XGBoostRegressor", "ElasticNet", "RandomForest"],
        blocked_algorithms=["RandomForest"],
        enable_voting_ensemble=False,
        validation_size=0.25,
    )
    [call] = sent_to_azure("v2", v2_cloud)
    job = call["job"]
    assert isinstance(job, RegressionJob) and job.target_column_name == "duration"
    assert json.loads(job.tags["opml_params"])["task"] == "regression"
    task = job._to_rest_object().as_dict()["properties"]["taskDetails"]  # what jobs.create_or_update sends
    assert (task["taskType"], task["primaryMetric"]) == ("Regression", "NormalizedRootMeanSquaredError")
    assert task["validationDataSize"] == 0.25 and "nCrossValidations" not in task
    limits = task["limitSettings"]
    assert (limits["timeout"], limits["maxTrials"], limits["maxConcurrentTrials"]) == ("PT45M", 20, 2)
    assert limits["enableEarlyTermination"] is False
    training = task["trainingSettings"]
    assert training["allowedTrainingAlgorithms"] == ["XGBoostRegressor", "ElasticNet", "RandomForest"]
    assert training["blockedTrainingAlgorithms"] == ["RandomForest"]
    assert (training["enableVoteEnsemble"], training["enableStackEnsemble"]) == (False, True)
    assert task["featurizationSettings"]["mode"] == "auto"
    assert run.progress["primary_metric"] == NRMSE


def test_v2_a_classification_run_stays_a_classification_job(v2, v2_cloud, bank_small_csv):
    from azure.ai.ml.entities._job.automl.tabular.classification_job import ClassificationJob

    submit_automl(v2, bank_small_csv, primary_metric="norm_macro_recall")
    job = sent_to_azure("v2", v2_cloud)[0]["job"]
    assert isinstance(job, ClassificationJob)
    assert job._to_rest_object().as_dict()["properties"]["taskDetails"]["primaryMetric"] == "NormMacroRecall"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"task": "regression", "primary_metric": "accuracy"}, "regression has no primary metric 'accuracy'"),
        ({"task": "regression", "allowed_algorithms": ["XGBoostClassifier"]}, "regression has no algorithm XGBoost"),
        ({"task": "classification", "blocked_algorithms": ["XGBoostRegressor"]}, "classification has no algorithm"),
        ({"task": "forecasting"}, "classification or regression, not 'forecasting'"),
    ],
)
def test_v2_an_automl_job_of_names_the_task_lacks_is_refused(v2, params, message):
    """What the SDK would take and Azure refuse later (or the SDK refuse with a KeyError) is refused as bad input."""
    base = {"label_column": "duration", "experiment_timeout_minutes": 30, "max_iterations": 5}
    with pytest.raises(InvalidInput, match=message):
        v2.runs.automl_job({**base, **params}, "cpu-cluster", training_input=object())


@pytest.fixture
def v2_regression(v2, v2_cloud, azure_v2_executor, bank_small_csv):
    run = submit_automl(v2, bank_small_csv, **REGRESSION, primary_metric=NRMSE)
    return v2.wait_for_run(run.id, timeout=30, poll_seconds=0.05)


def test_v2_regression_trials_and_leaderboard_come_from_mlflow(v2, v2_cloud, v2_regression):
    trials = [f"{v2_regression.id}_{index}" for index in range(3)]
    errors = {trial: v2_cloud.kind("metrics")[trial][NRMSE] for trial in trials}
    lowest = min(errors, key=errors.get)
    v2_cloud.kind("mlflow_tags").pop(v2_regression.id)  # Azure has named no best trial: opml ranks them
    progress = v2.get_run(v2_regression.id).progress
    assert progress["best_child_id"] == lowest and progress["best_metric"] == pytest.approx(errors[lowest])
    rows = leaderboard(v2, v2_regression.id)
    assert rows[0]["run_id"] == lowest and [row[NRMSE] for row in rows] == sorted(errors.values())
    assert all(rows[0][name] is not None for name in REGRESSION_METRICS) and "accuracy" not in rows[0]
    assert {row["algorithm"] for row in rows} == {"LightGBM", "ElasticNet", "RandomForest"}


def test_v2_a_registered_regression_model_says_its_task(v2, v2_cloud, v2_regression):
    model = v2.register_model(name="duration-model", run_id=v2_regression.id)
    [call] = v2_cloud.calls_of("models.create_or_update")
    assert call["model"].properties["opml_task"] == "regression"
    assert (model.manifest["task"], model.primary_metric) == ("regression", NRMSE)
    assert v2.get_model("duration-model").manifest["task"] == "regression"


def test_v2_a_multiclass_leaderboard_reads_the_macro_and_micro_metrics(v2, v2_cloud, azure_v2_executor, bank_small_csv):
    run = submit_automl(v2, bank_small_csv, label_column="education", primary_metric="AUC_weighted")
    finished = v2.wait_for_run(run.id, timeout=30, poll_seconds=0.05)
    rows = leaderboard(v2, finished.id)
    logged = v2_cloud.kind("metrics")[rows[0]["run_id"]]
    for name in ("AUC_macro", "AUC_micro", "f1_score_macro", "precision_score_micro", "recall_score_macro"):
        assert rows[0][name] == pytest.approx(logged[name]), name
    assert rows[0]["run_id"] == finished.progress["best_child_id"]


def test_v2_a_model_a_pipeline_registered_through_mlflow_says_its_task():
    """The register node registers through MLflow, which keeps opml's lineage as the version's tags."""
    from azure.ai.ml.entities import Model

    from opml.backends.azure_v2.convert import to_model

    tags = {"opml_task": "regression", "opml_primary_metric": "r2_score", "opml_dataset": "bank:1", "team": "ops"}
    model = to_model(Model(name="m", version="1", tags=tags, path="azureml://jobs/j/outputs/artifacts/x"))
    assert (model.manifest["task"], model.primary_metric, model.dataset) == ("regression", "r2_score", "bank:1")
    assert model.tags == {"team": "ops"}
    old = to_model(Model(name="m", version="2", tags={"opml_primary_metric": "accuracy"}, path="azureml://x"))
    assert old.manifest["task"] == "classification"


def test_v2_a_regression_pipelines_automl_node_is_a_regression_node(v2, v2_cloud, bank_small_csv):
    v2.register_dataset(name="bank", source=bank_small_csv)
    settings = {"dataset": "${dataset}", **REGRESSION, "primary_metric": "r2_score", "experiment_timeout_minutes": 20}
    steps = [
        {"name": "train", "type": "automl", "settings": settings},
        {"name": "register", "type": "register_model", "model_name": "duration-model"},
    ]
    pipeline = v2.create_pipeline(name="duration", steps=steps, parameters={"dataset": "bank"})
    job = v2.pipelines.pipeline_job(pipeline, {}, tags={})
    train, register = job.jobs["train"], job.jobs["register"]
    assert str(getattr(train.task_type, "value", train.task_type)) == "Regression"
    assert train.target_column_name == "duration" and str(train.primary_metric.value) == "R2Score"
    assert (register.inputs.task._data, register.inputs.primary_metric._data) == ("regression", "r2_score")
    assert "--task ${{inputs.task}}" in register.command
    rest = job._to_rest_object().as_dict()["properties"]["jobs"]  # what jobs.create_or_update sends
    assert (rest["train"]["type"], rest["train"]["task"], rest["train"]["primary_metric"]) == (
        "automl",
        "regression",
        "r2_score",
    )
    run = v2.run_pipeline(pipeline.id, experiment="duration-pipeline")
    assert run.run_type == "pipeline" and len(v2_cloud.calls_of("jobs.create_or_update")) == 1


def test_v2_the_endpoint_of_a_regression_model_says_what_its_client_needs(v2, v2_cloud, v2_regression):
    """A managed endpoint of an MLflow regression model takes MLflow's input_data body and answers a bare list of
    numbers (a classifier's: a list of labels): its service names the body, its model the task."""
    v2.register_model(name="duration-model", run_id=v2_regression.id)
    service = v2.deploy_model(name="duration-svc", model_name="duration-model")
    assert service.request_format == "input_data"
    name, version = service.model.split(":")
    assert v2.get_model(name, int(version)).manifest["task"] == "regression"
