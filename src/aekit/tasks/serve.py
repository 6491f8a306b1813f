"""`aekit serve`: an HTTP scoring service (FastAPI + uvicorn) over a run folder.

`create_app(run)` loads the run's estimator once (through `aekit.kinds.load_estimator`, which
checks the weights' sha256: altered weights refuse to start) and answers::

    POST /encode        codes of the instances           autoencoder, VAE, detector (its model)
    POST /reconstruct   reconstructions, in their shape  autoencoder, VAE, detector (its model)
    POST /score         anomaly scores and 0/1 labels    detector (?explain=true&top=K: the top
                                                         columns, for a detector with `explain`)
    POST /generate      samples of z ~ N(0, I)           VAE ({"n": N, "seed": S})
    GET  /health, GET /metadata, GET /docs (OpenAPI)

Bodies are JSON, ``{"instances": [[...], ...]}`` (rows of the trained number of values, or
images nested in the trained (C, H, W) shape; a conditional VAE also takes ``"labels"``), or a
NumPy ``.npy`` array with ``Content-Type: application/x-npy`` (no JSON parsing: the fast path for
large batches; a uint8 array for a model trained on values in [0, 1] is 8-bit pixels, divided by 255
as aekit's readers divide them, at a quarter of float32's bytes). A JSON body of plain rows, exactly
``{"instances": [[n, ...], ...]}``, is parsed in C (`fast_rows`); any other JSON body by
``json.loads``. Answers are JSON; ``Accept:
application/x-npy`` returns the main array as .npy. uvicorn runs with httptools and uvloop when
installed (the serve extra: measurably faster than h11 and asyncio, benchmarks/RESULTS.md).
Every refusal is a JSON ``{"error": message, "status": code}``: 400 malformed JSON or .npy, 404 an
endpoint the run's kind has not, 413 a body over the byte limit (refused from its
Content-Length, before it is read) or more rows than the batch limit, 422 wrong shapes, NaN or
missing fields; the service stays up. Model calls run off the event loop in one model thread, in the
order they came (torch modules are not made for concurrent calls), so concurrent requests are safe;
a detector scores with its traced scoring graph where that gives decision_function's scores
(`traced_scorer`: the GIL is held only to start and end a batch, so the event loop reads the next
request meanwhile); small requests that wait for the model together run as one call of up to
--max-batch rows (`aekit.tasks.serve_batching`: dynamic batching); `serve(workers=N)` runs N such
processes on one port.
"""
# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations (Request,
# imported inside create_app) at definition time.
import asyncio
import importlib
import io
import json
import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np

from aekit import __version__
from aekit.data.dataset import scale_pixels
from aekit.errors import AekitError, ConfigError, DataError
from aekit.estimators.detector_models import SAMPLED_SCORES
from aekit.estimators.export import graph_spec
from aekit.kinds import kind_of, load_estimator
from aekit.report.model_card import MODEL_CARD
from aekit.runs import RunRecord
from aekit.specs import non_negative_int, positive_int
from aekit.tasks.serve_bodies import (DEFAULT_MAX_BATCH, DEFAULT_MAX_BODY_MB, NPY, Limits, RequestError, all_finite,
                                      check_content_length, check_rows, fast_rows, instances_array, instances_list,
                                      json_bytes, jsonable, parse_json, parse_npy)
from aekit.tasks.serve_batching import DEFAULT_MERGE_ROWS, RequestBatcher
from aekit.tasks.serve_process import check_address, configure_process

MAX_EXPLAIN_TOP = 100
# What each kind serves, besides /health and /metadata.
ENDPOINTS = {"autoencoder": ("encode", "reconstruct"), "vae": ("encode", "reconstruct", "generate"),
             "detector": ("encode", "reconstruct", "score")}


# -- the model behind the endpoints ----------------------------------------------------------------
SCORER_PROBE_ROWS = 64
SCORER_RTOL = 1e-9  # the traced graph must give decision_function's float64 scores, not nearly them


