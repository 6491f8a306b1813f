"""DistributedDataParallel (2 processes vs 1) and bf16-mixed vs float32, on this machine's CPU.

Model 784-256-64-8 (relu, sigmoid output), MSE, Adam lr 1e-3, global batch 256, the first
--samples MNIST training images, --epochs epochs after one warm-up epoch; samples/s from the
trainer's own per-epoch optimization time (validation excluded), median over the timed epochs.

- ddp: `torchrun --standalone --nproc-per-node 2` (gloo, 1 thread per process, each process
  128 rows of every global batch) vs 1 process with 1 thread and 1 process with 2 threads, the
  same global batch and seed; also the largest weight difference between the 2-process and the
  1-process models (they should agree to float rounding).
- precision: 1 process, 1 thread, float32 vs bf16-mixed: samples/s and the final test error
  (MSE per value on the 10,000 MNIST test images). With a GPU, the same on cuda for 32,
  bf16-mixed and 16-mixed.

    .venv/bin/python benchmarks/ddp_precision.py --json benchmarks/out/ddp_precision.json
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_json  # noqa: E402  (benchmarks/_common.py)


def mnist(split: str, samples: int | None, data_dir: str) -> torch.Tensor:
    from aekit.data import load

    X = load("mnist", split=split, data_dir=data_dir).X
    X = X[:samples] if samples else X
    return torch.from_numpy(X.reshape(len(X), -1).astype("float32"))


def train_once(args, precision: str = "32", device: str = "cpu", threads: int | None = None) -> dict:
    """One run of the trainer (under torchrun: this process's part of one DDP run)."""
    from aekit.models.autoencoder import AutoEncoderModel, ModelConfig
    from aekit.train.distributed import rank_and_world
    from aekit.train.trainer import TrainConfig, Trainer, evaluate

    X = mnist("train", args.samples, args.data_dir)
    torch.manual_seed(0)
    model = AutoEncoderModel(ModelConfig(input_shape=(784,), hidden=(256, 64), latent_dim=8,
                                         output_activation="sigmoid")).to(device)
    cfg = TrainConfig(epochs=args.epochs + 1, batch_size=256, early_stopping=False, progress=False, seed=0,
                      device=device, precision=precision, num_threads=threads)
    history = Trainer(cfg).fit(model, X)
    seconds = [r["train_seconds"] for r in history[1:]]  # the first epoch warms up
    rank, world = rank_and_world()
    test = mnist("test", None, args.data_dir)
    return {"precision": precision, "device": str(device), "processes": world, "threads": torch.get_num_threads(),
            "samples_per_s": len(X) / statistics.median(seconds), "epoch_seconds": seconds,
            "final_train_loss": history[-1]["loss"], "test_mse": evaluate(model.cpu().float(), test)["recon"],
            "weights": {k: v.detach().cpu() for k, v in model.state_dict().items()}}


def worker(args) -> None:
    """torchrun's entry: every rank trains; rank 0 writes the result."""
    from aekit.train.distributed import distributed_session

    with distributed_session() as (rank, _):
        result = train_once(args, threads=1)
        if rank == 0:
            torch.save(result, args.worker)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=20_000)
    p.add_argument("--epochs", type=int, default=3, help="timed epochs (after one warm-up epoch)")
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--repeats", type=int, default=3, help="runs of each configuration, interleaved; medians")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args)
        return

    def ddp_run() -> dict:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "ddp.pt"
            cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", __file__,
                   "--worker", str(out), "--samples", str(args.samples), "--epochs", str(args.epochs),
                   "--data-dir", args.data_dir]
            subprocess.run(cmd, check=True, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
            return torch.load(out)

    configs = {
        "DDP 2 processes × 1 thread (gloo)": ddp_run,
        "1 process × 1 thread": lambda: train_once(args, threads=1),
        "1 process × 2 threads, float32": lambda: train_once(args, threads=2),
        "1 process × 1 thread, bf16-mixed": lambda: train_once(args, precision="bf16-mixed", threads=1),
    }
    if torch.cuda.is_available():
        for precision in ("32", "bf16-mixed", "16-mixed"):
            configs[f"{torch.cuda.get_device_name(0)}, {precision}"] = (
                lambda precision=precision: train_once(args, precision=precision, device="cuda"))
    runs: dict[str, list[dict]] = {name: [] for name in configs}
    loads = []
    for _ in range(args.repeats):  # interleaved, so that the machine's load changes hit every configuration
        for name, run in configs.items():
            runs[name].append(run())
            loads.append(os.getloadavg()[0])
    rows = []
    for name, results in runs.items():
        last = results[-1]
        rows.append({"run": name, **{k: v for k, v in last.items() if k not in ("weights", "samples_per_s")},
                     "samples_per_s": statistics.median(r["samples_per_s"] for r in results),
                     "samples_per_s_each": [r["samples_per_s"] for r in results]})
    ddp, one = runs["DDP 2 processes × 1 thread (gloo)"][-1], runs["1 process × 1 thread"][-1]
    diff = max(float((ddp["weights"][k] - one["weights"][k]).abs().max()) for k in one["weights"])

    print(f"{'run':44s} {'samples/s (median)':>19s} {'each':>22s} {'final loss':>11s} {'test MSE':>9s}")
    for r in rows:
        each = " ".join(f"{v:.0f}" for v in r["samples_per_s_each"])
        print(f"{r['run']:44s} {r['samples_per_s']:19.0f} {each:>22s} {r['final_train_loss']:11.5f} "
              f"{r['test_mse']:9.5f}")
    print(f"largest weight difference, DDP 2 processes vs 1 process: {diff:.2e}; "
          f"1-minute load during the runs: {min(loads):.1f}–{max(loads):.1f}")
    result = {"benchmark": "ddp_precision", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": machine(), "samples": args.samples, "timed_epochs": args.epochs, "global_batch": 256,
              "repeats": args.repeats,
              "load_avg_1min_during": [min(loads), max(loads)], "rows": rows,
              "ddp_vs_1_process_max_weight_difference": diff}
    if args.json:
        write_json(args.json, result)
    else:
        print(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=2, default=float))


if __name__ == "__main__":
    main()
