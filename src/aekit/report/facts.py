"""What a run is and how it was trained, for reports: layers, parameters, epochs, time, seed; and
the one verdict a report with several models owes its reader: how many of them beat PCA, and why
the others do not.
"""
from __future__ import annotations

import html

from aekit.report.html import Table

SKIPPED_LAYERS = ("Identity", "Dropout")  # layers that change nothing in a description


def layer_name(module) -> str:
    """A short name for one layer: its class, with sizes where it has them.

    Parameters
    ----------
    module : torch.nn.Module

    Returns
    -------
    str

    Examples
    --------
    >>> import torch
    >>> layer_name(torch.nn.Linear(64, 8)), layer_name(torch.nn.Conv2d(1, 32, 3)), layer_name(torch.nn.ReLU())
    ('Linear 64→8', 'Conv2d 1→32 3×3', 'ReLU')
    """
    name = type(module).__name__
    if hasattr(module, "in_features") and hasattr(module, "out_features"):
        return f"{name} {module.in_features}→{module.out_features}"
    if hasattr(module, "in_channels") and hasattr(module, "out_channels"):
        k = getattr(module, "kernel_size", None)
        size = f" {'×'.join(map(str, k))}" if isinstance(k, tuple) else (f" {k}" if k is not None else "")
        return f"{name} {module.in_channels}→{module.out_channels}{size}"
    if name.startswith("MaxPool") or name.startswith("AvgPool"):
        return f"{name} {module.kernel_size}"
    if name == "Upsample" and getattr(module, "scale_factor", None) is not None:
        return f"Upsample ×{module.scale_factor:g}"
    return name


def architecture(model) -> list[tuple[str, str]]:
    """The model's layers in order, grouped by its top-level parts (encoder, decoder, heads...).

    Parameters
    ----------
    model : torch.nn.Module

    Returns
    -------
    list of (str, str)
        (part, its layers joined by " · "); a part that is itself one layer gives its own name.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Module()
    >>> net.encoder = torch.nn.Sequential(torch.nn.Linear(64, 8), torch.nn.ReLU(), torch.nn.Identity())
    >>> net.output = torch.nn.Sigmoid()
    >>> architecture(net)
    [('encoder', 'Linear 64→8 · ReLU'), ('output', 'Sigmoid')]
    """
    parts = []
    for part, child in model.named_children():
        leaves = [m for m in child.modules() if not list(m.children())]
        names = [layer_name(m) for m in leaves if type(m).__name__ not in SKIPPED_LAYERS]
        if names:
            parts.append((part, " · ".join(names)))
    return parts


def parameter_count(model) -> int:
    """Trainable numbers in the model (a weight shared by tied layers counted once).

    Examples
    --------
    >>> import torch
    >>> parameter_count(torch.nn.Linear(64, 8))
    520
    """
    return sum(p.numel() for p in model.parameters())


def training_seconds(history: list[dict] | None, metrics: dict | None = None) -> tuple[float | None, str]:
    """How long training took: the recorded wall time of the fit (metrics' "train_seconds"), or
    else the sum of the epochs' times in the history; with what it is.

    Examples
    --------
    >>> training_seconds([{"seconds": 1.5}, {"seconds": 2.0}])
    (3.5, 'sum of the epochs')
    >>> training_seconds([], {"train_seconds": 7.25})
    (7.25, 'whole fit')
    >>> training_seconds(None)
    (None, '')
    """
    if metrics and metrics.get("train_seconds") is not None:
        return float(metrics["train_seconds"]), "whole fit"
    times = [r.get("seconds") for r in history or []]
    times = [float(t) for t in times if isinstance(t, (int, float))]
    if not times:
        return None, ""
    return sum(times), "sum of the epochs"


def best_epoch_basis(history: list[dict] | None) -> str | None:
    """By which loss a run's best epoch is the best: "validation loss" when its history has one,
    else "training loss" (a run without a validation split); None without a history.

    Examples
    --------
    >>> best_epoch_basis([{"loss": 0.2, "val_loss": 0.3}]), best_epoch_basis([{"loss": 0.2}]), best_epoch_basis([])
    ('validation loss', 'training loss', None)
    """
    if not history:
        return None
    return "validation loss" if any("val_loss" in r for r in history) else "training loss"


def epochs_text(history: list[dict] | None, n_epochs=None, best_epoch=None) -> str:
    """Epochs trained, the best one, and each earlier stage's epochs (pretraining).

    Examples
    --------
    The best epoch is the one of the lowest validation loss when the history has one, else of the
    lowest training loss (a run without a validation split); the text says which.

    >>> epochs_text([{"stage": "pretrain-1"}] * 3 + [{"stage": "finetune", "val_loss": 0.1}] * 5, 5, 4)
    '5 (best 4 by validation loss); before them: pretrain-1 3'
    >>> epochs_text([{"stage": "train", "loss": 0.2}] * 12, 12, 12)
    '12 (best 12 by training loss)'
    >>> epochs_text([], 12, 12)
    '12 (best 12)'
    """
    text = "?" if n_epochs is None else str(int(n_epochs))
    if best_epoch is not None:
        basis = best_epoch_basis(history)
        text += f" (best {int(best_epoch)}{f' by {basis}' if basis else ''})"
    stages = {}
    for r in history or []:
        stage = str(r.get("stage") or "train")
        stages[stage] = stages.get(stage, 0) + 1
    if len(stages) > 1:
        earlier = list(stages.items())[:-1]
        text += "; before them: " + ", ".join(f"{s} {n}" for s, n in earlier)
    return text


