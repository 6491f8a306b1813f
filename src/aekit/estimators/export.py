"""Export a fitted estimator's forward path to ONNX or TorchScript, preprocessing included.

A *part* is one forward path of an estimator, wrapped in a small `torch.nn.Module` that holds
everything the estimator does to raw inputs, so that the file gives the numbers `transform`,
`reconstruct`, `sample` or `decision_function` give (`PARTS`): encoder, decoder, autoencoder,
detector, colorizer.

Inside the graph: the per-feature standardization learned on the training data (and its
inverse on the outputs), the reshaping between flat rows and images, a conditional VAE's one-hot
labels (the graph takes class indices), and the detector's score (with "mse+code"'s training
statistics as constants: `aekit.estimators.export_scores`), NaN policy and threshold.
What cannot be inside (the 8-bit image scaling and the CIE Lab conversion done before an
estimator sees the data) is written beside the file as JSON metadata (`<file>.json`, also
embedded: ONNX metadata_props "aekit", TorchScript extra file "aekit.json") with the input and
output names, shapes and dtypes, the threshold, the kind, the aekit version and the weights'
sha256. A model fitted on a table exports on the encoded table, the column encoding's state in
the metadata (`aekit.estimators.export_table`).

ONNX goes through torch's dynamo exporter (the TorchScript-based one is deprecated) with a
dynamic batch axis; convolutional models export for their trained image size, a colorizer for
any size. Before a file is written, onnxruntime (or `torch.jit.load`) runs it on probe batches
of 1 and 3 rows and must match the wrapped module within 1e-4, so a graph a runtime cannot run
(an opset it lacks) is refused with one clear message.
"""
from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import logging
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils.validation import check_is_fitted
from torch import nn

from aekit import __version__
from aekit.errors import ConfigError
from aekit.estimators.detector_models import SAMPLED_SCORES
from aekit.estimators.export_scores import DetectorGraph, EnsembleGraph, manifold_graph
from aekit.runs import atomic_write_bytes, check_output_file, write_json

FORMATS = ("onnx", "torchscript")
PARTS = {
    "encoder": "x → codes (an autoencoder's code; a VAE's posterior mean and log-variance)",
    "decoder": "codes → data (a VAE's generation: z → decoder mean)",
    "autoencoder": "x → reconstruction, in x's shape",
    "detector": "x → anomaly score and 0/1 label (score > the detector's threshold)",
    "colorizer": "scaled L (N×1×H×W) → scaled ab (N×2×H×W)",
}
DEFAULT_PARTS = {"autoencoder": "encoder", "vae": "encoder", "detector": "detector", "colorizer": "colorizer"}
MIN_OPSET = 18  # the lowest opset torch's dynamo exporter implements
DEFAULT_OPSET = 18
TOLERANCE = 1e-4  # max |exported − torch| accepted on the probe batches (atol and rtol)
METADATA_FORMAT = "aekit-export"
METADATA_VERSION = 1
BATCH = "batch"


# -- the graphs ------------------------------------------------------------------------------------
class Labelled(nn.Module):
    """A conditional VAE's graph taking class indices: (x, label int64 N) → graph(x, one-hot rows)."""

    def __init__(self, graph: nn.Module, n_classes: int):
        super().__init__()
        self.inner = graph
        self.register_buffer("eye", torch.eye(int(n_classes)))

    def forward(self, x: torch.Tensor, label: torch.Tensor):
        return self.inner(x, self.eye[label])


class NetworkGraph(nn.Module):
    """An autoencoder's or VAE's part on raw inputs [and one-hot rows c of a conditional VAE]:
    "encoder" x → codes (a VAE's: posterior mean μ and log-variance log σ²), "decoder" codes →
    data of shape N × `out_shape`, "autoencoder" x → reconstruction in x's shape."""

    def __init__(self, model: nn.Module, part: str, out_shape: tuple[int, ...]):
        super().__init__()
        self.model = model
        self.part = part
        self.out_shape = tuple(out_shape)
        self.vae = hasattr(model, "posterior")

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None):
        rows = x if c is None else torch.cat([x.reshape(x.shape[0], -1), c], 1)
        if self.part == "decoder":
            return self.model.decode(rows).reshape(x.shape[0], *self.out_shape)
        if self.part == "autoencoder":
            return self.model(rows).reshape(x.shape)
        if self.vae:
            return self.model.posterior(x.reshape(x.shape[0], -1), c)
        return self.model.encode(x)


