"""What every benchmark records about the machine it ran on."""
from __future__ import annotations

import os
import platform
from pathlib import Path


def machine() -> dict:
    """CPU model, cores, torch threads and version, Python, and the 1-minute load average (the
    machine may be shared: timings must be read with the load)."""
    import torch

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "threads": torch.get_num_threads(), "torch": torch.__version__,
            "python": platform.python_version(), "load_avg_1min": round(os.getloadavg()[0], 2),
            # the kernels decide the last digits of conv training and BLAS results (AVX2 and AVX-512
            # give different figures for the same code: see RESULTS.md, "Re-measured after the redesign")
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability()}
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [{k: p.get(k) for k in ("internal_api", "architecture", "version")} for p in threadpool_info()]
    except Exception:  # threadpoolctl is scikit-learn's dependency; the record is only informative
        pass
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def write_json(path, result: dict) -> None:
    """The benchmark's result as JSON (numpy scalars as floats), its folder made if needed."""
    import json

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=float) + "\n")