def traced_scorer(det, device: str):
    """(scorer, how /score scores): a detector's scoring graph (`aekit.estimators.export`), traced
    with TorchScript, when it gives `decision_function`'s scores (checked here on probe rows).

    Why: a traced graph scores a batch in one call that holds the GIL only to start and to end,
    while `decision_function`'s ≈ 30 torch and NumPy calls each take the GIL back from the event
    loop; with the graph the service reads the next request while a batch is scored
    (benchmarks/RESULTS.md, "Scoring service"). `scorer(X)` takes float32 rows or images of the
    trained shape and returns float64 scores. Not used (None, and the reason) on a device other
    than the CPU, with nan_policy="flag", for tables and time series, or where the graph's scores
    differ from the detector's by more than SCORER_RTOL.
    """
    if device != "cpu" or det.nan_policy == "flag" or det.table_encoder_ is not None \
            or getattr(det, "series_", None) is not None:
        return None, "decision_function"
    import torch

    try:
        spec = graph_spec(det, "detector")
        layout = spec.inputs[0].shape[1:]
        if any(isinstance(d, str) for d in layout):
            return None, "decision_function (the graph's image size is not fixed)"
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the tracer's notes on Python values in the graph
            graph = torch.jit.trace(spec.module.eval(), spec.probe(2), check_trace=False)
    except ConfigError as exc:  # a score the graph does not compute (elbo, loglik)
        return None, f"decision_function ({exc})"
    except (RuntimeError, TypeError, ValueError) as exc:  # a model the tracer cannot follow: serve it as before
        return None, f"decision_function (the graph could not be traced: {type(exc).__name__}: {exc})"

    def scorer(X: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return graph(torch.from_numpy(X.reshape(len(X), *layout)))[0].numpy()

    probe = spec.probe(SCORER_PROBE_ROWS, seed=1)[0].numpy()
    if not np.allclose(scorer(probe), det.decision_function(probe), rtol=SCORER_RTOL, atol=0.0):
        return None, "decision_function (the traced graph's scores differ from it)"
    return scorer, "traced scoring graph (decision_function's scores, checked at start)"


class RunModel:
    """The estimator of a run folder, as the endpoints use it: input checks, and model calls one
    at a time under a lock (the service makes them in its one model thread, `thread`).

    Parameters
    ----------
    run_dir : str or os.PathLike
        A run folder of an autoencoder, a VAE or a detector.
    device : str, default "cpu"
        Torch device to load the model on.

    Raises
    ------
    RunFolderError
        The folder is not a run, or its weights do not match their recorded sha256.
    ConfigError
        The run is of a kind the service does not serve (a colorizer).
    """

    def __init__(self, run_dir, device: str = "cpu"):
        self.run = Path(run_dir)
        self.kind = kind_of(self.run).name
        if self.kind not in ENDPOINTS:
            raise ConfigError(f"{self.run}: aekit serve serves autoencoders, VAEs and detectors, not a {self.kind} "
                              f"run (use its own command: aekit {'colorize' if self.kind == 'colorizer' else 'report'})")
        self.estimator = load_estimator(self.run, device=device)
        # A detector's encode/reconstruct are its model's; its scores its own.
        self.model = self.estimator.estimator_ if self.kind == "detector" else self.estimator
        self.config = RunRecord(self.run).read_config()
        self.lock = threading.Lock()
        # The service's model calls run in this one thread, in the order they came: a queue, not
        # threads taking turns at the lock (measured: more rows/s under concurrent requests)
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aekit-model")
        cfg = self.model.model_config_
        self.input_shape = tuple(int(s) for s in cfg.input_shape)
        self.n_features = int(cfg.n_features)
        self.conditional = bool(getattr(cfg, "n_classes", 0))
        # A model fitted on a table takes records (matched by column name) or encoded rows.
        encoder = getattr(self.model, "table_encoder_", None)
        self.columns = None if encoder is None else [str(getattr(c, "name", c)) for c in encoder.columns_]
        # uint8 instances for a model trained on values in [0, 1] are 8-bit pixels: divided by 255 as
        # aekit's readers divide them (a quarter of float32's bytes to send; taken at face value,
        # 0–255 would give meaningless answers without any error)
        value_range = getattr(cfg, "value_range", None)
        self.pixels = encoder is None and value_range is not None and float(value_range[1]) <= 1.0
        self.scorer, self.scoring = traced_scorer(self.estimator, device) if self.kind == "detector" else (None, None)
        # ELBO and log-likelihood scores draw seeded samples over the whole batch: a row's score would
        # depend on the requests it was merged with, so those requests are scored alone
        self.merge_scores = self.kind == "detector" and self.estimator.score_ not in SAMPLED_SCORES

    @property
    def endpoints(self) -> tuple[str, ...]:
        return ENDPOINTS[self.kind]

    def metadata(self) -> dict:
        """What /metadata answers: kind, shapes, threshold, versions, weights' sha256, model card."""
        card = self.run / MODEL_CARD
        out = {
            "kind": self.kind, "estimator": type(self.estimator).__name__,
            "model": type(self.model).__name__, "input_shape": list(self.input_shape),
            "n_features": self.n_features, "code_size": int(self.model.model_config_.code_size),
            "endpoints": [f"/{e}" for e in self.endpoints],
            "aekit_version": __version__, "trained_with_aekit": self.config.get("aekit_version"),
            "weights_sha256": self.config.get("weights_sha256"),
            "model_card": str(card.resolve()) if card.exists() else None,
            "data": (self.config.get("data") or {}).get("source"),
            "uint8_instances": "8-bit pixels, divided by 255" if self.pixels else "taken as numbers",
        }
        if self.columns is not None:
            out["columns"] = self.columns
        if self.conditional:
            out["classes"] = jsonable(np.asarray(self.model.classes_))
        if self.kind == "detector":
            det = self.estimator
            out.update({"threshold": float(det.threshold_), "threshold_source": det.threshold_source_,
                        "scoring": self.scoring,
                        "score": det.score_, "n_estimators": det.n_estimators_,
                        "nan_policy": det.nan_policy, "explain": det.table_encoder_ is not None})
        return out

    # -- inputs ---------------------------------------------------------------------------------
    def instances(self, payload: dict, X: np.ndarray | None, limits: Limits, *, allow_nan: bool = False):
        """The instances of a request, checked: a .npy body's array, a JSON payload's rows or images,
        or (a model fitted on a table) its records as a DataFrame."""
        if X is not None:
            return self.check_instances(X, limits, allow_nan=allow_nan)
        rows = instances_list(payload, limits)
        if any(isinstance(r, dict) for r in rows):
            return self.records(rows)
        return self.check_instances(instances_array(payload, limits), limits, allow_nan=allow_nan)

    def records(self, rows: list):
        """Records ({column: value} objects) as a DataFrame: 422 for a model not fitted on a table,
        for rows that are not all records, and for columns the model does not know."""
        import pandas as pd

        if self.columns is None:
            raise RequestError(422, "records ({column: value} objects) are for a model fitted on a table; this "
                                    f"one takes rows of {self.n_features} numbers")
        if not all(isinstance(r, dict) for r in rows):
            raise RequestError(422, '"instances" must be all records ({column: value}) or all rows, not a mix')
        df = pd.DataFrame.from_records(rows)
        unknown = [str(c) for c in df.columns if str(c) not in self.columns]
        if unknown:
            raise RequestError(422, f"unknown columns {unknown}; this model knows {self.columns}")
        return df

    def check_instances(self, X: np.ndarray, limits: Limits, *, allow_nan: bool = False) -> np.ndarray:
        """X as float32 rows or images of the trained shape (uint8 pixels divided by 255 for a model
        of [0, 1]): 413 over the batch limit, 422 for a wrong shape, NaN/inf (unless `allow_nan`),
        or whole numbers above 1 for a model of [0, 1] (pixels not divided by 255)."""
        check_rows(len(X) if X.ndim else 0, limits)
        flat, image = (self.n_features,), self.input_shape
        if X.ndim < 2 or len(X) == 0 or X.shape[1:] not in (flat, image):
            shapes = f"rows of {self.n_features} values" + (f" or arrays of shape {list(image)}" if image != flat else "")
            got = "a single number" if X.ndim == 0 else f"shape {list(X.shape)}"
            hint = " (wrap one instance in a list: [[...]])" if X.ndim == 1 else ""
            raise RequestError(422, f"instances must be a non-empty list of {shapes}; got {got}{hint}")
        if X.dtype == np.uint8 and self.pixels:
            return scale_pixels(X)  # integers: nothing to check for NaN
        X = X.astype(np.float32, copy=False)
        if not allow_nan and not all_finite(X):
            bad = ~np.isfinite(X.reshape(len(X), -1)).all(1)
            raise RequestError(422, f"instances hold NaN, inf or null in {int(bad.sum())} rows "
                                    f"(first row {int(np.flatnonzero(bad)[0])})")
        if self.pixels and float(X.max()) > 1.0 and np.array_equal(X, np.rint(X)):
            # 0–255 pixels given to a model of [0, 1] would score as garbage without an error
            raise RequestError(422, f"instances hold whole numbers up to {float(X.max()):g}, but this model was "
                                    "trained on values in [0, 1]: divide 8-bit pixels by 255 first, or send them "
                                    "as a uint8 .npy body (which the service divides)")
        return X

    def labels(self, payload: dict, n: int):
        """A conditional VAE's labels (one per instance, 422 when missing); None otherwise."""
        y = payload.get("labels")
        if not self.conditional:
            if y is not None:
                raise RequestError(422, '"labels" are for a conditional VAE; this model takes none')
            return None
        if not isinstance(y, list) or len(y) != n:
            raise RequestError(422, f'this is a conditional VAE: give "labels", one per instance ({n})')
        return np.asarray(y)

    # -- model calls (each under the lock; run them off the event loop) ----------------------------
    def call(self, fn, *args, **kwargs):
        """fn(*args, **kwargs) under the model's lock; estimator errors become 422 (data) or 400."""
        try:
            with self.lock:
                return fn(*args, **kwargs)
        except DataError as exc:
            raise RequestError(422, str(exc)) from None
        except AekitError as exc:
            raise RequestError(400, str(exc)) from None

    def encode(self, X, y=None) -> np.ndarray:
        return self.call(self.model.transform, X, *([] if y is None else [y]))

    def reconstruct(self, X, y=None) -> np.ndarray:
        return self.call(self.model.reconstruct, X, *([] if y is None else [y]))

    def scores(self, X) -> np.ndarray:
        """The detector's anomaly scores of X: its traced graph for arrays where the service uses it
        (`traced_scorer`), decision_function otherwise (records, as a DataFrame, always)."""
        fast = self.scorer is not None and isinstance(X, np.ndarray)
        return self.call(self.scorer if fast else self.estimator.decision_function, X)

    def score(self, X, explain: bool = False, top: int = 5) -> dict:
        """Scores, 0/1 labels and the threshold; with `explain`, the detector's `explain(X, top=top)`."""
        det = self.estimator
        if explain and det.table_encoder_ is None:
            raise RequestError(400, "explanations name a table's columns: this detector was fitted on an array, "
                                    "not on a table (a pandas DataFrame)")
        return self.scored(self.scores(X), self.call(det.explain, X, top=top) if explain else None)

    def scored(self, scores: np.ndarray, explanations=None) -> dict:
        """What /score answers for `scores`: them, their 0/1 labels at the threshold, the threshold."""
        threshold = self.estimator.threshold_
        out = {"scores": scores, "is_anomaly": (np.asarray(scores) > threshold).astype(int),
               "threshold": float(threshold)}
        if explanations is not None:
            out["explanations"] = explanations
        return out

    def generate(self, payload: dict, limits: Limits) -> np.ndarray:
        """A VAE's samples: {"n": N (≤ the batch limit), "seed": S, "label": one class (conditional)}."""
        n, seed = payload.get("n", 1), payload.get("seed", 0)
        for name, value, low in (("n", n, 1), ("seed", seed, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise RequestError(422, f'"{name}" must be an integer ≥ {low}, got {value!r}')
        check_rows(n, limits)
        label = payload.get("label")
        if label is not None and not self.conditional:
            raise RequestError(422, '"label" is for a conditional VAE; this model takes none')
        return self.call(self.model.sample, n, y=label, random_state=seed)


# -- the app ------------------------------------------------------------------------------------------
def _instances_body(example_width: int) -> dict:
    """The OpenAPI description of an instances body (the endpoints parse it themselves: fast)."""
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"type": "object", "required": ["instances"], "properties": {
            "instances": {"type": "array", "items": {"type": "array"},
                          "description": "rows of the trained number of values, or images of the trained shape"},
            "labels": {"type": "array", "description": "conditional VAE: one class per instance"}}},
            "example": {"instances": [[0.0] * min(example_width, 8)]}},
        NPY: {"schema": {"type": "string", "format": "binary"}}}}}