class ColorizerGraph(nn.Module):
    """Scaled L (N×1×H×W, any H, W) → scaled ab (N×2×H×W), as `Colorizer.predict_ab`.

    The image is zero-padded at the bottom and right to a multiple of 2**depth here, with
    non-negative remainders only, and the output cropped back: what the encoder's own padding
    does, but in a form the ONNX graph keeps exact (its integer division truncates where
    Python's floors, so the encoder's ceil-by-negation would be off by one block on other sizes)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.multiple = 2 ** model.encoder.depth

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        h, w = L.shape[-2], L.shape[-1]
        m = self.multiple
        padded = F.pad(L, (0, (m - w % m) % m, 0, (m - h % m) % m))
        return self.model.predict_ab(padded)[:, :, :h, :w]


# -- what a part takes and gives -------------------------------------------------------------------
@dataclass
class TensorSpec:
    """One input or output of an exported graph (a dimension "batch" is dynamic)."""

    name: str
    shape: list
    dtype: str
    description: str


@dataclass
class GraphSpec:
    """A part ready to export: the module, its inputs and outputs, and notes for the metadata."""

    part: str
    module: nn.Module
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    notes: dict = field(default_factory=dict)

    @property
    def dynamic_dims(self) -> dict[str, dict[int, str]]:
        """Input name → {axis: dimension name} of the dynamic axes ("batch", image sides)."""
        return {t.name: {i: d for i, d in enumerate(t.shape) if isinstance(d, str)} for t in self.inputs}

    def probe(self, n: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
        """n rows of each input: values in the data's range, codes ~ N(0, 1), valid class indices."""
        g = torch.Generator().manual_seed(seed)
        out = []
        for spec in self.inputs:
            # free image sides vary between probes (5..13) so that a graph fixed to one size is caught
            shape = [n if d == BATCH else (5 + 3 * seed + i if isinstance(d, str) else int(d))
                     for i, d in enumerate(spec.shape)]
            if spec.dtype == "int64":
                out.append(torch.randint(0, int(self.notes["n_classes"]), shape, generator=g))
            elif spec.dtype == "bool":  # observed cells of a table: most, not all
                out.append(torch.rand(shape, generator=g) < 0.8)
            elif spec.name == "z":
                out.append(torch.randn(shape, generator=g))
            else:
                lo, hi = self.notes.get("value_range", (0.0, 1.0))
                out.append(lo + (hi - lo) * torch.rand(shape, generator=g))
        return tuple(out)


def default_part(est) -> str:
    """The part exported when none is given (`DEFAULT_PARTS`: the encoder of a model)."""
    return DEFAULT_PARTS.get(_kind(est), "encoder")


def _kind(est) -> str:
    from aekit.estimators.detector import AutoEncoderDetector

    return "detector" if isinstance(est, AutoEncoderDetector) else getattr(est, "_kind", "") or type(est).__name__


def _not_exportable(est) -> str | None:
    """Why an estimator has no exportable forward path, or None."""
    from aekit.estimators.classifier import AutoEncoderClassifier

    if isinstance(est, AutoEncoderClassifier):
        return ("an AutoEncoderClassifier cannot be exported: its pseudo-labels come from label spreading, a "
                "transductive step over the k-nearest-neighbour graph of its training rows' codes, so it has no run "
                "folder and no forward path of its own to write; export the autoencoder it pretrained "
                "(clf.autoencoder_.export(...)) or a run folder from aekit train")
    if _kind(est) not in DEFAULT_PARTS:
        return (f"a {type(est).__name__} is not an aekit estimator with a network to export (AutoEncoder, "
                "VariationalAutoEncoder, AutoEncoderDetector, Colorizer)")
    return None


