"""Time one Adam step over the deep MNIST autoencoder's parameters (784-1000-500-250-30 and
mirror, 2.84M floats): torch.optim.Adam with foreach=True (what aekit's trainer uses now), fused=True and
foreach=False (the per-tensor loop pythae gets by default on the CPU), interleaved, medians.

    .venv/bin/python benchmarks/optimizer_step.py
"""
import statistics
import time

import torch

torch.set_flush_denormal(True)
shapes=[(1000,784),(1000,),(500,1000),(500,),(250,500),(250,),(30,250),(30,),(250,30),(250,),(500,250),(500,),(1000,500),(1000,),(784,1000),(784,)]
def make(kind):
    ps=[torch.nn.Parameter(torch.randn(s)*0.01) for s in shapes]
    for p in ps: p.grad=torch.randn_like(p)*1e-3
    kw={"foreach":True} if kind=="foreach" else ({"fused":True} if kind=="fused" else {"foreach":False})
    return torch.optim.Adam(ps, lr=1e-3, **kw)
opts={k:make(k) for k in ("foreach","fused","single")}
for o in opts.values():
    for _ in range(3): o.step()
res={k:[] for k in opts}
for r in range(5):
    for k,o in opts.items():
        t=time.perf_counter()
        for _ in range(10): o.step()
        res[k].append((time.perf_counter()-t)/10*1e3)
for k, v in res.items():
    print(f"{k:8s} Adam.step median {statistics.median(v):7.2f} ms  (runs: {', '.join(f'{x:.1f}' for x in v)})")


def max_difference_fused_vs_foreach(steps: int = 50) -> float:
    """Largest |Δ| between parameters after `steps` Adam steps on the same random gradients."""
    torch.manual_seed(0)
    start = [torch.randn(300, 200) for _ in range(3)]

    def run(**kw):
        q = [torch.nn.Parameter(p.clone()) for p in start]
        o = torch.optim.Adam(q, lr=1e-3, **kw)
        g = torch.Generator().manual_seed(1)
        for _ in range(steps):
            for p in q:
                p.grad = torch.randn(p.shape, generator=g)
            o.step()
        return q

    return max((x - y).abs().max().item() for x, y in zip(run(foreach=True), run(fused=True)))


print(f"max |fused - foreach| after 50 steps: {max_difference_fused_vs_foreach():.3g}")
