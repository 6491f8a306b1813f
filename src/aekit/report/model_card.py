"""A run's model card: a short MODEL_CARD.md beside its report.

What the model is (kind, estimator, the settings that shape it, the weights' sha256), what it
was trained on, how it did on held-out data beside its baselines (PCA with the same code size,
the training mean; a detector's ROC-AUC and rates at its threshold), what it is for, and its
limits. `aekit report` writes it; `aekit serve`'s /metadata points to it.
"""
from __future__ import annotations

from pathlib import Path

from aekit.estimators.detector import DETECTOR_FILE
from aekit.runs import RunRecord, atomic_write_text

MODEL_CARD = "MODEL_CARD.md"
# The settings that say what a network is, in the order a reader wants them.
SHAPING_PARAMS = ("arch", "hidden", "latent_dim", "activation", "tied", "loss", "likelihood", "noise", "sparsity",
                  "pretrain", "beta", "binarize", "conditional")
INTENDED_USE = {
    "autoencoder": "Compressing samples like its training data into codes (dimensionality reduction, features, "
                   "similar-item search) and reconstructing them; compare it with PCA of the same code size, "
                   "which it should beat to be worth its cost.",
    "vae": "Codes (posterior means), reconstructions, likelihood estimates and new samples of data like its "
           "training data.",
    "detector": "Ranking and flagging samples that its training data (taken as normal) does not explain: "
                "anomaly scores, and 0/1 labels at its calibrated threshold.",
    "colorizer": "Proposing colours for grey photos like its training photos.",
}


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return "(" + ", ".join(_fmt(x) for x in v) + ")"
    return str(v)


def _evaluation(kind: str, m: dict) -> list[str]:
    """The card's evaluation lines for a kind's metrics (the `aekit.kinds` evaluation)."""
    if kind in ("autoencoder", "vae") and "model" in m:
        rows = [("this model", m["model"]), (f"PCA-{m['pca']['n_components']} (same code size)", m["pca"])]
        if "mean" in m:
            rows.append(("training mean", m["mean"]))
        lines = [f"Test reconstruction error on {m.get('data')} {m.get('split', 'test')} ({m.get('n_test')} samples):",
                 "", "| | MSE per value | SSE per sample |", "|---|---|---|"]
        lines += [f"| {name} | {_fmt(e['mse_per_value'])} | {_fmt(e['sse_per_sample'])} |" for name, e in rows]
        if m.get("model_vs_pca") is not None:
            lines += ["", f"Model ÷ PCA (MSE): {m['model_vs_pca']:.2f} (below 1: better than PCA)."]
        if kind == "vae" and "elbo" in m:
            lines += ["", f"ELBO {_fmt(m['elbo'])} nats per sample; log p(x) ≈ {_fmt(m['log_likelihood'])} nats "
                          f"({m['k']} importance samples, {m['n_ll']} test samples, {m['likelihood']} decoder)."]
            if m.get("note"):
                lines.append(f"Note: {m['note']}.")
        return lines
    if kind == "detector":
        lines = [f"Scores on {m.get('data')} {m.get('split', 'test')} ({m.get('n')} samples): threshold "
                 f"{_fmt(m.get('threshold'))} ({m.get('threshold_source', '')}), {m.get('flagged')} flagged."]
        rates = [(k, label) for k, label in (("roc_auc", "ROC-AUC"), ("pr_auc", "PR-AUC"),
                                            ("tpr_at_threshold", "TPR at threshold"),
                                            ("fpr_at_threshold", "FPR at threshold")) if k in m]
        if rates:
            lines += ["", "| | value |", "|---|---|"] + [f"| {label} | {_fmt(m[k])} |" for k, label in rates]
            lines += ["", f"Normal labels: {m.get('normal_labels')}; every other label counts as an anomaly. "
                          "Baselines on the same protocol (PCA reconstruction error, IsolationForest, PyOD's "
                          "AutoEncoder): `benchmarks/anomaly.py` and benchmarks/RESULTS.md."]
        else:
            lines += ["", "No ROC-AUC: the evaluation data's labels do not say which rows are anomalies."]
        return lines
    if kind == "colorizer" and "psnr_model" in m:
        return [f"PSNR against the original colours, mean of {m.get('n_photos')} "
                f"{'held-out' if m.get('held_out', True) else 'training'} photos: colorized {_fmt(m['psnr_model'])} dB, "
                f"the grey photo (the baseline) {_fmt(m['psnr_grey'])} dB."]
    return ["No evaluation numbers."]


