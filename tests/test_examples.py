"""The digits CNN demo: it trains, improves, is repeatable, and writes its plot."""

import sys

import numpy as np
import pytest

from examples import digits_cnn


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    """Three epochs on 480 training samples, with a plot."""
    path = tmp_path_factory.mktemp("plot") / "history.png"
    return digits_cnn.train(epochs=3, seed=0, train_size=480, progress=False, plot=path), path


def test_data_is_an_80_20_stratified_split_of_8x8_images():
    X_train, X_test, y_train, y_test = digits_cnn.load_data()
    assert X_train.shape[1:] == X_test.shape[1:] == (1, 8, 8)
    assert len(X_train) + len(X_test) == 1797 and len(X_test) == 360
    assert X_train.min() >= 0 and X_train.max() <= 1
    assert np.allclose(np.bincount(y_test) / len(y_test), np.bincount(y_train) / len(y_train), atol=0.01)


def test_model_uses_only_kit_layers():
    import solutions

    model = digits_cnn.build_model(np.random.default_rng(0))
    assert isinstance(model, solutions.Sequential)
    kit_types = tuple(
        getattr(solutions, name) for name in solutions.__all__ if isinstance(getattr(solutions, name), type)
    )
    assert all(isinstance(layer, kit_types) for layer in model.layers)
    assert model.forward(np.zeros((3, 1, 8, 8))).shape == (3, 10)


def test_short_run_returns_a_history_that_improves(short_run):
    history, _ = short_run
    steps = history["step_losses"]
    assert len(steps) == 3 * int(np.ceil(480 / digits_cnn.BATCH_SIZE))
    for key in ("epoch_losses", "train_accuracy", "test_accuracy"):
        assert len(history[key]) == 3, key
    assert np.all(np.isfinite(steps))
    assert np.mean(steps[-5:]) < 0.6 * np.mean(steps[:5])
    assert np.all(np.diff(history["epoch_losses"]) < 0)
    assert np.all(np.diff(history["test_accuracy"]) >= 0)
    assert history["test_accuracy"][-1] > 0.8  # 10 classes: chance is 0.1
    assert history["seconds"] > 0


def test_short_run_writes_a_png(short_run):
    history, path = short_run
    assert history["plot"] == path
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_same_seed_same_run():
    first = digits_cnn.train(epochs=1, seed=3, train_size=96, progress=False)
    second = digits_cnn.train(epochs=1, seed=3, train_size=96, progress=False)
    other = digits_cnn.train(epochs=1, seed=4, train_size=96, progress=False)
    assert first["step_losses"] == second["step_losses"]
    assert first["test_accuracy"] == second["test_accuracy"]
    assert first["step_losses"] != other["step_losses"]


def test_learning_rate_decays_from_the_initial_value():
    rates = [digits_cnn.learning_rate(epoch, 10) for epoch in range(10)]
    assert rates[0] == digits_cnn.LEARNING_RATE
    assert all(a > b > 0 for a, b in zip(rates, rates[1:], strict=False))


def test_without_matplotlib_the_plot_is_skipped(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    history = digits_cnn.train(epochs=1, train_size=64, progress=False, plot=tmp_path / "p.png")
    assert history["plot"] is None and not (tmp_path / "p.png").exists()
    assert "matplotlib is not installed" in capsys.readouterr().err


def test_command_line(tmp_path, capsys):
    path = tmp_path / "cli.png"
    assert digits_cnn.main(["--epochs", "1", "--seed", "1", "--plot", str(path)]) == 0
    out = capsys.readouterr().out
    assert "test accuracy:" in out and "wall time:" in out and str(path) in out
    assert path.is_file()


@pytest.mark.slow
def test_default_run_reaches_98_percent():
    history = digits_cnn.train(progress=False)
    assert history["test_accuracy"][-1] >= 0.98
