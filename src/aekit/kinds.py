"""The registry of run kinds: what each kind of run folder is and how to use it.

A run folder holds one of these kinds::

    autoencoder  AutoEncoder (every deterministic preset: ae, dae, sae, stacked, dbn, conv-*)
    vae          VariationalAutoEncoder (vae, conv-vae, cvae)
    colorizer    Colorizer
    detector     AutoEncoderDetector over an autoencoder or a VAE (detector.json beside the model;
                 on images, tables or a time series)

Each `RunKind` says how to load the folder, which data it trains and is evaluated on, how to
evaluate it beside its baselines, what its report shows and what its console tables print.
`load_estimator`, `aekit train|evaluate|report|encode` and the tasks dispatch through
`kind_of` / `kind_of_preset` and nowhere else, so adding a kind touches this module only.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aekit.data import Dataset, load
from aekit.data.streamed import image_dataset, in_memory
from aekit.data.builtin import canonical_name
from aekit.data.files import image_folder_files
from aekit.data.image_source import ImageFolderSource
from aekit.data.photos import PHOTO_SOURCES, load_photos
from aekit.errors import AekitWarning, ConfigError, DataError, RunFolderError
from aekit.estimators import AutoEncoder, AutoEncoderDetector, Colorizer, VariationalAutoEncoder
from aekit.estimators.detector import DETECTOR_FILE
from aekit.estimators.presets import PRESETS, preset_class
from aekit.evaluation import (baseline_warnings, detector_baselines, evaluate_colorizer, evaluate_detector,
                              evaluate_reconstruction, evaluate_vae, labels_for, model_input)
from aekit.report.colorize import colorizer_section, colorizer_tables
from aekit.report.detector import detector_figures, detector_section, detector_tables, explanation_bars
from aekit.report.html import Section, Table
from aekit.report.run_report import ReportEntry, model_section
from aekit.report.series_detector import series_section
from aekit.report.vae import likelihood_table, vae_section
from aekit.runs import DataRecord, RunRecord
from aekit.specs import positive_int


# -- the data of a run ------------------------------------------------------------------------------
def load_splits(source, data_dir=None, seed: int = 0, label_column=None, train_size: int | None = None,
                image_options: dict | None = None) -> tuple[Dataset, Dataset, Dataset]:
    """(train, val, test) of a source, split with `seed`; `train_size` keeps that many training
    samples (a seeded draw), for quick runs; `image_options` (size, crop, grey) decode an image
    folder through `aekit.data.image_source.ImageFolderSource`."""
    if image_options:
        folder = image_folder(source, **image_options)
        train = folder.split("train", seed)
        if train_size is not None:
            train = train.subset(train_draw(len(train), train_size, seed, folder.name))
        return (image_dataset(train, "train"), image_dataset(folder.split("val", seed), "val"),
                image_dataset(folder.split("test", seed), "test"))
    kw = {"data_dir": data_dir, "seed": seed}
    if label_column is not None:
        kw["label_column"] = label_column
    train = load(source, split="train", **kw)
    if train_size is not None:
        train = train.subset(train_draw(len(train), train_size, seed, train.name), split="train")
    return train, load(source, split="val", **kw), load(source, split="test", **kw)


def train_draw(n: int, train_size, seed: int, name: str) -> np.ndarray:
    """The sorted seeded draw of `train_size` rows out of n training rows (`--train-size`)."""
    size = positive_int(train_size, "--train-size", "training samples to use")
    if size > n:
        raise DataError(f"--train-size {size} is more than the {n} training samples of {name}")
    return np.sort(np.random.default_rng(seed).permutation(n)[:size])


def image_folder(source, size=None, crop=None, grey=False, transform=None, num_workers=0) -> ImageFolderSource:
    """The image folder `source`, read lazily with these options (DataError when it is not a folder)."""
    folder = Path(str(source)).expanduser()
    if not folder.is_dir():
        raise DataError(f"{source}: --image-size, --image-crop, --grey and --image-workers are for folders of images")
    return ImageFolderSource(folder, size, crop=crop, grey=grey, transform=transform, num_workers=num_workers)


def limit_rows(ds: Dataset, limit: int | None, flag: str = "--limit", seed: int = 0,
               notice: Callable[[str], None] | None = None) -> Dataset:
    """At most `limit` rows of `ds` (a seeded draw, in their order), for a quick run; a limit
    above the data's size keeps every row, saying so through `notice`.

    Examples
    --------
    >>> from aekit.data import load
    >>> len(limit_rows(load("digits", split="test"), 50))
    50
    """
    if limit is None:
        return ds
    n = positive_int(limit, flag, "samples to use")
    if n >= len(ds):
        if n > len(ds) and notice is not None:
            notice(f"{flag} {n} is more than the {len(ds)} samples of {ds.name} {ds.split}: using all of them")
        return ds
    return ds.subset(np.sort(np.random.default_rng(seed).permutation(len(ds))[:n]))


def recorded_source(run, data=None, data_dir=None, label_column=None, record: DataRecord | None = None
                    ) -> tuple[str, object, int, object]:
    """(source, data_dir, seed, label_column) to load a run's data with: the recorded ones (a file
    checked unchanged), or `data` given instead (then split with seed 0 unless it is the same)."""
    rec = record if record is not None else RunRecord(run).data_record()
    same = data is None or str(data) == rec.source
    source = rec.resolved_source() if data is None else str(data)
    if label_column is None and same:
        label_column = rec.label_column
    return source, data_dir if data_dir is not None else rec.data_dir, rec.seed if same else 0, label_column


def recorded_splits(run, data=None, data_dir=None, label_column=None) -> tuple[Dataset, Dataset, Dataset]:
    """(train, val, test) of the data a run was trained on (its --train-size draw too), or of `data`."""
    rec = RunRecord(run).data_record()
    train_size = rec.extra.get("train_size") if data is None else None
    return load_splits(*recorded_source(run, data, data_dir, label_column, rec), train_size=train_size,
                       image_options=rec.extra.get("image_options"))


def recorded_split(run, split: str, data=None, data_dir=None) -> Dataset:
    """One split of the data a run was trained on (or of `data`, given instead)."""
    rec = RunRecord(run).data_record()
    source, ddir, seed, label_column = recorded_source(run, data, data_dir, record=rec)
    if rec.extra.get("image_options"):
        return image_dataset(image_folder(source, **rec.extra["image_options"]).split(split, seed), split)
    kw = {"label_column": label_column} if label_column is not None else {}
    return load(source, split=split, data_dir=ddir, seed=seed, **kw)


# -- what a kind is --------------------------------------------------------------------------------
@dataclass
class Evaluation:
    """A kind's evaluation of a fitted estimator: its metrics, and what its report draws from."""

    metrics: dict
    context: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RunKind:
    """One kind of run folder.

    Attributes
    ----------
    name : str
        The kind's name (config.json's "kind"; "detector" for a folder with detector.json).
    title : str
        What the kind is, in words.
    estimator : type
        The class whose `load` reads the folder.
    evaluate : callable
        (estimator, run folder, data, data_dir, options) → Evaluation: the test-split numbers
        beside the kind's baselines.
    tables : callable
        metrics → the console tables (report Table objects).
    sections : callable
        (name, estimator, Evaluation, figure folder) → the report's sections.
    training_data : callable or None
        (source, data_dir, seed, label_column) → (fit arguments, fit keyword arguments, data
        record, data for the evaluation) for `aekit train`; None for kinds trained elsewhere.
    """

    name: str
    title: str
    estimator: type
    evaluate: Callable[..., Evaluation]
    tables: Callable[[dict], list[Table]]
    sections: Callable[..., list[Section]]
    training_data: Callable | None = None

    def load(self, path, device: str = "cpu"):
        return self.estimator.load(path, device=device)