def graph_spec(est, part: str | None = None) -> GraphSpec:
    """The wrapped module and its interface for one part of a fitted estimator.

    Parameters
    ----------
    est : AutoEncoder, VariationalAutoEncoder, AutoEncoderDetector or Colorizer
        Fitted (or loaded from a run folder).
    part : str or None
        One of `PARTS`; None: `default_part(est)`.

    Returns
    -------
    GraphSpec

    Raises
    ------
    ConfigError
        An estimator or part that cannot be exported, saying which part and why.

    Examples
    --------
    >>> import numpy as np
    >>> from aekit import AutoEncoder
    >>> ae = AutoEncoder(hidden=(4,), latent_dim=2, epochs=1, random_state=0).fit(np.random.rand(32, 6))
    >>> spec = graph_spec(ae)
    >>> spec.part, [i.shape for i in spec.inputs], [o.shape for o in spec.outputs]
    ('encoder', [['batch', 6]], [['batch', 2]])
    """
    why = _not_exportable(est)
    if why:
        raise ConfigError(why)
    kind = _kind(est)
    part = default_part(est) if part is None else str(part)
    if part not in PARTS:
        raise ConfigError(f"unknown part {part!r}; choose one of {', '.join(PARTS)}")
    if kind == "colorizer":
        if part != "colorizer":
            raise ConfigError(f"part {part!r} is not one a colorizer has: its one forward path is the colorizer "
                              "(scaled L → scaled ab); it has no code of fixed size to encode to or decode from")
        check_is_fitted(est, "model_")
        return _colorizer_spec(est)
    if part == "colorizer":
        raise ConfigError(f"part 'colorizer' needs a colorizer run; this is a {kind}")
    if kind == "detector":
        check_is_fitted(est, "estimator_")
    elif part == "detector":
        raise ConfigError(f"part 'detector' needs a detector (aekit detect fit, AutoEncoderDetector); this "
                          f"{kind} has no threshold: export encoder, decoder or autoencoder")
    inner = est.estimator_ if kind == "detector" else est
    check_is_fitted(inner, "model_")
    if getattr(inner, "table_encoder_", None) is not None:  # the graph takes the encoded table
        from aekit.estimators import export_table
        from aekit.estimators.detector_tables import IMPUTE_PASSES

        return (export_table.table_detector_spec(est, [_model(m) for m in est.estimators_], IMPUTE_PASSES)
                if part == "detector"
                else export_table.table_network_spec(inner, part, _model(inner)))
    return _detector_spec(est) if part == "detector" else _network_spec(inner, part)


def _model(est) -> nn.Module:
    """A frozen CPU copy of the estimator's network (the estimator keeps its own, on its device)."""
    model = copy.deepcopy(est.model_).cpu().float().eval()
    return model.requires_grad_(False)


def _wrap(est, graph: nn.Module) -> nn.Module:
    """The graph, taking class indices as a second input for a conditional VAE."""
    n = getattr(est.model_config_, "n_classes", 0)
    return Labelled(graph, n) if n else graph


def _data_shape(est) -> list:
    cfg = est.model_config_
    return [BATCH, *cfg.input_shape] if getattr(est, "input_ndim_", 2) == 4 else [BATCH, cfg.n_features]


def _input_notes(est) -> dict:
    cfg = est.model_config_
    lo, hi = cfg.value_range
    notes = {"value_range": [lo, hi], "standardized_in_graph": bool(cfg.standardize)}
    if cfg.standardize:
        notes["preprocessing"] = ("per-feature standardization (x − mean) / std, learned on the training data, "
                                  "is inside the graph (and its inverse on data-space outputs): feed raw values")
    else:
        notes["preprocessing"] = ("values in [0, 1], as the model was trained on: aekit's loaders divide 8-bit "
                                  "images by 255 before the graph")
    if cfg.image_shape is not None:
        notes["image_shape"] = list(cfg.image_shape)
        if getattr(est, "input_ndim_", 2) == 2:
            notes["layout"] = f"flat rows of {cfg.n_features} values, the image {list(cfg.image_shape)} row-major"
    return notes