def create_app(run_dir, *, max_batch: int = DEFAULT_MAX_BATCH, max_body_mb: float = DEFAULT_MAX_BODY_MB,
               device: str = "cpu", workers: int = 1, merge_rows: int = DEFAULT_MERGE_ROWS):
    """The FastAPI app serving a run folder.

    Parameters
    ----------
    run_dir : str or os.PathLike
        A run folder of an autoencoder, a VAE or a detector; loaded once, here (altered weights
        raise RunFolderError: the service refuses to start).
    max_batch : int, default 4096
        Most instances (or generated samples) one request may ask for; more → 413. Also the most
        rows of one model call that merges requests.
    max_body_mb : float, default 64
        Largest request body in MiB; larger → 413, refused from its Content-Length before it is read.
    device : str, default "cpu"
        Torch device of the model.
    workers : int, default 1
        How many processes serve this app (`serve`'s `workers`); /metadata reports it.
    merge_rows : int, default 256
        Array requests of at most this many rows that wait for the model together run as one call
        (`aekit.tasks.serve_batching`); 0 runs every request alone. /metadata counts the calls.

    Returns
    -------
    fastapi.FastAPI
        The app; `app.state.model` is its `RunModel`, `app.state.limits` its `Limits`,
        `app.state.batcher` its `RequestBatcher`.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from fastapi.testclient import TestClient
    >>> from aekit import AutoEncoder
    >>> X = np.random.default_rng(0).random((40, 6)).astype(np.float32)
    >>> run = AutoEncoder(hidden=(4,), latent_dim=2, epochs=2, random_state=0).fit(X).save(tempfile.mkdtemp() + "/ae")
    >>> client = TestClient(create_app(run))
    >>> r = client.post("/encode", json={"instances": X[:3].tolist()})
    >>> r.status_code, np.array(r.json()["codes"]).shape
    (200, (3, 2))
    >>> client.post("/score", json={"instances": X[:3].tolist()}).json()["status"]
    404
    """
    from fastapi import FastAPI, Query, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, Response
    from starlette.exceptions import HTTPException

    limits = Limits.of(max_batch, max_body_mb)
    merge_rows = non_negative_int(merge_rows, "--merge-rows")
    model = RunModel(run_dir, device=device)
    batcher = RequestBatcher(model.thread, max_rows=limits.max_batch, merge_rows=merge_rows)
    app = FastAPI(title=f"aekit: {model.kind} {model.run.name}", version=__version__,
                  description=f"Scoring service for the {model.kind} run folder {model.run.name} "
                              f"(input: {model.n_features} values per instance, shape {list(model.input_shape)}).")
    app.state.model, app.state.limits, app.state.batcher = model, limits, batcher

    async def in_model_thread(fn, *args):
        """fn(*args) in the model's thread (`RunModel.thread`), off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(model.thread, partial(fn, *args))

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse(RequestError(status, message).body(), status_code=status)

    @app.exception_handler(RequestError)
    async def _request_error(request, exc: RequestError):
        return error(exc.status, exc.message)

    @app.exception_handler(HTTPException)
    async def _http_error(request, exc: HTTPException):
        if exc.status_code == 404:
            return error(404, f"{request.url.path} is not an endpoint of this {model.kind} run; it serves "
                              + ", ".join(["/health", "/metadata", *[f"/{e}" for e in model.endpoints]]))
        return error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request, exc: RequestValidationError):
        msgs = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors())
        return error(422, msgs)

    @app.exception_handler(Exception)
    async def _unexpected(request, exc: Exception):  # the service stays up and says so in JSON
        return error(500, f"internal error: {type(exc).__name__}: {exc}")

    async def read_input(request: Request, rows: bool = True) -> tuple[dict, np.ndarray | None]:
        """(JSON payload, array) of a request: .npy bodies and (`rows`) JSON bodies of plain rows
        (`fast_rows`) give the array, other JSON bodies the payload."""
        check_content_length(request.headers.get("content-length"), limits)
        chunks, size = [], 0
        async for chunk in request.stream():  # counted as it arrives: a chunked body cannot pass the limit
            size += len(chunk)
            if size > limits.max_body_bytes:
                raise RequestError(413, f"the body is above the limit of {limits.max_body_bytes} bytes (--max-body-mb)")
            chunks.append(chunk)
        # one copy of the chunks, and memory that grows only with the bytes that arrived; writable, so
        # that a .npy body's array is handed to torch without a copy
        body = bytearray().join(chunks)
        if request.headers.get("content-type", "").split(";")[0].strip().lower() == NPY:
            return {}, parse_npy(body)
        X = fast_rows(body, limits) if rows else None
        return ({}, X) if X is not None else (parse_json(body), None)

    def answer(request: Request, key: str, values: dict):
        if NPY in request.headers.get("accept", ""):
            buf = io.BytesIO()
            np.save(buf, np.asarray(values[key]), allow_pickle=False)
            return Response(buf.getvalue(), media_type=NPY)
        return Response(json_bytes(values), media_type="application/json")

    async def array_endpoint(request: Request, method: str, key: str):
        payload, X = await read_input(request)
        X = model.instances(payload, X, limits)
        y = model.labels(payload, len(X))
        fn = getattr(model, method)
        out = await (batcher.run(fn, X) if y is None and isinstance(X, np.ndarray) else in_model_thread(fn, X, y))
        return answer(request, key, {key: out})

    doc = _instances_body(model.n_features)

    @app.get("/health")
    def health() -> dict:
        """Whether the service is up, and what it serves."""
        return {"status": "ok", "kind": model.kind}

    @app.get("/metadata")
    def metadata() -> dict:
        """Kind, input shape, threshold, aekit version, weights' sha256, the model card's path, the
        service's processes and torch threads, and its batching (calls made for mergeable requests)."""
        import torch

        return {**model.metadata(), "workers": workers, "torch_threads": torch.get_num_threads(),
                "batching": batcher.stats()}

    if "encode" in model.endpoints:
        @app.post("/encode", openapi_extra=doc)
        async def encode(request: Request):
            """Codes of the instances: {"codes": N × code size}."""
            return await array_endpoint(request, "encode", "codes")

        @app.post("/reconstruct", openapi_extra=doc)
        async def reconstruct(request: Request):
            """Reconstructions, in the instances' shape: {"reconstructions": [...]}."""
            return await array_endpoint(request, "reconstruct", "reconstructions")

    if "score" in model.endpoints:
        @app.post("/score", openapi_extra=doc)
        async def score(request: Request, explain: bool = False,
                        top: int = Query(5, ge=1, le=MAX_EXPLAIN_TOP, description="explain: columns per row")):
            """Anomaly scores (higher = more anomalous), 0/1 labels at the threshold, and with
            explain=true the top columns of each row (a detector with an explain method)."""
            payload, X = await read_input(request)
            X = model.instances(payload, X, limits, allow_nan=model.estimator.nan_policy == "flag")
            if explain:
                return answer(request, "scores", await in_model_thread(model.score, X, explain, top))
            mergeable = model.merge_scores and isinstance(X, np.ndarray)  # records (a DataFrame) run alone
            scores = await (batcher.run(model.scores, X) if mergeable else in_model_thread(model.scores, X))
            return answer(request, "scores", model.scored(scores))

    if "generate" in model.endpoints:
        @app.post("/generate", openapi_extra={"requestBody": {"content": {"application/json": {
            "schema": {"type": "object", "properties": {"n": {"type": "integer"}, "seed": {"type": "integer"},
                                                        "label": {}}}, "example": {"n": 4, "seed": 0}}}}})
        async def generate(request: Request):
            """Samples from the VAE's prior: {"samples": n × the trained shape}."""
            payload, X = await read_input(request, rows=False)
            if X is not None:
                raise RequestError(400, "/generate takes a JSON body such as {\"n\": 4, \"seed\": 0}")
            out = await in_model_thread(model.generate, payload, limits)
            return answer(request, "samples", {"samples": out})

    return app


LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
# uvicorn's HTTP parsers and event loops; "auto" takes httptools and uvloop (C, the serve extra's)
# when installed, else the pure-Python h11 and asyncio.
HTTP_IMPLS, LOOPS = ("auto", "httptools", "h11"), ("auto", "uvloop", "asyncio")
GRACEFUL_SHUTDOWN_S = 30  # in-flight requests get this long to finish on Ctrl-C / SIGTERM


WORKER_ENV = "AEKIT_SERVE_WORKER"  # how `serve` hands create_app's arguments to uvicorn's worker processes


def worker_app():
    """The app of one of `aekit serve --workers N`'s processes: uvicorn calls this factory in each
    worker, which loads (and checks) the run folder itself."""
    spec = json.loads(os.environ[WORKER_ENV])
    configure_process(spec.pop("threads"))
    return create_app(**spec)


def serve(run_dir, *, host: str = "127.0.0.1", port: int = 8000, max_batch: int = DEFAULT_MAX_BATCH,
          max_body_mb: float = DEFAULT_MAX_BODY_MB, device: str = "cpu", log_level: str = "info",
          http: str = "auto", loop: str = "auto", workers: int = 1, threads: int | None = None,
          merge_rows: int = DEFAULT_MERGE_ROWS, on_ready=None) -> None:
    """What `aekit serve` does: build the app (refusing altered weights) and run it under uvicorn
    until Ctrl-C or SIGTERM, which stops taking connections and lets requests in flight finish.

    `http` and `loop` choose uvicorn's HTTP parser and event loop (HTTP_IMPLS, LOOPS). `workers`
    > 1 runs that many processes on the one port (uvicorn's supervisor; each loads the run folder,
    after this process has checked it once), each with `threads` torch threads (default: the
    cores shared out, at least 1; torch's own default for one worker). `max_batch`, `max_body_mb`,
    `merge_rows`: `create_app`'s. `on_ready(app)` is called once the app is built, before the
    server starts."""
    port = int(port)
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port must be in [0, 65535], got {port}")
    if log_level not in LOG_LEVELS:
        raise ConfigError(f"--log-level must be one of {', '.join(LOG_LEVELS)}, got {log_level!r}")
    workers = positive_int(workers, "--workers", "service processes")
    if threads is not None:
        threads = positive_int(threads, "--threads", "torch threads per process")
    elif workers > 1:  # N processes of all-core torch would fight over the cores
        threads = max(1, (os.cpu_count() or 1) // workers)
    for option, value, choices in (("--http", http, HTTP_IMPLS), ("--loop", loop, LOOPS)):
        if value not in choices:
            raise ConfigError(f"{option} must be one of {', '.join(choices)}, got {value!r}")
        if value in ("httptools", "uvloop"):  # asked for by name: one line now, not a traceback from uvicorn
            try:
                importlib.import_module(value)
            except ImportError:
                raise ConfigError(f"{option} {value} needs {value}: pip install 'aekit[serve]'") from None
    try:
        import uvicorn
    except ImportError:
        raise ConfigError("aekit serve needs FastAPI and uvicorn: pip install 'aekit[serve]'") from None
    check_address(host, port)
    spec = {"run_dir": str(Path(run_dir).resolve()), "max_batch": max_batch, "max_body_mb": max_body_mb,
            "device": device, "workers": workers, "merge_rows": merge_rows}
    app = create_app(**spec)  # here, once, also for workers: altered weights refuse before any starts
    if on_ready is not None:
        on_ready(app)
    options = dict(host=host, port=port, log_level=log_level, http=http, loop=loop,
                   timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)
    if workers == 1:
        configure_process(threads)
        uvicorn.run(app, **options)
        return
    del app  # the supervisor needs no model; each worker loads its own
    os.environ[WORKER_ENV] = json.dumps({**spec, "threads": threads})
    uvicorn.run(f"{__name__}:worker_app", factory=True, workers=workers, **options)


__all__ = ["ENDPOINTS", "HTTP_IMPLS", "LOG_LEVELS", "LOOPS", "RunModel", "WORKER_ENV", "create_app", "serve",
           "traced_scorer", "worker_app"]