def _limits(kind: str, config: dict, m: dict) -> list[str]:
    model = config.get("model") or {}
    out = ["Trained on one data source only: inputs unlike it (another domain, scale or preprocessing) get "
           "codes, reconstructions and scores that mean little, without any error being raised."]
    if model.get("output_activation") == "sigmoid" or model.get("value_range") == [0.0, 1.0]:
        out.append("Expects values in [0, 1] as in training (images scaled to [0, 1]).")
    if kind == "detector":
        out.append("The threshold was set on data like the training data; on data whose normal part differs, "
                   "the false-positive rate will not be the one it was calibrated for.")
    if kind == "vae":
        out.append("Samples are decoder means of z ~ N(0, I): they look like the training data, blurred.")
    out.append("Computes in float32; results agree with other batchings to float32 precision, not bit for bit.")
    out += [f"{w[0].upper()}{w[1:]}." for w in m.get("warnings", [])]
    return out


def model_card(run_dir, kind: str, title: str, metrics: dict) -> str:
    """The Markdown text of a run's model card.

    Parameters
    ----------
    run_dir : str or os.PathLike
        The run folder (its config.json, and a detector's detector.json, are read).
    kind : str
        The run's kind: autoencoder, vae, detector or colorizer.
    title : str
        The kind in words.
    metrics : dict
        The kind's evaluation on held-out data (`aekit.kinds.RunKind.evaluate`'s metrics).

    Returns
    -------
    str

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from aekit import AutoEncoder
    >>> X = np.random.default_rng(0).random((50, 6))
    >>> run = AutoEncoder(hidden=(4,), latent_dim=2, epochs=1, random_state=0).fit(X).save(tempfile.mkdtemp() + "/ae")
    >>> m = {"data": "toy", "n_test": 5, "latent_dim": 2, "model_vs_pca": 0.8, "pca": {"n_components": 2,
    ...      "mse_per_value": 0.05, "sse_per_sample": 0.3}, "model": {"mse_per_value": 0.04, "sse_per_sample": 0.24}}
    >>> text = model_card(run, "autoencoder", "autoencoder", m)
    >>> text.splitlines()[0], "| PCA-2 (same code size) | 0.05 | 0.3 |" in text
    ('# Model card: ae', True)
    """
    record = RunRecord(run_dir)
    config = record.read_config()
    params, train = config.get("params") or {}, config.get("train") or {}
    data = config.get("data") or {}
    fitted = config.get("fitted") or {}
    shaping = [f"{k}={_fmt(params[k])}" for k in SHAPING_PARAMS if params.get(k) not in (None, False, "auto")]
    lines = [f"# Model card: {record.path.name}", "",
             f"- **Kind:** {title} (`{kind}`), estimator `{config.get('estimator', '')}`",
             f"- **Model:** {', '.join(shaping) or 'the estimator defaults'}; input shape "
             f"{_fmt((config.get('model') or {}).get('input_shape', '?'))}",
             f"- **Training:** {fitted.get('n_epochs', '?')} epochs (best {fitted.get('best_epoch', '?')}), optimizer "
             f"{train.get('optimizer', '?')}, lr {_fmt(train.get('lr', '?'))}, batch {train.get('batch_size', '?')}, "
             f"seed {train.get('seed', '?')}",
             f"- **Trained with:** aekit {config.get('aekit_version', '?')}; weights sha256 "
             f"`{config.get('weights_sha256', '?')}`"]
    if kind == "detector" and record.file(DETECTOR_FILE).exists():
        det = record.read_json(DETECTOR_FILE)
        dp = det.get("params") or {}
        networks = int(det.get("n_estimators", 1))
        lines.append(f"- **Detector:** score {det.get('score', dp.get('score', '?'))}"
                     + (f" (the mean of {networks} cross-fitted networks; networks 2 to {networks} are in members/)"
                        if networks > 1 else "")
                     + f", threshold {_fmt(det.get('threshold'))} ({det.get('threshold_source', '')})")
    extra = {k: v for k, v in data.items() if k not in ("source", "data_dir", "seed", "path", "size", "sha256")}
    lines += ["", "## Data", "",
              f"Source `{data.get('source', 'not recorded (saved from Python)')}`, split seed {data.get('seed', '?')}"
              + (f"; file sha256 `{data['sha256']}`" if data.get("sha256") else "")
              + ("; " + ", ".join(f"{k} {_fmt(v)}" for k, v in extra.items() if v is not None) if extra else "") + "."]
    lines += ["", "## Evaluation on held-out data, beside baselines", "", *_evaluation(kind, metrics)]
    lines += ["", "## Intended use", "", INTENDED_USE.get(kind, title),
              "Serve it with `aekit serve RUN` (HTTP), or load it with `aekit.kinds.load_estimator(RUN)`."]
    lines += ["", "## Limits", "", *[f"- {x}" for x in _limits(kind, config, metrics)], ""]
    return "\n".join(lines)


def write_model_card(run_dir, kind: str, title: str, metrics: dict) -> Path:
    """Write `model_card(...)` to RUN/MODEL_CARD.md (atomically); its path."""
    path = Path(run_dir) / MODEL_CARD
    atomic_write_text(path, model_card(run_dir, kind, title, metrics))
    return path


__all__ = ["MODEL_CARD", "model_card", "write_model_card"]