# autoencoders -----------------------------------------------------------------------------------------
def _recon_data(est, source, data_dir, seed, label_column, train_size=None, image_options=None
                ) -> tuple[tuple, dict, DataRecord, dict]:
    train, val, test = load_splits(source, data_dir, seed, label_column, train_size, image_options)
    y = y_val = None
    if isinstance(est, VariationalAutoEncoder) and est.conditional:
        if train.y is None:
            raise DataError(f"{train.name}: a conditional VAE needs labels (for CSV files, --label-column)")
        y, y_val = train.y, (val.y if len(val) else None)
    kwargs = {"X_val": val.X if len(val) else None}
    if isinstance(est, VariationalAutoEncoder):
        kwargs["y_val"] = y_val
    # a folder of WAV files: its rate and windows, which `aekit denoise --input` cuts a file with
    signal = {k: train.meta[k] for k in ("sample_rate", "window", "hop") if k in train.meta}
    record = DataRecord.of(source, data_dir, seed, train, label_column, **signal,
                           **({"train_size": int(train_size)} if train_size is not None else {}),
                           **({"image_options": dict(image_options)} if image_options else {}))
    return (train.X, y), kwargs, record, {"splits": {"train": train, "test": test}}


def _evaluate_recon(est, run=None, data=None, data_dir=None, *, splits=None, **_) -> Evaluation:
    train, test = (splits["train"], splits["test"]) if splits else recorded_splits(run, data, data_dir)[::2]
    train, test = in_memory(train), in_memory(test)  # data streamed from disk: a seeded draw that fits
    return Evaluation(evaluate_reconstruction(est, train, test), {"train": train, "test": test})


