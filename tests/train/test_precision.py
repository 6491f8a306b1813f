"""Devices and mixed precision: bf16-mixed trains on the CPU as well as float32, float16 is refused
on a CPU with one clear line, "auto" resolves to a device this machine has."""
import numpy as np
import pytest
import torch

from aekit import AutoEncoder
from aekit.errors import ConfigError
from aekit.train.precision import MixedPrecision, check_device, check_precision, resolve_device, to_device
from aekit.train.trainer import TrainConfig
from support import run_cli


@pytest.fixture(scope="module")
def fitted(digits_flat):
    """The same autoencoder trained in float32 and in bf16-mixed (same seed and batches)."""
    params = dict(hidden=(64,), latent_dim=8, epochs=15, batch_size=64, random_state=0, early_stopping=False)
    return {p: AutoEncoder(precision=p, **params).fit(digits_flat) for p in ("32", "bf16-mixed")}


def test_bf16_mixed_trains_on_the_cpu_about_as_well_as_float32(fitted, digits_flat):
    bf16, fp32 = fitted["bf16-mixed"], fitted["32"]
    losses = [r["loss"] for r in bf16.history_]
    assert losses[-1] < 0.5 * losses[0]  # it learns
    err_bf16, err_fp32 = -bf16.score(digits_flat), -fp32.score(digits_flat)
    assert abs(err_bf16 - err_fp32) < 0.05 * err_fp32  # bfloat16 has 8 mantissa bits: close, not equal
    assert bf16.model_.encoder[0].weight.dtype == torch.float32  # the weights stay float32
    assert bf16.train_config_.precision == "bf16-mixed"


def test_the_precision_is_recorded_in_the_run_folder(fitted, tmp_path, digits_flat):
    run = fitted["bf16-mixed"].save(tmp_path / "run")
    loaded = AutoEncoder.load(run)
    assert loaded.precision == "bf16-mixed" and loaded.train_config_.precision == "bf16-mixed"
    np.testing.assert_allclose(loaded.transform(digits_flat[:5]), fitted["bf16-mixed"].transform(digits_flat[:5]))


def test_autocast_runs_the_forward_in_the_precision_s_dtype():
    model = torch.nn.Linear(4, 2)
    with MixedPrecision("bf16-mixed", torch.device("cpu")).autocast():
        assert model(torch.ones(3, 4)).dtype == torch.bfloat16
    with MixedPrecision("32", torch.device("cpu")).autocast():
        assert model(torch.ones(3, 4)).dtype == torch.float32


def test_loss_scaling_unscales_before_clipping_and_skips_overflowing_steps():
    """The GradScaler path of 16-mixed (run here on the CPU's float16 autocast, which aekit refuses
    for training: it is slow and there for the test only)."""
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    amp = MixedPrecision("16-mixed", torch.device("cpu"))
    for _ in range(20):  # the first steps may overflow float16 at the initial scale of 2^16 and be skipped
        before = [p.detach().clone() for p in model.parameters()]
        opt.zero_grad()
        with amp.autocast():
            y = model(torch.ones(8, 4))
        amp.step(y.float().pow(2).mean(), opt, list(model.parameters()), grad_clip=1e-3)
        moved = torch.cat([(p.detach() - b).flatten() for p, b in zip(model.parameters(), before)]).norm()
        assert moved <= 0.1 * 1e-3 * 1.001  # clipped on the true (unscaled) gradient: lr × max norm
        if moved > 0:
            break
    assert moved > 0
    scale = amp.scaler.get_scale()
    before = model.weight.detach().clone()
    opt.zero_grad()
    amp.step(model(torch.ones(1, 4)).sum() * float("inf"), opt, list(model.parameters()), grad_clip=None)
    assert torch.equal(model.weight.detach(), before)  # an overflowing step is skipped…
    assert amp.scaler.get_scale() < scale  # …and the scale lowered