def facts_table(est, metrics: dict | None = None) -> Table:
    """One table of what a run is: its layers, parameter count, epochs, training time and seed.

    Parameters
    ----------
    est : object
        A fitted estimator (``model_``, ``history_``, ``n_epochs_``, ``best_epoch_``,
        ``random_state``); a detector is described by its ``estimator_``.
    metrics : dict or None, default None
        Its metrics; "train_seconds" there is the fit's wall time.

    Returns
    -------
    Table

    Examples
    --------
    >>> import numpy as np
    >>> from aekit import AutoEncoder
    >>> X = np.random.default_rng(0).random((40, 16))
    >>> est = AutoEncoder(hidden=(8,), latent_dim=2, epochs=2, random_state=3).fit(X)
    >>> rows = dict((r[0], r[1]) for r in facts_table(est).rows)
    >>> rows["parameters"], rows["seed"], rows["epochs"][:8]   # 16·8+8 + 8·2+2 + 2·8+8 + 8·16+16 weights and biases
    ('322', '3', '2 (best ')
    """
    est = getattr(est, "estimator_", est)
    model = getattr(est, "model_", None)
    history = getattr(est, "history_", None)
    rows = []
    if model is not None:
        rows += [[f"layers: {part}", layers] for part, layers in architecture(model)]
        rows.append(["parameters", f"{parameter_count(model):,}"])
    rows.append(["epochs", epochs_text(history, getattr(est, "n_epochs_", None), getattr(est, "best_epoch_", None))])
    seconds, how = training_seconds(history, metrics)
    rows.append(["training time", "not recorded" if seconds is None else f"{seconds:.1f} s ({how})"])
    seed = getattr(est, "random_state", None)
    rows.append(["seed", "none (not reproducible)" if seed is None else str(seed)])
    return Table(["the run", ""], rows, css_class="facts")


LEVEL_WITH_PCA = 0.01  # a model within 1 % of PCA's error neither beats it nor loses to it


def pca_verdict(results: list[tuple[str, float | None, str | None]]) -> str:
    """A paragraph for the top of a report: how many models reconstruct better than PCA with the
    same code size and, for each that does not, why (the reason given, or that it was expected to).

    Parameters
    ----------
    results : list of (str, float or None, str or None)
        (model name, model ÷ PCA test error or None when not comparable, the reason it is not
        expected to beat PCA or None).

    Returns
    -------
    str
        HTML (names escaped); "" when there is nothing to compare.

    Examples
    --------
    >>> print(pca_verdict([("AE", 0.6, None), ("DAE", 1.4, "it is trained to denoise"), ("SAE", 1.9, None)]))
    <div class='verdict'><p><b>Most of these models (2 of 3) reconstruct the test set worse than PCA with the same code size</b>; 1 beats it. Why the others lose:</p><ul><li>DAE (1.40× PCA's error): it is trained to denoise</li><li>SAE (1.90× PCA's error): not explained here; it was expected to beat PCA (more epochs or another learning rate may help)</li></ul></div>
    >>> print(pca_verdict([("AE", 0.6, None), ("AE-32", 1.004, None)]))
    <div class='verdict'><p><b>The other model reconstructs the test set better than PCA with the same code size</b>; AE-32 is level with PCA (within 1% of its error).</p></div>
    """
    comparable = [(n, r, why) for n, r, why in results if r is not None]
    if not comparable:
        return ""
    level = [name for name, r, _ in comparable if abs(r - 1.0) <= LEVEL_WITH_PCA]
    losers = [(n, r, why) for n, r, why in comparable if r > 1.0 + LEVEL_WITH_PCA]
    comparable = [(n, r, why) for n, r, why in comparable if n not in level]
    n, k = len(comparable), len(losers)
    skipped = len(results) - len(comparable) - len(level)
    tail = f" ({skipped} more not comparable: a code as large as the input makes PCA exact)" if skipped else ""
    if level:
        tail += (f"; {', '.join(html.escape(x) for x in level)} {'is' if len(level) == 1 else 'are'} level with PCA "
                 f"(within {LEVEL_WITH_PCA:.0%} of its error)")
    if not comparable:
        return f"<div class='verdict'><p><b>Every model is level with PCA</b>{tail}.</p></div>"
    if not losers:
        who = f"All {n} models reconstruct" if n > 1 else ("The other model reconstructs" if level else
                                                             "The model reconstructs")
        return (f"<div class='verdict'><p><b>{who} the test set better than PCA with the same "
                f"code size</b>{tail}.</p></div>")
    lead = (f"<b>Every one of these {n} models reconstructs the test set worse than PCA with the same code size</b>"
            if k == n else
            f"<b>Most of these models ({k} of {n}) reconstruct the test set worse than PCA with the same code size</b>; "
            f"{n - k} beat{'s' if n - k == 1 else ''} it" if 2 * k > n else
            f"<b>{n - k} of {n} models reconstruct the test set better than PCA with the same code size</b>; "
            f"{k} do{'es' if k == 1 else ''} not")
    items = "".join(
        f"<li>{html.escape(name)} ({ratio:.2f}× PCA's error): "
        + (html.escape(why) if why else "not explained here; it was expected to beat PCA (more epochs or another "
           "learning rate may help)") + "</li>"
        for name, ratio, why in losers)
    why = "Why they lose" if k == n else "Why the others lose"
    return f"<div class='verdict'><p>{lead}{tail}. {why}:</p><ul>{items}</ul></div>"


__all__ = ["architecture", "best_epoch_basis", "epochs_text", "facts_table", "layer_name", "parameter_count", "pca_verdict",
           "training_seconds"]