def _recon_tables(m: dict) -> list[Table]:
    return [error_table_rows(m)]


def error_table_rows(m: dict) -> Table:
    """The model's, PCA's and the training mean's test reconstruction errors, for the console; the
    caption says plainly when the model does worse than a baseline."""
    rows = [["autoencoder", m["model"]["mse_per_value"], m["model"]["sse_per_sample"]],
            [f"PCA-{m['pca']['n_components']}", m["pca"]["mse_per_value"], m["pca"]["sse_per_sample"]]]
    if "mean" in m:
        rows.append(["training mean", m["mean"]["mse_per_value"], m["mean"]["sse_per_sample"]])
    caption = " ".join(f"Warning: {w}." for w in m.get("warnings", []))
    return Table(["", "MSE per value", "SSE per sample"], rows, caption=caption,
                 title=f"test reconstruction error on {m['data']} ({m['n_test']} samples)")


def _recon_sections(name, est, ev: Evaluation, fig_dir) -> list[Section]:
    entry = ReportEntry(name, est, ev.metrics)
    return [model_section(entry, ev.context["train"], ev.context["test"], Path(fig_dir), "model")]


# variational autoencoders -------------------------------------------------------------------------
def _evaluate_vae(est, run=None, data=None, data_dir=None, *, splits=None, k: int = 1000, limit=None,
                  seed: int = 0, **_) -> Evaluation:
    train, test = (splits["train"], splits["test"]) if splits else recorded_splits(run, data, data_dir)[::2]
    train, test = in_memory(train), in_memory(test)  # data streamed from disk: a seeded draw that fits
    return Evaluation(evaluate_vae(est, train, test, k=k, n_ll=limit, seed=seed), {"train": train, "test": test})


def _vae_tables(m: dict) -> list[Table]:
    t = likelihood_table(m)
    t.title = f"VAE test likelihoods on {m['data']} (nats per sample, {m['likelihood']} decoder)"
    return [error_table_rows(m), t]


def _vae_sections(name, est, ev: Evaluation, fig_dir) -> list[Section]:
    return [vae_section(name, est, ev.context["train"], ev.context["test"], Path(fig_dir), "vae", ev.metrics)]


# colorizers ----------------------------------------------------------------------------------------------
MIN_IMAGE_SET = 50  # a folder of at least this many images of one size is an image set, not photos to crop
COLOUR_SETS = ("cifar10", "cifar100")
EVAL_IMAGES = 10000  # test images a colorizer is evaluated on at most (a seeded draw)