def _network_spec(est, part: str) -> GraphSpec:
    """The encoder, decoder or autoencoder of an AutoEncoder or VAE."""
    cfg, vae = est.model_config_, est._kind == "vae"
    labels = []
    if getattr(cfg, "n_classes", 0):
        labels = [TensorSpec("label", [BATCH], "int64", f"index of each row's class in `classes` (0 to "
                                                        f"{cfg.n_classes - 1})")]
    notes = {**_input_notes(est), **({"n_classes": cfg.n_classes, "classes": list(cfg.classes)} if labels else {})}
    x = TensorSpec("x", _data_shape(est), "float32", "raw samples, in the layout the estimator was fitted on")
    code = [BATCH, cfg.code_size]
    if part == "decoder":
        z = TensorSpec("z", code, "float32", "latent codes; for generation z ~ N(0, I)" if vae else "codes")
        what = ("decoder mean (probabilities for a Bernoulli VAE): VariationalAutoEncoder.sample, inverse_transform"
                if vae else "decoded samples in data space (AutoEncoder.inverse_transform)")
        graph = NetworkGraph(_model(est), part, tuple(x.shape[1:]))
        return GraphSpec(part, _wrap(est, graph), [z, *labels], [TensorSpec("x", x.shape, "float32", what)], notes)
    if part == "autoencoder":
        out = [TensorSpec("reconstruction", x.shape, "float32", "decoder(encoder(x)) in data space (reconstruct)")]
        return GraphSpec(part, _wrap(est, NetworkGraph(_model(est), part, ())), [x, *labels], out, notes)
    out = ([TensorSpec("mean", code, "float32", "posterior mean μ (VariationalAutoEncoder.transform)"),
            TensorSpec("log_variance", code, "float32", "posterior log-variance log σ²")] if vae
           else [TensorSpec("code", code, "float32", "the codes (AutoEncoder.transform)")])
    return GraphSpec(part, _wrap(est, NetworkGraph(_model(est), part, ())), [x, *labels], out, notes)


def _detector_spec(det) -> GraphSpec:
    inner = det.estimator_
    if det.score_ in SAMPLED_SCORES:
        raise ConfigError(f"part 'detector' cannot be exported for score={det.score_!r}: that score averages "
                          "Monte-Carlo samples of z (random draws), which a deterministic graph cannot reproduce; "
                          "export part 'autoencoder' (or 'encoder') and score outside, or use score='mse'")
    x = TensorSpec("x", _data_shape(inner), "float32", "raw samples, in the layout the detector was fitted on")
    outputs = [TensorSpec("score", [BATCH], "float64", "anomaly score, higher = more anomalous (decision_function)"),
               TensorSpec("label", [BATCH], "int64", "1 = anomaly (score > threshold), 0 = normal (predict); a score "
                          "within float32 rounding of the threshold may fall on either side")]
    flag = det.nan_policy == "flag"
    notes = {**_input_notes(inner), "score": det.score_, "n_estimators": len(det.estimators_),
             "threshold": float(det.threshold_),
             "threshold_source": str(getattr(det, "threshold_source_", "")), "nan_policy": det.nan_policy,
             "nan_rows": "score +inf, label 1 (nan_policy='flag')" if flag else
             "not checked by the graph: their scores are NaN or inf (the library raises DataError); check inputs first"}
    models = [_model(m) for m in det.estimators_]
    graphs = [DetectorGraph(model, det.score_, det.threshold_, flag, manifold_graph(det, k))
              for k, model in enumerate(models)]
    return GraphSpec("detector", ensemble_graph(graphs, det), [x], outputs, {**notes, **network_hashes(models)})


