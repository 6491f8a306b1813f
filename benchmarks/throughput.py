"""Training throughput of the deep MNIST autoencoder: aekit vs its bare GEMMs vs pythae.

Model: 784-1000-500-250-30-250-500-1000-784 (relu, linear code, sigmoid output), MSE, Adam
lr 1e-3, batch 256, float32, CPU, MNIST training images.

Measured in one run, interleaved (aekit, matmul, pythae) × --repeats, medians reported:
- aekit: the real trainer, `aekit.train.Trainer.fit` on the first --samples training images
  (a whole number of batches) for 1 warm-up epoch + --epochs timed epochs; samples/s from the
  trainer's own per-epoch seconds of the timed epochs.
- matmul: the same step's bare GEMMs with torch.mm into pre-allocated tensors: for each Linear
  layer y = x Wᵀ, forward 1 GEMM, backward 2 GEMMs (grad input, grad weight). Reported both for
  all 3 GEMMs per layer ("3 per layer", as specified) and for the GEMMs autograd actually runs
  ("required": no grad input for the first layer, whose input needs no gradient).
- pythae: `pythae.models.AE` with a custom encoder/decoder of the same layers and the same
  init, `pythae.trainers.BaseTrainer`, batch 256, same data; run in .venv-bench as a subprocess
  (this script's --pythae-worker mode) when pythae does not import here; samples/s per epoch
  timed with a trainer callback, warm-up epoch excluded.

    .venv/bin/python benchmarks/throughput.py --json benchmarks/out/throughput.json
    .venv/bin/python benchmarks/throughput.py --profile      # where aekit's step time goes
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
HIDDEN = (1000, 500, 250)
LATENT = 30
N_IN = 784
BATCH = 256


from _common import machine, write_json as save_json  # noqa: E402  (benchmarks/_common.py)

def layer_sizes() -> list[tuple[int, int]]:
    sizes = [N_IN, *HIDDEN, LATENT, *reversed(HIDDEN), N_IN]
    return list(zip(sizes[:-1], sizes[1:]))


def load_X(data_dir: str, n: int):
    from aekit.data import load

    X = load("mnist", split="train+val", data_dir=data_dir).X[:n]
    return torch.from_numpy(X.reshape(len(X), -1).copy())


# ---------------------------------------------------------------------------------------- aekit
def build_aekit(seed: int):
    from aekit.models.autoencoder import AutoEncoderModel, ModelConfig

    torch.manual_seed(seed)
    return AutoEncoderModel(ModelConfig(input_shape=(N_IN,), hidden=HIDDEN, latent_dim=LATENT, activation="relu",
                                        code_activation="linear", output_activation="sigmoid", loss="mse"))


def run_aekit(X: torch.Tensor, epochs: int, seed: int) -> dict:
    from aekit.train.trainer import Trainer, TrainConfig

    model = build_aekit(seed)
    cfg = TrainConfig(epochs=1 + epochs, batch_size=BATCH, optimizer="adam", lr=1e-3, early_stopping=False,
                      checkpoint_every=0, seed=seed, progress=False)
    history = Trainer(cfg).fit(model, X)
    timed = history[1:]
    seconds = sum(h["seconds"] for h in timed)
    return {"samples_per_s": len(X) * len(timed) / seconds, "epoch_seconds": [h["seconds"] for h in history],
            "final_loss": history[-1]["loss"]}


# --------------------------------------------------------------------------------------- matmul
def run_matmul(steps: int, seed: int) -> dict:
    """Seconds per training step of the bare forward + backward GEMMs, torch.mm(out=...)."""
    g = torch.Generator().manual_seed(seed)
    ops_all, ops_required = [], []
    for i, (a, b) in enumerate(layer_sizes()):
        x = torch.rand(BATCH, a, generator=g)
        W = torch.randn(b, a, generator=g) * 0.01
        y = torch.empty(BATCH, b)
        gy = torch.randn(BATCH, b, generator=g)
        gx = torch.empty(BATCH, a)
        gW = torch.empty(b, a)
        fwd = (x, W.t(), y)  # y = x Wᵀ
        gin = (gy, W, gx)  # dL/dx = dL/dy W
        gw = (gy.t(), x, gW)  # dL/dW = dL/dyᵀ x
        ops_all += [fwd, gin, gw]
        ops_required += [fwd, gw] if i == 0 else [fwd, gin, gw]

    def time_ops(ops) -> float:
        for _ in range(10):  # warm-up
            for a_, b_, c_ in ops:
                torch.mm(a_, b_, out=c_)
        best = []
        for _ in range(3):
            t0 = time.perf_counter()
            for _ in range(steps):
                for a_, b_, c_ in ops:
                    torch.mm(a_, b_, out=c_)
            best.append((time.perf_counter() - t0) / steps)
        return statistics.median(best)

    flops = sum(2 * BATCH * a * b for a, b in layer_sizes())
    t_all, t_req = time_ops(ops_all), time_ops(ops_required)
    return {"step_seconds_all": t_all, "step_seconds_required": t_req,
            "samples_per_s_all": BATCH / t_all, "samples_per_s_required": BATCH / t_req,
            "gflops_all": 3 * flops / t_all / 1e9, "gflop_per_step_all": 3 * flops / 1e9}


# --------------------------------------------------------------------------------------- pythae
def pythae_worker(args) -> dict:
    """Runs inside the interpreter that has pythae (called as a subprocess)."""
    import logging

    from pythae.models import AE, AEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder
    from pythae.trainers import BaseTrainer, BaseTrainerConfig
    from pythae.trainers.training_callbacks import TrainingCallback

    logging.getLogger("pythae").setLevel(logging.WARNING)
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("pythae"):
            logging.getLogger(name).setLevel(logging.WARNING)

    ref = build_aekit(args.seed)  # same layers, same initial weights as aekit's model

    class Encoder(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.net = ref.encoder

        def forward(self, x):
            return ModelOutput(embedding=self.net(x.reshape(x.shape[0], -1)))

    class Decoder(BaseDecoder):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(ref.decoder, nn.Sigmoid())

        def forward(self, z):
            return ModelOutput(reconstruction=self.net(z))

    class Timer(TrainingCallback):
        def __init__(self):
            self.marks: list[float] = []

        def on_epoch_begin(self, training_config, **kw):
            self.marks.append(time.perf_counter())

        def on_epoch_end(self, training_config, **kw):
            self.marks.append(time.perf_counter())

    from pythae.data.datasets import BaseDataset

    X = load_X(args.data_dir, args.samples)
    dataset = BaseDataset(data=X, labels=torch.zeros(len(X)))
    model = AE(model_config=AEConfig(input_dim=(N_IN,), latent_dim=LATENT), encoder=Encoder(), decoder=Decoder())
    out_dir = Path(args.pythae_out)
    out_dir.mkdir(parents=True, exist_ok=True)
    config = BaseTrainerConfig(output_dir=str(out_dir), per_device_train_batch_size=BATCH, num_epochs=1 + args.epochs,
                               learning_rate=1e-3, optimizer_cls="Adam", no_cuda=True, seed=args.seed)
    timer = Timer()
    trainer = BaseTrainer(model=model, train_dataset=dataset, eval_dataset=None, training_config=config, callbacks=[timer])
    trainer.train()
    epoch_seconds = [e - b for b, e in zip(timer.marks[0::2], timer.marks[1::2])]
    timed = epoch_seconds[1:]
    return {"samples_per_s": len(X) * len(timed) / sum(timed), "epoch_seconds": epoch_seconds}


def run_pythae(args) -> dict:
    try:
        import pythae  # noqa: F401

        python = sys.executable
    except ImportError:
        python = args.pythae_python
    cmd = [python, str(Path(__file__).resolve()), "--pythae-worker", "--data-dir", args.data_dir,
           "--samples", str(args.samples), "--epochs", str(args.epochs), "--seed", str(args.seed),
           "--pythae-out", args.pythae_out]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"pythae worker failed ({python}):\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["python"] = python
    return result


# -------------------------------------------------------------------------------------- profile
def profile_aekit(X: torch.Tensor, seed: int) -> None:
    from torch.profiler import ProfilerActivity, profile

    from aekit.train.trainer import Trainer, TrainConfig

    model = build_aekit(seed)
    Trainer(TrainConfig(epochs=1, batch_size=BATCH, early_stopping=False, checkpoint_every=0, progress=False)).fit(
        model, X)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        Trainer(TrainConfig(epochs=1, batch_size=BATCH, early_stopping=False, checkpoint_every=0, progress=False,
                            seed=seed + 1)).fit(model, X)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))


# ----------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--samples", type=int, default=20480, help="training images used (rounded down to whole batches)")
    p.add_argument("--epochs", type=int, default=2, help="timed epochs (after 1 warm-up epoch)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--pythae-python", default=str(ROOT / ".venv-bench" / "bin" / "python"))
    p.add_argument("--pythae-out", default=str(ROOT / "benchmarks" / "out" / "pythae_runs"))
    p.add_argument("--skip-pythae", action="store_true")
    p.add_argument("--json", default=None)
    p.add_argument("--profile", action="store_true", help="profile one aekit epoch with torch.profiler and exit")
    p.add_argument("--pythae-worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.samples = max(BATCH, args.samples // BATCH * BATCH)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.pythae_worker:
        print(json.dumps(pythae_worker(args)))
        return 0

    X = load_X(args.data_dir, args.samples)
    if args.profile:
        profile_aekit(X, args.seed)
        return 0
    print(f"{machine()}; {len(X)} samples, batch {BATCH}, 1 warm-up + {args.epochs} timed epochs, "
          f"{args.repeats} interleaved repeats", flush=True)
    steps = len(X) // BATCH
    rounds = []
    for r in range(args.repeats):
        row = {"load_before": os.getloadavg()[0]}
        row["aekit"] = run_aekit(X, args.epochs, args.seed)
        row["matmul"] = run_matmul(steps, args.seed)
        if not args.skip_pythae:
            row["pythae"] = run_pythae(args)
        rounds.append(row)
        line = (f"round {r + 1}: aekit {row['aekit']['samples_per_s']:8.0f}/s   "
                f"matmul(required) {row['matmul']['samples_per_s_required']:8.0f}/s   "
                f"matmul(3 per layer) {row['matmul']['samples_per_s_all']:8.0f}/s")
        if "pythae" in row:
            line += f"   pythae {row['pythae']['samples_per_s']:8.0f}/s"
        print(line + f"   (load {row['load_before']:.2f})", flush=True)
        if args.json:  # after every round, so a stopped run keeps what it measured
            write_json(args, {"rounds": rounds, "complete": False})

    med = lambda xs: statistics.median(xs)  # noqa: E731
    aekit = med([r["aekit"]["samples_per_s"] for r in rounds])
    mm_req = med([r["matmul"]["samples_per_s_required"] for r in rounds])
    mm_all = med([r["matmul"]["samples_per_s_all"] for r in rounds])
    summary = {
        "aekit_samples_per_s": aekit,
        "aekit_step_ms": 1e3 * BATCH / aekit,
        "matmul_required_samples_per_s": mm_req,
        "matmul_required_step_ms": 1e3 * BATCH / mm_req,
        "matmul_all_samples_per_s": mm_all,
        "matmul_all_step_ms": 1e3 * BATCH / mm_all,
        "matmul_gflops": med([r["matmul"]["gflops_all"] for r in rounds]),
        "aekit_over_matmul_required": mm_req / aekit,  # step-time ratio: 1.0 = at the GEMM limit
        "aekit_over_matmul_all": mm_all / aekit,
    }
    print(f"\nmedians over {args.repeats} rounds")
    print(f"{'':28}{'samples/s':>10}{'ms/step':>10}")
    print(f"{'aekit Trainer.fit':28}{aekit:>10.0f}{summary['aekit_step_ms']:>10.2f}")
    print(f"{'bare GEMMs (required)':28}{mm_req:>10.0f}{summary['matmul_required_step_ms']:>10.2f}")
    print(f"{'bare GEMMs (3 per layer)':28}{mm_all:>10.0f}{summary['matmul_all_step_ms']:>10.2f}"
          f"   ({summary['matmul_gflops']:.0f} GFLOP/s)")
    if not args.skip_pythae:
        pythae = med([r["pythae"]["samples_per_s"] for r in rounds])
        summary.update(pythae_samples_per_s=pythae, pythae_step_ms=1e3 * BATCH / pythae, aekit_over_pythae=aekit / pythae)
        print(f"{'pythae BaseTrainer':28}{pythae:>10.0f}{summary['pythae_step_ms']:>10.2f}")
    print(f"\naekit step time / bare-GEMM step time: {summary['aekit_over_matmul_required']:.3f}× (required GEMMs), "
          f"{summary['aekit_over_matmul_all']:.3f}× (3 per layer); target ≤ 1.2×")
    if "aekit_over_pythae" in summary:
        print(f"aekit samples/s / pythae samples/s: {summary['aekit_over_pythae']:.3f}×; target ≈ 1.5×")
    if args.json:
        write_json(args, {"summary": summary, "rounds": rounds, "complete": True})
        print(f"results: {args.json}")
    return 0


def write_json(args, payload: dict) -> None:
    result = {"benchmark": "throughput", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "command": " ".join([Path(sys.executable).name, *sys.argv]), "machine": machine(),
              "load_avg_1min": round(os.getloadavg()[0], 2), "args": vars(args), **payload}
    save_json(args.json, result)


if __name__ == "__main__":
    raise SystemExit(main())