@pytest.mark.parametrize("precision", ["16", "64", "bf16", "mixed", ""])
def test_unknown_precision_is_refused(precision):
    with pytest.raises(ConfigError, match="precision must be one of 32, bf16-mixed, 16-mixed"):
        check_precision(precision, "cpu")


def test_float16_on_a_cpu_is_refused_everywhere(digits_flat, capsys, tmp_path):
    with pytest.raises(ConfigError, match="needs a GPU"):
        TrainConfig(precision="16-mixed")
    with pytest.raises(ConfigError, match="needs a GPU"):
        AutoEncoder(precision="16-mixed", epochs=1).fit(digits_flat[:50])
    code, _, err = run_cli(["train", "--precision", "16-mixed", "--out", tmp_path / "run"], capsys)
    assert code == 2 and err.count("\n") == 1 and "on the CPU use bf16-mixed or 32" in err
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_on_a_machine_without_cuda_is_refused(digits_flat, capsys, tmp_path):
    for device in ("cuda", "cuda:1"):
        with pytest.raises(ConfigError, match="no CUDA device"):
            check_device(device)
    code, _, err = run_cli(["train", "--device", "cuda", "--out", tmp_path / "run"], capsys)
    assert code == 2 and err.count("\n") == 1 and "this machine has no CUDA device" in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("device", ["tpu", "cuda:x", "gpu0", 3.5])
def test_unknown_devices_are_refused(device):
    with pytest.raises(ConfigError, match="device"):
        check_device(device)


def test_auto_is_cuda_when_present_else_the_cpu(digits_flat, monkeypatch):
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert resolve_device("auto") == ("cuda:0" if torch.cuda.is_available() else "cpu")
    ae = AutoEncoder(hidden=(8,), latent_dim=2, epochs=1, device="auto", random_state=0).fit(digits_flat[:64])
    assert next(ae.model_.parameters()).device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert ae.train_config_.device == resolve_device("auto")


def test_under_torchrun_cuda_means_the_process_s_own_gpu(monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert resolve_device("cuda") == "cuda:3"
    assert resolve_device("cuda:1") == "cuda:1"  # an index given is kept
    assert resolve_device("cpu") == "cpu"


def test_to_device_converts_on_the_host():
    t = to_device(torch.ones(3, dtype=torch.float64), torch.device("cpu"), torch.float32)
    assert t.dtype == torch.float32 and t.device.type == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("precision", ["32", "bf16-mixed", "16-mixed"])
def test_the_gpu_path_trains_in_every_precision(precision, digits_flat):
    if precision == "bf16-mixed" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bfloat16")
    ae = AutoEncoder(hidden=(64,), latent_dim=8, epochs=10, batch_size=64, random_state=0, device="cuda",
                     precision=precision, early_stopping=False).fit(digits_flat)
    losses = [r["loss"] for r in ae.history_]
    assert losses[-1] < 0.5 * losses[0]
    assert next(ae.model_.parameters()).device.type == "cuda"
    assert to_device(torch.ones(2), torch.device("cuda")).device.type == "cuda"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_inference_commands_take_a_device(tmp_path, capsys):
    run = tmp_path / "run"
    code, _, err = run_cli(["train", "--data", "digits", "--train-size", "100", "--epochs", "1", "--hidden", "8",
                            "--latent", "2", "--quiet", "--device", "auto", "--out", run], capsys)
    assert code in (0, None), err
    code, out, err = run_cli(["encode", run, "--device", "auto", "--out", tmp_path / "codes.npy"], capsys)
    assert code in (0, None), err
    assert np.load(tmp_path / "codes.npy").shape[1] == 2
    code, _, err = run_cli(["encode", run, "--device", "cuda", "--out", tmp_path / "gpu.npy"], capsys)
    assert code == 2 and "no CUDA device" in err and err.count("\n") == 1
    assert not (tmp_path / "gpu.npy").exists()