def network_hashes(models: list[nn.Module]) -> dict:
    """For an ensemble, every network's weights sha256 (``weights_sha256`` is network 0's)."""
    return {"networks_weights_sha256": [state_sha256(m) for m in models]} if len(models) > 1 else {}


def ensemble_graph(graphs: list[nn.Module], det) -> nn.Module:
    """One network's detector graph as it is; several averaged (`EnsembleGraph`)."""
    return graphs[0] if len(graphs) == 1 else EnsembleGraph(graphs, det.threshold_)


def _colorizer_spec(col) -> GraphSpec:
    cfg = col.model_config_
    L = TensorSpec("L", [BATCH, 1, "height", "width"], "float32",
                   f"CIE Lab lightness scaled to [0, 1] (L / {cfg.l_scale:g}), any height and width")
    outputs = [TensorSpec("ab", [BATCH, 2, "height", "width"], "float32",
                          f"predicted a, b scaled by 1 / {cfg.ab_scale:g} (Colorizer.predict_ab)")]
    notes = {"value_range": [0.0, 1.0], "preprocessing": "RGB → CIE Lab (D65) and L / 100 happen before the graph "
             "(aekit.data.photos.rgb_to_lab_scaled); after it, Lab = (L·100, ab·110) → RGB"}
    return GraphSpec("colorizer", ColorizerGraph(_model(col)), [L], outputs, notes)


# -- writing ---------------------------------------------------------------------------------------
def state_sha256(model: nn.Module) -> str:
    """The sha256 of a model's weights as a run folder stores them (model.safetensors): equal to
    config.json's weights_sha256 for an estimator saved or loaded from a run folder."""
    from safetensors.torch import save

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    return hashlib.sha256(save(state)).hexdigest()


def metadata_path(path) -> Path:
    """Where the JSON metadata of an exported file goes: the file's name + ".json"."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def check_opset(opset) -> int:
    """The ONNX opset to export with: an int from MIN_OPSET to the newest this onnx knows."""
    import onnx

    newest = int(onnx.defs.onnx_opset_version())
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)) or not MIN_OPSET <= int(opset) <= newest:
        raise ConfigError(f"ONNX opset {opset!r} cannot be exported: torch's exporter writes opsets from {MIN_OPSET}, "
                          f"and onnx {onnx.__version__} knows opsets up to {newest}; onnxruntime must also run it "
                          f"(the default {DEFAULT_OPSET} runs everywhere)")
    return int(opset)


@contextlib.contextmanager
def _quiet_exporter():
    """Silence the exporters' progress lines, deprecation notes and optional-op warnings."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "onnxscript", "torch._dynamo")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with contextlib.redirect_stdout(io.StringIO()):
                yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _onnx_bytes(spec: GraphSpec, opset: int, meta: dict) -> bytes:
    example = spec.probe(2)
    # the batch is one named dimension shared by the inputs; free image sides are left for
    # torch.export to derive (named Dims with bounds conflict with the padding arithmetic)
    batch = torch.export.Dim(BATCH)
    dynamic = {t.name: {axis: batch if name == BATCH else torch.export.Dim.DYNAMIC
                        for axis, name in spec.dynamic_dims[t.name].items()} for t in spec.inputs}
    positional = [t.name for t in spec.inputs]
    try:
        with _quiet_exporter():
            program = torch.onnx.export(
                spec.module, example, None, input_names=positional, output_names=[o.name for o in spec.outputs],
                opset_version=opset, dynamo=True, dynamic_shapes=tuple(dynamic[n] for n in positional), verbose=False,
                optimize=True,
            )
    except Exception as exc:  # the exporter's errors are long reports: keep the first line
        raise ConfigError(f"part {spec.part!r} could not be exported to ONNX opset {opset}: "
                          f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}") from None
    proto = program.model_proto
    stamped = {o.domain: o.version for o in proto.opset_import}.get("", None)
    if stamped != opset:
        raise ConfigError(f"part {spec.part!r} could not be written in ONNX opset {opset} (the exporter's version "
                          f"converter left it at opset {stamped}); use an opset from {MIN_OPSET} up to the newest "
                          "your onnxruntime runs")
    _name_dims(proto, spec)
    entry = proto.metadata_props.add()
    entry.key, entry.value = "aekit", json.dumps(meta)
    return proto.SerializeToString()


