import pytest
import torch

from urbansig.protocol import BadInput, Cancelled
from urbansig.training import FitConfig, fit, minibatches, resolve_device, seed_everything


def linear_problem(n=256):
    generator = seed_everything(0)
    x = torch.randn(n, 4, generator=generator)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.01 * torch.randn(n, generator=generator)
    return x, y, generator


def make_batches(x, y, generator, size=32):
    order = minibatches(len(x), size, generator)
    return lambda: ((x[i], y[i]) for i in order())


def mse(model, batch):
    x, y = batch
    return torch.nn.functional.mse_loss(model(x).squeeze(-1), y)


def test_fit_learns_a_linear_map(tmp_path):
    x, y, generator = linear_problem()
    model = torch.nn.Linear(4, 1)
    history = fit(
        model,
        make_batches(x, y, generator),
        mse,
        FitConfig(epochs=40, lr=0.05),
        torch.device("cpu"),
    )
    assert history.train_loss[-1] < 0.01 < history.train_loss[0]
    assert history.samples == 40 * 256 and history.samples_per_second > 0


def test_early_stopping_restores_the_best_weights():
    x, y, generator = linear_problem()
    model = torch.nn.Linear(4, 1)
    config = FitConfig(epochs=200, lr=0.05, patience=3)
    history = fit(
        model,
        make_batches(x, y, generator),
        mse,
        config,
        torch.device("cpu"),
        val_batches=make_batches(x[:64], y[:64], generator),
    )
    assert len(history.val_loss) < 200
    assert min(history.val_loss) == history.val_loss[history.best_epoch]


def test_checkpoint_resume(tmp_path):
    x, y, generator = linear_problem()
    checkpoint = tmp_path / "ckpt.pt"
    model = torch.nn.Linear(4, 1)
    fit(
        model,
        make_batches(x, y, generator),
        mse,
        FitConfig(epochs=3, lr=0.01, checkpoint=checkpoint),
        torch.device("cpu"),
    )
    assert checkpoint.exists()
    resumed = torch.nn.Linear(4, 1)
    history = fit(
        resumed,
        make_batches(x, y, generator),
        mse,
        FitConfig(epochs=5, lr=0.01, checkpoint=checkpoint),
        torch.device("cpu"),
    )
    assert len(history.train_loss) == 5  # 3 restored + 2 new


class CancelAfter:
    def __init__(self, n):
        self.n = n
        self.fractions = []

    def progress(self, fraction, message=""):
        self.fractions.append(fraction)

    def check_cancelled(self):
        self.n -= 1
        if self.n < 0:
            raise Cancelled()


def test_fit_reports_progress_and_stops_on_cancel():
    x, y, generator = linear_problem()
    sink = CancelAfter(5)
    with pytest.raises(Cancelled):
        fit(
            torch.nn.Linear(4, 1),
            make_batches(x, y, generator),
            mse,
            FitConfig(epochs=10),
            torch.device("cpu"),
            events=sink,
        )
    assert sink.fractions and all(0 < f <= 1 for f in sink.fractions)


def test_devices():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(BadInput, match="DEVICE is 'cuda'"):
            resolve_device("cuda")
    with pytest.raises(BadInput):
        resolve_device("tpu")


def test_diverging_loss_is_a_clear_error():
    x, y, generator = linear_problem()
    with pytest.raises(FloatingPointError, match="learning rate"):
        fit(
            torch.nn.Linear(4, 1),
            make_batches(x, y * 1e30, generator),
            mse,
            FitConfig(epochs=5, lr=1e6),
            torch.device("cpu"),
        )