def _colorizer_data(est, source, data_dir, seed, label_column, train_size=None, image_options=None
                    ) -> tuple[tuple, dict, DataRecord, dict]:
    if canonical_name(str(source)) in ("digits", "mnist", "fashion-mnist"):
        raise DataError(f"a colorizer learns from colour photos, and {source} is grey: use --data bundled "
                        "(the photos bundled with scikit-image, scikit-learn, matplotlib), --data skimage "
                        "(scikit-image's only), cifar10, cifar100 or a folder of colour images")
    if image_options and image_options.get("grey"):
        raise ConfigError("--grey makes the images grey, and a colorizer learns colour from colour images")
    sets = colour_image_sets(source, data_dir, seed, image_options, train_size)
    if sets is not None:  # whole images of one size: CIFAR in RAM, a folder read lazily
        train, val, test, extra = sets
        record = DataRecord.of(source, data_dir, seed, images=True, n_train=len(train), **extra)
        return (), {"lab": train, "lab_val": val}, record, {"images": test}
    if train_size is not None:
        raise ConfigError("--train-size is for sample data; a colorizer trains on photos (use fewer photos in --data)")
    train, test = load_photos(source, seed=est.random_state)
    record = DataRecord.of(source, None, est.random_state, train_photos=[n for n, _ in train],
                           test_photos=[n for n, _ in test])
    return ([p for _, p in train],), {}, record, {"photos": test or train[:1], "held_out": bool(test)}


def colour_image_sets(source, data_dir, seed: int, image_options: dict | None, train_size=None, *,
                      test_only: bool = False) -> tuple | None:
    """A colorizer's (train, val, test, record entries) when `source` is a set of whole images of
    one size, else None (photos to crop: "bundled", "skimage", or a folder of fewer than
    MIN_IMAGE_SET images or of several sizes, without image options). CIFAR: scaled-Lab arrays
    for train and val, RGB test images; a folder: `ImageFolderSource` s (Lab for train and val,
    RGB for test) over its seeded splits. The test part is at most EVAL_IMAGES (a seeded draw)."""
    from aekit.data.image_source import rgb_to_lab_batch

    name = canonical_name(str(source))
    if name in COLOUR_SETS:
        parts = ("test",) if test_only else ("train", "val", "test")
        data = {s: load(name, split=s, data_dir=data_dir, seed=seed) for s in parts}
        test = data["test"].X
        test = test[np.sort(np.random.default_rng(seed).permutation(len(test))[:EVAL_IMAGES])]
        if test_only:
            return None, None, test, {}
        train = data["train"].X
        if train_size is not None:
            train = train[train_draw(len(train), train_size, seed, name)]
        extra = {"train_size": int(train_size)} if train_size is not None else {}
        return rgb_to_lab_batch(train), rgb_to_lab_batch(data["val"].X), test, extra
    if str(source) in PHOTO_SOURCES:
        return None
    options = dict(image_options or {})
    if not options:
        folder = Path(str(source)).expanduser()
        if not folder.is_dir() or len(image_folder_files(folder)[0]) < MIN_IMAGE_SET:
            return None
        try:
            image_folder(source)
        except DataError:  # images of several sizes: photos to crop, as before
            return None
    rgb = image_folder(source, **options)
    test = rgb.split("test", seed)
    test = test.subset(np.sort(np.random.default_rng(seed).permutation(len(test))[:EVAL_IMAGES]))
    if test_only:
        return None, None, test, {}
    lab = image_folder(source, **options, transform="lab")
    train = lab.split("train", seed)
    if train_size is not None:
        train = train.subset(train_draw(len(train), train_size, seed, lab.name))
    extra = {"image_options": options} if options else {}
    if train_size is not None:
        extra["train_size"] = int(train_size)
    return train, lab.split("val", seed), test, extra


def _evaluate_colorizer(est, run=None, data=None, data_dir=None, *, photos=None, held_out=True, images=None,
                        **_) -> Evaluation:
    if images is not None:
        return Evaluation(est.evaluate_images(images), {})
    if photos is None:
        rec = RunRecord(run).data_record()
        source, ddir, seed, _ = recorded_source(run, data, data_dir, record=rec)
        if rec.extra.get("images") or data is not None:
            sets = colour_image_sets(source, ddir, seed, rec.extra.get("image_options"), test_only=True)
            if sets is not None:
                return Evaluation(est.evaluate_images(sets[2]), {})
        train, test = load_photos(source, seed=int(rec.seed))
        photos, held_out = test or train[:1], bool(test)
    return Evaluation(evaluate_colorizer(est, photos, held_out), {})