def _name_dims(proto, spec: GraphSpec) -> None:
    """The graph's dynamic dimensions named as the metadata names them ("batch", "height", ...)."""
    names = {}
    for value, t in zip(proto.graph.input, spec.inputs):
        dims = value.type.tensor_type.shape.dim
        for axis, name in spec.dynamic_dims[t.name].items():
            if dims[axis].dim_param:
                names[dims[axis].dim_param] = name
    for value in [*proto.graph.input, *proto.graph.output]:
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param in names:
                dim.dim_param = names[dim.dim_param]


def _run_onnx(data: bytes, spec: GraphSpec, probes) -> list[list[np.ndarray]]:
    try:
        import onnxruntime as ort
    except ImportError:  # pragma: no cover - the export extra installs it
        raise ConfigError("checking an ONNX export needs onnxruntime: pip install 'aekit[export]'") from None
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    try:
        session = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ConfigError(f"onnxruntime {ort.__version__} cannot run the exported {spec.part!r} graph: "
                          f"{str(exc).splitlines()[0][:300]}; export with an opset it supports "
                          f"(--opset {DEFAULT_OPSET}, the default)") from None
    names = [t.name for t in spec.inputs]
    return [session.run(None, {n: p.numpy() for n, p in zip(names, probe)}) for probe in probes]


def _torchscript_bytes(spec: GraphSpec, meta: dict) -> bytes:
    try:
        with _quiet_exporter(), torch.no_grad():
            traced = torch.jit.trace(spec.module, spec.probe(2), check_trace=False)
    except Exception as exc:
        raise ConfigError(f"part {spec.part!r} could not be traced to TorchScript: "
                          f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}") from None
    buf = io.BytesIO()
    with _quiet_exporter():
        torch.jit.save(traced, buf, _extra_files={"aekit.json": json.dumps(meta)})
    return buf.getvalue()


def _run_torchscript(data: bytes, probes) -> list[list[np.ndarray]]:
    with _quiet_exporter(), torch.no_grad():
        loaded = torch.jit.load(io.BytesIO(data))
        outs = [loaded(*probe) for probe in probes]
    return [[t.numpy() for t in (o if isinstance(o, tuple) else (o,))] for o in outs]


def _verify(spec: GraphSpec, fmt: str, got: list[list[np.ndarray]], probes) -> None:
    """The exported file's outputs equal the wrapped module's on every probe batch (the float ones:
    a detector's label follows from its score, but may differ at the threshold itself)."""
    with torch.no_grad():
        want = [spec.module(*probe) for probe in probes]
    for probe, w, g in zip(probes, want, got):
        w = [t.numpy() for t in (w if isinstance(w, tuple) else (w,))]
        for spec_out, a, b in zip(spec.outputs, w, g):
            if a.shape == b.shape and not np.issubdtype(a.dtype, np.floating):
                continue
            if a.shape != b.shape or not np.allclose(a, b, atol=TOLERANCE, rtol=TOLERANCE, equal_nan=True):
                diff = np.abs(a - b).max() if a.shape == b.shape else f"shape {b.shape} instead of {a.shape}"
                raise ConfigError(f"the exported {fmt} {spec.part!r} graph does not reproduce aekit's "
                                  f"{spec_out.name!r} on a batch of {len(probe[0])} (difference {diff}); "
                                  "nothing was written")


