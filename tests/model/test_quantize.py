"""int8 quantization (``train``'s default, ``--quantize int8``): the default itself, the gates
a quantized model must pass against the float one, the representative set, and a real run
the gates refuse."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from function.contract.quantization import INT8, NONE, Quantization
from model.arguments import build_parser
from model.cli import main
from model.errors import QuantizationError
from model.quantize import (
    MAX_ACCURACY_DROP,
    MIN_ARGMAX_AGREEMENT,
    REPRESENTATIVE_EXAMPLES,
    check_gates,
    representative_set,
)

# The figures measured on the seed MLP: well inside both gates.
MEASURED = Quantization(
    mode="int8",
    test_accuracy=0.9823,
    float_test_accuracy=0.9822,
    argmax_agreement=0.9993,
    images=10000,
    representative_examples=REPRESENTATIVE_EXAMPLES,
    max_accuracy_drop=MAX_ACCURACY_DROP,
    min_argmax_agreement=MIN_ARGMAX_AGREEMENT,
)


def test_train_serves_int8_by_default(monkeypatch, capsys):
    """The command line and the plain function agree: int8 unless told otherwise."""
    from model.training import TrainConfig

    monkeypatch.delenv("DIGITRUN_QUANTIZE", raising=False)
    assert build_parser().parse_args(["train"]).quantize == INT8
    assert TrainConfig().quantize == INT8
    assert build_parser().parse_args(["train", "--quantize", "none"]).quantize == NONE
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    assert "DIGITRUN_QUANTIZE; default int8:" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize(("value", "expected"), [("none", NONE), ("int8", INT8), ("", INT8)])
def test_digitrun_quantize_sets_the_default(monkeypatch, value, expected):
    monkeypatch.setenv("DIGITRUN_QUANTIZE", value)
    assert build_parser().parse_args(["train"]).quantize == expected
    # ... and a flag on the line still wins over the environment.
    assert build_parser().parse_args(["train", "--quantize", INT8]).quantize == INT8
    assert build_parser().parse_args(["train", "--quantize", NONE]).quantize == NONE


def test_the_gates_are_the_issues():
    assert MAX_ACCURACY_DROP == 0.001  # 0.1 point
    assert MIN_ARGMAX_AGREEMENT == 0.998
    assert REPRESENTATIVE_EXAMPLES == 500


@pytest.mark.parametrize(
    ("int8_accuracy", "agreement"),
    [
        (0.9823, 0.9993),  # the seed MLP
        (0.9812, 0.9980),  # exactly at both limits: 10 images fewer, 20 disagreements
        (0.9900, 0.9980),  # more accurate than the float model is fine
    ],
)
def test_figures_within_the_gates_pass(int8_accuracy, agreement):
    measured = replace(MEASURED, test_accuracy=int8_accuracy, argmax_agreement=agreement)
    assert check_gates(measured) is measured


@pytest.mark.parametrize(
    ("int8_accuracy", "agreement", "fragments"),
    [
        (0.9811, 0.9993, ["drops 0.11 points (allowed 0.10)"]),
        (0.9822, 0.9979, ["agrees with the float model on 99.79%", "(required 99.80%)"]),
        (0.9639, 0.9948, ["drops 1.83 points", "on 99.48%"]),
    ],
)
def test_figures_just_past_a_gate_are_refused(int8_accuracy, agreement, fragments):
    measured = replace(MEASURED, test_accuracy=int8_accuracy, argmax_agreement=agreement)
    with pytest.raises(QuantizationError) as refused:
        check_gates(measured)
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("the int8 model is refused: ")
    assert message.endswith("(train with --quantize none to publish the float model)")
    assert "refusing to publish" in message
    for fragment in fragments:
        assert fragment in message
    assert ("drops" in message) == (int8_accuracy < 0.9812)
    assert ("agrees" in message) == (agreement < 0.998)


def test_the_representative_set_is_drawn_from_the_training_data_by_seed():
    x_train = np.random.default_rng(1).random((2000, 784), dtype=np.float32)
    picked = representative_set(x_train, seed=3)
    assert picked.shape == (REPRESENTATIVE_EXAMPLES, 784)
    assert picked.dtype == np.float32 and picked.flags.c_contiguous
    rows = {row.tobytes() for row in picked}
    assert len(rows) == REPRESENTATIVE_EXAMPLES  # distinct training images
    assert rows <= {row.tobytes() for row in x_train}
    np.testing.assert_array_equal(representative_set(x_train, seed=3), picked)
    assert not np.array_equal(representative_set(x_train, seed=4), picked)
    assert representative_set(x_train[:100], seed=3).shape == (100, 784)


@pytest.mark.slow  # trains a model
def test_a_model_the_gates_refuse_is_not_published(mnist_path, mlflow_store, tmp_path, capsys):
    """The suite's small model (5,000 examples, 1 epoch) is too unsure of itself for int8:
    its quantization flips too many answers. The command refuses it in one line (exit 1),
    publishes nothing, registers nothing, and the failed MLflow run says why."""
    import mlflow

    models = tmp_path / "models"
    code = main(
        [
            *("train", "--arch", "mlp", "--epochs", "1", "--limit", "5000", "--seed", "0"),
            *("--data", mnist_path, "--publish", str(models), "--quantize", "int8"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1, err
    assert err.startswith("error: the int8 model is refused: ")
    assert err.count("\n") == 1 and "refusing to publish" in err
    assert not models.exists() or not any(models.iterdir())

    client = mlflow.MlflowClient(mlflow_store)
    (run,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert run.info.status == "FAILED"
    assert run.data.params["quantize"] == "int8"
    metrics = run.data.metrics
    drop = metrics["test_accuracy"] - metrics["int8_test_accuracy"]
    assert drop == pytest.approx(metrics["int8_accuracy_drop"])
    assert drop > MAX_ACCURACY_DROP or metrics["int8_argmax_agreement"] < MIN_ARGMAX_AGREEMENT
    assert metrics["int8_tflite_bytes"] < metrics["tflite_bytes"] / 3
    assert client.search_model_versions() == []