def _colorizer_sections(name, est, ev: Evaluation, fig_dir) -> list[Section]:
    return [colorizer_section(name, est, ev.metrics, fig_dir, "colorizer")]


# detectors -------------------------------------------------------------------------------------------------
def table_splits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, test rows) of a table file of n rows for a detector: the test part as
    `aekit.data.load` splits files (a seeded 20 %), the rest for training (the detector holds
    out its own calibration rows from them)."""
    from aekit.data.loader import split_indices

    test = split_indices(n, "test", seed=seed)
    return np.setdiff1d(np.arange(n), test), test


def anomaly_labels(df, label_column: str | None, normal: list | None) -> np.ndarray | None:
    """Which rows of a table the label column marks as anomalies: labels outside `normal`
    (default: 0 is normal, anything else an anomaly, as in the ODDS tables); None without one."""
    import pandas as pd

    if label_column is None or label_column not in df.columns:
        return None
    labels = pd.to_numeric(df[label_column], errors="coerce")
    if labels.isna().any():
        raise DataError(f"label column {label_column!r} holds values that are not numbers")
    return ~labels.isin(normal if normal is not None else [0]).to_numpy()


def _evaluate_table_detector(det, run, data=None, top_rows: int = 8) -> Evaluation:
    from aekit.data.tabular import read_table
    from aekit.metrics import detection_metrics

    rec = RunRecord(run).data_record()
    df = read_table(data if data is not None else rec.resolved_source())
    train_rows, test_rows = table_splits(len(df), rec.seed if data is None else 0)
    part = df.iloc[test_rows]
    is_anomaly = anomaly_labels(part, rec.label_column, rec.extra.get("normal_labels"))
    scores = det.decision_function(part)
    metrics = {"data": Path(rec.source if data is None else str(data)).name, "split": "test",
               "normal_labels": rec.extra.get("normal_labels"), "threshold_source": det.threshold_source_}
    if is_anomaly is not None and 0 < is_anomaly.sum() < len(is_anomaly):
        metrics.update(detection_metrics(scores, is_anomaly, det.threshold_))
        # the baselines on the same encoded columns (missing cells as the encoder imputes them)
        encode = det.table_encoder_.transform
        metrics["baselines"] = detector_baselines(encode(df.iloc[train_rows])[0], encode(part)[0], is_anomaly,
                                                  det.estimator_.model_config_.code_size)
    else:
        metrics.update({"n": len(part), "threshold": det.threshold_, "flagged": int((scores > det.threshold_).sum())})
    metrics["warnings"] = baseline_warnings(metrics)
    order = np.argsort(-scores, kind="stable")[:top_rows]
    worst = part.iloc[order]
    explanations = det.explain(worst, top=5)
    return Evaluation(metrics, {"scores": scores, "is_anomaly": is_anomaly, "data": None,
                                "explanations": explanations,
                                "explained_scores": dict(zip(worst.index.tolist(), scores[order].tolist()))})


def _evaluate_series_detector(det, run, data=None) -> Evaluation:
    from aekit.estimators.series_evaluation import evaluate_series_detector

    rec = RunRecord(run).data_record()
    metrics, context = evaluate_series_detector(det, data if data is not None else rec.resolved_source(),
                                                train_rows=None if data is not None else rec.extra.get("train_rows"))
    metrics["warnings"] = baseline_warnings(metrics)
    return Evaluation(metrics, context)


def _evaluate_detector(det, run=None, data=None, data_dir=None, *, split: str = "test", normal=None, **_
                       ) -> Evaluation:
    if getattr(det, "series_", None) is not None:
        return _evaluate_series_detector(det, run, data)
    if det.table_encoder_ is not None:
        return _evaluate_table_detector(det, run, data)
    rec = RunRecord(run).data_record()
    normal = normal if normal is not None else rec.extra.get("normal_labels")
    ds = recorded_split(run, split, data, data_dir)
    train = baseline_training_split(run, data_dir) if split != "train" else None
    metrics, scores, is_anomaly = evaluate_detector(det, ds, normal, train=train)
    return Evaluation(metrics, {"scores": scores, "is_anomaly": is_anomaly, "data": ds})


def baseline_training_split(run, data_dir=None) -> Dataset | None:
    """The run's own training split, to fit the baselines a detector stands beside; None (with a
    warning) when it can no longer be loaded as recorded (a moved or changed file)."""
    try:
        return recorded_split(run, "train", None, data_dir)
    except DataError as exc:
        warnings.warn(f"no baselines beside the detector: its training data cannot be loaded ({exc})", AekitWarning,
                      stacklevel=2)
        return None


def _detector_sections(name, det, ev: Evaluation, fig_dir) -> list[Section]:
    if "series" in ev.context:
        return [series_section(name, det, ev.metrics, ev.context, Path(fig_dir))]
    written = detector_figures(ev.context["scores"], det.threshold_, ev.context["is_anomaly"], ev.context["data"],
                               Path(fig_dir))
    if ev.context.get("explanations") is not None and len(ev.context["explanations"]):
        written["explanations"] = explanation_bars(ev.context["explanations"], ev.context["explained_scores"],
                                                   det.threshold_, Path(fig_dir) / "explanations.png")
    return [detector_section(name, det, ev.metrics, written)]


# -- the registry -----------------------------------------------------------------------------------------
KINDS: dict[str, RunKind] = {
    "autoencoder": RunKind("autoencoder", "autoencoder", AutoEncoder, _evaluate_recon, _recon_tables,
                           _recon_sections, _recon_data),
    "vae": RunKind("vae", "variational autoencoder", VariationalAutoEncoder, _evaluate_vae, _vae_tables,
                   _vae_sections, _recon_data),
    "colorizer": RunKind("colorizer", "colorizer", Colorizer, _evaluate_colorizer, colorizer_tables,
                         _colorizer_sections, _colorizer_data),
    "detector": RunKind("detector", "anomaly detector", AutoEncoderDetector, _evaluate_detector, detector_tables,
                        _detector_sections),
}


def kind_of(run) -> RunKind:
    """The kind of a run folder (RunFolderError for a folder that is not a run)."""
    record = RunRecord(run)
    if not record.path.is_dir():
        raise RunFolderError(f"{record.path}: no such run folder")
    if record.file(DETECTOR_FILE).exists():
        return KINDS["detector"]
    name = record.kind
    if name not in KINDS:
        raise RunFolderError(f"{record.config_path}: unknown run kind {name!r}; this aekit reads "
                             f"{', '.join(KINDS)}")
    return KINDS[name]


def kind_of_preset(preset: str) -> RunKind:
    """The kind `aekit train --model PRESET` writes."""
    cls = preset_class(preset)
    for kind in KINDS.values():
        if kind.estimator is cls and kind.training_data is not None:
            return kind
    raise ConfigError(f"preset {preset!r} cannot be trained with aekit train")  # pragma: no cover


def load_estimator(run, device: str = "cpu"):
    """The estimator of a run folder, of the kind it holds."""
    return kind_of(run).load(run, device=device)


def require_encoder(est, what: str):
    """The estimator, if it encodes samples into codes (ConfigError for a colorizer or detector)."""
    if not hasattr(est, "transform"):
        raise ConfigError(f"{what} needs a run folder with an encoder (an autoencoder or a VAE), "
                          f"not a {type(est).__name__}")
    return est


__all__ = ["Evaluation", "baseline_training_split", "limit_rows", "KINDS", "PRESETS", "RunKind", "kind_of", "kind_of_preset", "labels_for", "load_estimator",
           "load_splits", "model_input", "recorded_source", "recorded_split", "recorded_splits", "require_encoder"]