def export_estimator(est, path, format: str = "onnx", part: str | None = None, *, opset: int | None = None,
                     metadata: dict | None = None) -> Path:
    """Write one part of a fitted estimator as an ONNX or TorchScript file, with its metadata beside it.

    Parameters
    ----------
    est : AutoEncoder, VariationalAutoEncoder, AutoEncoderDetector or Colorizer
        Fitted, or loaded from a run folder.
    path : str or Path
        The file to write (replaced atomically); the metadata goes to ``path + ".json"``.
    format : {"onnx", "torchscript"}, default "onnx"
        ONNX (torch's dynamo exporter, dynamic batch axis) or TorchScript (`torch.jit.trace`).
    part : str or None
        One of `PARTS` (see the module docstring); None: `default_part(est)`.
    opset : int or None
        ONNX opset (default DEFAULT_OPSET); not used for TorchScript.
    metadata : dict or None
        Extra entries for the metadata (the run folder, the model card).

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    ConfigError
        An unknown format or part, a part the estimator does not have or that cannot be exported
        (saying which and why), an opset out of range or one onnxruntime cannot run.
    RunFolderError
        An output path that is a folder or cannot be written.

    Examples
    --------
    >>> import numpy as np, onnxruntime, tempfile, os
    >>> from aekit import AutoEncoder
    >>> X = np.random.default_rng(0).random((32, 6)).astype(np.float32)
    >>> ae = AutoEncoder(hidden=(4,), latent_dim=2, epochs=1, random_state=0).fit(X)
    >>> path = export_estimator(ae, os.path.join(tempfile.mkdtemp(), "enc.onnx"))
    >>> codes = onnxruntime.InferenceSession(path).run(None, {"x": X})[0]
    >>> bool(np.abs(codes - ae.transform(X)).max() < 1e-4)
    True
    """
    if format not in FORMATS:
        raise ConfigError(f"unknown export format {format!r}; choose one of {', '.join(FORMATS)}")
    if format == "onnx":
        opset = check_opset(DEFAULT_OPSET if opset is None else opset)
    elif opset is not None:
        raise ConfigError("an opset is an ONNX setting: TorchScript files have none")
    path = Path(path)
    check_output_file(path)
    side = metadata_path(path)
    check_output_file(side)
    spec = graph_spec(est, part)
    if format == "torchscript" and spec.part == "colorizer":
        raise ConfigError("part 'colorizer' cannot be exported to TorchScript: tracing fixes the image size, and a "
                          "colorizer takes images of any size; use format='onnx' (--format onnx)")
    inner = getattr(est, "estimator_", est)
    meta = {
        "format": METADATA_FORMAT, "format_version": METADATA_VERSION, "file_format": format,
        "opset": opset if format == "onnx" else None, "aekit_version": __version__, "torch_version": torch.__version__,
        "kind": _kind(est), "estimator": type(est).__name__, "model": type(inner).__name__, "part": spec.part,
        "part_description": PARTS[spec.part], "inputs": [asdict(t) for t in spec.inputs],
        "outputs": [asdict(t) for t in spec.outputs], "dynamic_axes": {k: {str(a): d for a, d in v.items()}
                                                                         for k, v in spec.dynamic_dims.items()},
        **spec.notes, "weights_sha256": state_sha256(inner.model_), "tolerance": TOLERANCE,
        **(metadata or {}),
    }
    probes = [spec.probe(1, seed=1), spec.probe(3, seed=2)]
    if format == "onnx":
        data = _onnx_bytes(spec, opset, meta)
        _verify(spec, format, _run_onnx(data, spec, probes), probes)
    else:
        data = _torchscript_bytes(spec, meta)
        _verify(spec, format, _run_torchscript(data, probes), probes)
    atomic_write_bytes(path, data)
    write_json(side, {**meta, "file": path.name, "file_sha256": hashlib.sha256(data).hexdigest()})
    return path


__all__ = ["DEFAULT_OPSET", "DEFAULT_PARTS", "FORMATS", "GraphSpec", "PARTS", "TensorSpec", "check_opset",
           "default_part", "ensemble_graph", "export_estimator", "graph_spec", "metadata_path",
           "network_hashes", "state_sha256"]
