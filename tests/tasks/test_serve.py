"""aekit serve: the FastAPI app over run folders (an AE on images, a VAE, detectors on rows and on a
table), answers equal to the estimators' own, every refusal as JSON, and one real uvicorn server on
127.0.0.1 queried, shut down with a request in flight, and stopped."""
import io
import json
import socket
import threading
import time
import warnings

import numpy as np
import pandas as pd
import pytest
from support import free_port

from aekit import AutoEncoder, AutoEncoderDetector, VariationalAutoEncoder, __version__
from aekit.errors import RunFolderError
from aekit.runs import RunRecord
from aekit.tasks.serve import create_app
from aekit.tasks.serve_bodies import NPY, Limits, RequestError, fast_rows, instances_array, json_bytes, parse_json

with warnings.catch_warnings():  # starlette's TestClient warns that it will move to httpx2
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TOL = dict(rtol=1e-5, atol=1e-6)  # float32 networks: the same numbers to float32 precision


@pytest.fixture(scope="module")
def images():
    from sklearn.datasets import load_digits

    return (load_digits().data[:300] / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)


@pytest.fixture(scope="module")
def ae_run(tmp_path_factory, images):
    est = AutoEncoder(hidden=(16,), latent_dim=3, epochs=2, random_state=0).fit(images)
    return est.save(tmp_path_factory.mktemp("serve") / "ae"), est


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory, images):
    est = VariationalAutoEncoder(hidden=(16,), latent_dim=2, epochs=2, random_state=0).fit(images.reshape(300, -1))
    return est.save(tmp_path_factory.mktemp("serve") / "vae"), est


@pytest.fixture(scope="module")
def rows():
    return np.random.default_rng(0).normal(size=(200, 12)).astype(np.float32)


@pytest.fixture(scope="module")
def det_run(tmp_path_factory, rows):
    det = AutoEncoderDetector(AutoEncoder(hidden=(8,), latent_dim=2, epochs=2, random_state=0), random_state=0)
    det.fit(rows)
    return det.save(tmp_path_factory.mktemp("serve") / "det"), det


@pytest.fixture(scope="module")
def ae_client(ae_run):
    return TestClient(create_app(ae_run[0], max_batch=50, max_body_mb=1))


@pytest.fixture(scope="module")
def det_client(det_run):
    return TestClient(create_app(det_run[0]))


def npy_bytes(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(a))
    return buf.getvalue()


def assert_error(r, status: int, *words: str) -> dict:
    """A refusal: the status, a JSON body {"error", "status"}, and the words in its message."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["status"] == status
    for w in words:
        assert w in body["error"], body["error"]
    return body


# -- answers equal the estimators' ---------------------------------------------------------------------
def test_encode_and_reconstruct_equal_the_estimator_for_images_and_flat_rows(ae_client, ae_run, images):
    _, est = ae_run
    X = images[:7]
    r = ae_client.post("/encode", json={"instances": X.tolist()})
    assert r.status_code == 200
    np.testing.assert_allclose(r.json()["codes"], est.transform(X), **TOL)
    flat = ae_client.post("/encode", json={"instances": X.reshape(7, -1).tolist()}).json()["codes"]
    np.testing.assert_allclose(flat, est.transform(X), **TOL)
    rec = np.array(ae_client.post("/reconstruct", json={"instances": X.tolist()}).json()["reconstructions"])
    assert rec.shape == (7, 1, 8, 8)  # in the instances' shape
    np.testing.assert_allclose(rec, est.reconstruct(X), **TOL)


def test_npy_bodies_and_npy_answers(ae_client, ae_run, images):
    _, est = ae_run
    X = images[:5]
    r = ae_client.post("/encode", content=npy_bytes(X), headers={"content-type": NPY, "accept": NPY})
    assert r.status_code == 200 and r.headers["content-type"] == NPY
    np.testing.assert_allclose(np.load(io.BytesIO(r.content)), est.transform(X), **TOL)
    r = ae_client.post("/encode", content=npy_bytes(X.astype(np.float64).reshape(5, -1)), headers={"content-type": NPY})
    np.testing.assert_allclose(r.json()["codes"], est.transform(X), **TOL)


def test_detector_scores_labels_and_threshold_equal_the_detector(det_client, det_run, rows):
    _, det = det_run
    X = np.vstack([rows[:20], rows[:3] * 6])  # three rows far from the data
    body = det_client.post("/score", json={"instances": X.tolist()}).json()
    np.testing.assert_allclose(body["scores"], det.decision_function(X), rtol=1e-5)
    assert body["is_anomaly"] == det.predict(X).tolist() and sum(body["is_anomaly"][-3:]) == 3
    assert body["threshold"] == pytest.approx(det.threshold_)
    codes = det_client.post("/encode", json={"instances": X[:4].tolist()}).json()["codes"]
    np.testing.assert_allclose(codes, det.estimator_.transform(X[:4]), **TOL)
    meta = det_client.get("/metadata").json()
    assert meta["scoring"].startswith("traced scoring graph")  # scored by it
    assert meta["explain"] is False  # explanations name a table's columns; this detector was fitted on an array


def test_the_traced_scorer_gives_decision_functions_scores_or_is_not_used(det_run, rows, images, monkeypatch):
    from aekit import VariationalAutoEncoder
    from aekit.tasks.serve import traced_scorer

    _, det = det_run
    scorer, how = traced_scorer(det, "cpu")
    X = np.vstack([rows, rows[:7] * 5])
    np.testing.assert_allclose(scorer(X), det.decision_function(X), rtol=1e-12)
    assert scorer(X[:1]).shape == (1,)  # any batch size
    # not used: off the CPU, for a score the graph does not compute, with nan_policy="flag", where it differs
    assert traced_scorer(det, "cuda") == (None, "decision_function")
    vae = AutoEncoderDetector(VariationalAutoEncoder(hidden=(8,), latent_dim=2, epochs=1, random_state=0),
                              score="elbo", random_state=0).fit(images.reshape(300, -1)[:100])
    scorer, how = traced_scorer(vae, "cpu")
    assert scorer is None and "elbo" in how
    flag = AutoEncoderDetector(AutoEncoder(hidden=(8,), latent_dim=2, epochs=1, random_state=0), nan_policy="flag",
                               random_state=0).fit(rows)
    assert traced_scorer(flag, "cpu")[0] is None
    monkeypatch.setattr(det, "decision_function", lambda X: np.zeros(len(X)))
    scorer, how = traced_scorer(det, "cpu")
    assert scorer is None and "differ" in how

    def untraceable(*args, **kwargs):
        raise RuntimeError("a control flow the tracer cannot follow")

    monkeypatch.setattr("torch.jit.trace", untraceable)  # the service still starts, scoring as before
    scorer, how = traced_scorer(det, "cpu")
    assert scorer is None and "could not be traced" in how


def test_vae_encode_and_generate_equal_the_estimator(vae_run, images):
    run, est = vae_run
    client = TestClient(create_app(run, max_batch=20))
    X = images[:4].reshape(4, -1)
    np.testing.assert_allclose(client.post("/encode", json={"instances": X.tolist()}).json()["codes"],
                               est.transform(X), **TOL)
    samples = client.post("/generate", json={"n": 6, "seed": 3}).json()["samples"]
    np.testing.assert_allclose(samples, est.sample(6, random_state=3), **TOL)
    assert_error(client.post("/generate", json={"n": 21}), 413, "21", "--max-batch")
    assert_error(client.post("/generate", json={"n": "many"}), 422, '"n"')
    assert_error(client.post("/generate", json={"n": 2, "seed": -1}), 422, '"seed"')
    assert_error(client.post("/generate", json={"n": 2, "label": 3}), 422, "conditional")
    assert_error(client.post("/score", json={"instances": X.tolist()}), 404, "/score", "/generate")


def test_health_metadata_and_docs(det_client, det_run):
    run, det = det_run
    assert det_client.get("/health").json() == {"status": "ok", "kind": "detector"}
    meta = det_client.get("/metadata").json()
    config = RunRecord(run).read_config()
    assert meta["kind"] == "detector" and meta["input_shape"] == [12] and meta["n_features"] == 12
    assert meta["threshold"] == pytest.approx(det.threshold_) and meta["aekit_version"] == __version__
    assert meta["weights_sha256"] == config["weights_sha256"] and len(meta["weights_sha256"]) == 64
    assert meta["endpoints"] == ["/encode", "/reconstruct", "/score"] and meta["model_card"] is None
    assert det_client.get("/docs").status_code == 200
    paths = det_client.get("/openapi.json").json()["paths"]
    assert {"/score", "/encode", "/metadata"} <= set(paths) and "/generate" not in paths


def test_metadata_points_to_the_model_card(tmp_path, rows):
    ae = AutoEncoder(hidden=(4,), latent_dim=2, epochs=1, random_state=0).fit(rows)
    run = ae.save(tmp_path / "ae")
    (run / "MODEL_CARD.md").write_text("# card\n")
    meta = TestClient(create_app(run)).get("/metadata").json()
    assert meta["model_card"] == str((run / "MODEL_CARD.md").resolve())


# -- the JSON fast path: plain rows parsed in C, everything else as before ----------------------------
@pytest.mark.parametrize("dumps", [
    lambda X: json.dumps({"instances": X.tolist()}),                           # Python's ", " separators
    lambda X: json.dumps({"instances": X.tolist()}, separators=(",", ":")),    # compact (httpx, JS)
    lambda X: '  { "instances" : [ [' + "],[".join(",".join(f"{v:.3e}" for v in r) for r in X) + "] ] }\n",
])
@pytest.mark.parametrize("orjson", ["installed", "missing"])
def test_fast_rows_read_exactly_what_json_reads(rows, dumps, orjson, monkeypatch):
    if orjson == "missing":  # the np.loadtxt path, as without the serve extra's orjson
        monkeypatch.setitem(__import__("sys").modules, "orjson", None)
    X = np.vstack([rows[:30], -rows[:2] * 1e-7, np.round(rows[:2] * 1e6)])  # exponents, negatives, integers
    body = dumps(X).encode()
    fast = fast_rows(bytearray(body), Limits())
    assert fast is not None and fast.dtype == np.float32
    np.testing.assert_array_equal(fast, instances_array(parse_json(body), Limits()))
    one = fast_rows(b'{"instances": [[7]]}', Limits())
    assert one.shape == (1, 1) and one[0, 0] == 7


@pytest.mark.parametrize("body", [
    b'{"instances": [[1, 2], [3]]}',                   # ragged
    b'{"instances": [[]]}', b'{"instances": [[ ]]}',   # no numbers
    b'{"instances": [[1, 2], [], [3, 4]]}',            # an empty row (np.loadtxt would skip it)
    b'{"instances": [[1, 2], [ ], [3, 4]]}',
    b'{"instances": [[[1, 2]], [[3, 4]]]}',            # images
    b'{"instances": [[1, 2]], "labels": [[0]]}',       # another key
    b'{"instances": [[1, 2]], "instances": [[3, 4]]}',
    b'{"instances": [[1,\n 2], [3,\n 4]]}',            # newlines inside rows
    b'{"instances": [[NaN, 2]]}', b'{"instances": [[null, 2]]}', b'{"instances": [[Infinity, 2]]}',
    b'{"instances": [[1e999, 2]]}', b'{"instances": [["1", 2]]}', b'{"instances": [[1, 2]]} x',
    b'{"instances": [[1, 2]]', '{"instances": [[\u0661, 2]]}'.encode(), b'{"instances": [[1,, 2]]}',
])
@pytest.mark.parametrize("orjson", ["installed", "missing"])
def test_fast_rows_leave_every_other_body_to_the_general_path(body, orjson, monkeypatch):
    if orjson == "missing":
        monkeypatch.setitem(__import__("sys").modules, "orjson", None)
    assert fast_rows(body, Limits()) is None


@pytest.mark.parametrize("body", [b'{"instances": [[1, 2]', b'{"instances": [[NaN, 2]]}', b'[1, 2]',
                                  b'{"instances": [[123456789012345678901234567890, 2]]}'])
def test_json_bodies_read_alike_with_and_without_orjson(body, monkeypatch):
    def read():
        try:
            return repr(instances_array(parse_json(body), Limits()).tolist())
        except RequestError as exc:
            return exc.status, exc.message

    fast = read()
    monkeypatch.setitem(__import__("sys").modules, "orjson", None)
    assert read() == fast  # orjson refuses NaN (json.loads reads it) and reads huge integers as floats


def test_fast_rows_count_rows_against_the_batch_limit_before_parsing():
    body = b'{"instances": [' + b", ".join([b"[1, 2]"] * 4) + b"]}"
    assert fast_rows(body, Limits(max_batch=4)).shape == (4, 2)
    with pytest.raises(RequestError) as info:
        fast_rows(body, Limits(max_batch=3))
    assert info.value.status == 413 and "4 instances" in info.value.message


def test_pretty_printed_and_compact_bodies_get_the_same_scores(det_client, det_run, rows):
    _, det = det_run
    X = rows[:6]
    for body in (json.dumps({"instances": X.tolist()}, indent=2), json.dumps({"instances": X.tolist()})):
        r = det_client.post("/score", content=body.encode(), headers={"content-type": "application/json"})
        np.testing.assert_allclose(r.json()["scores"], det.decision_function(X), rtol=1e-5)
    assert_error(det_client.post("/score", content=b'{"instances": [[1, 2], [3]]}'), 422, "equally shaped")


def test_answers_are_the_same_json_with_and_without_orjson(monkeypatch):
    pytest.importorskip("orjson")
    grid = np.arange(12.0).reshape(3, 4)
    values = {"scores": np.array([0.25, np.nan, np.inf, 1e-7]), "labels": np.array([1, 0, 1, 0]),
              "codes": grid[:, ::2].astype(np.float32),  # not contiguous, float32
              "threshold": np.float64(0.5), "explanations": pd.DataFrame({"row": [0], "column": ["size"]})}
    fast = json.loads(json_bytes(values))
    monkeypatch.setitem(__import__("sys").modules, "orjson", None)  # as if orjson were not installed
    plain = json.loads(json_bytes(values))
    assert fast == plain
    assert fast["scores"] == [0.25, None, None, 1e-7] and fast["codes"] == grid[:, ::2].tolist()
    assert fast["explanations"] == [{"row": 0, "column": "size"}]


# -- tables: records by column name --------------------------------------------------------------------
@pytest.fixture(scope="module")
def table_run(tmp_path_factory):
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"size": rng.normal(size=150), "weight": rng.normal(size=150),
                       "colour": rng.choice(["red", "blue"], 150)})
    det = AutoEncoderDetector(AutoEncoder(hidden=(8,), latent_dim=2, epochs=2, random_state=0), random_state=0).fit(df)
    return det.save(tmp_path_factory.mktemp("serve") / "table"), det, df


def test_table_records_are_scored_by_column_name(table_run):
    run, det, df = table_run
    client = TestClient(create_app(run))
    records = df[:5].to_dict(orient="records")
    shuffled = [dict(reversed(list(r.items()))) for r in records]  # column order does not matter
    body = client.post("/score", json={"instances": shuffled}).json()
    np.testing.assert_allclose(body["scores"], det.decision_function(df[:5]), rtol=1e-5)
    assert client.get("/metadata").json()["columns"] == ["size", "weight", "colour"]
    assert_error(client.post("/score", json={"instances": [{**records[0], "height": 2.0}]}), 422,
                 "unknown columns", "height")
    assert_error(client.post("/score", json={"instances": [records[0], [1, 2, 3]]}), 422, "not a mix")
    explained = client.post("/score?explain=true&top=2", json={"instances": records[:2]})
    assert explained.status_code == 200 and explained.json()["explanations"]


def test_the_table_defaults_mse_code_score_is_served(tmp_path):
    """The table default (RobustAutoEncoder, score "auto" = mse+code): /score gives the detector's own
    scores and labels, the code part included, and /metadata names the score in use."""
    from aekit.estimators.robust import RobustAutoEncoder

    rng = np.random.default_rng(2)
    t = rng.normal(size=200)
    df = pd.DataFrame({"a": t, "b": 2 * t + 0.1 * rng.normal(size=200), "c": rng.normal(size=200),
                       "kind": rng.choice(["x", "y"], 200)})
    det = AutoEncoderDetector(RobustAutoEncoder(hidden=(8,), updates=50, random_state=0), random_state=0).fit(df)
    assert det.score_ == "mse+code"
    client = TestClient(create_app(det.save(tmp_path / "table-default")))
    rows = pd.concat([df[:10], pd.DataFrame({"a": [8.0], "b": [16.0], "c": [0.0], "kind": ["x"]})],
                     ignore_index=True)  # the last row: far along the a-b direction, easy to reconstruct
    body = client.post("/score", json={"instances": rows.to_dict(orient="records")}).json()
    np.testing.assert_allclose(body["scores"], det.decision_function(rows), rtol=1e-5, atol=1e-6)
    assert body["is_anomaly"] == det.predict(rows).tolist() and body["is_anomaly"][-1] == 1
    meta = client.get("/metadata").json()
    assert meta["score"] == "mse+code" and meta["n_estimators"] == 5  # the table default's cross-fitted networks
    assert meta["scoring"] == "decision_function"  # records are encoded by the detector itself
    assert meta["explain"] is True


def test_records_for_a_model_not_fitted_on_a_table_are_refused(det_client):
    assert_error(det_client.post("/score", json={"instances": [{"a": 1.0}]}), 422, "fitted on a table")


def test_explain_for_a_detector_not_fitted_on_a_table_is_a_400(det_client):
    r = det_client.post("/score?explain=true", json={"instances": [[0.0] * 12]})
    assert_error(r, 400, "table's columns", "fitted on an array")
    assert_error(det_client.post("/score?explain=true&top=0", json={"instances": [[0.0] * 12]}), 422, "top")


# -- bad input: JSON errors, and the service stays up ---------------------------------------------------
@pytest.mark.parametrize("body, status, words", [
    (b'{"instances": [[0.1, 0.2', 400, ("malformed JSON",)),
    (b"\xff\xfe", 400, ("malformed JSON",)),
    (b"[1, 2]", 400, ("JSON object",)),
    (b'{"rows": []}', 422, ('"instances"',)),
    (b'{"instances": []}', 422, ("non-empty",)),
    (b'{"instances": [[1, 2], [3]]}', 422, ("equally shaped",)),
    (b'{"instances": [["a", "b"]]}', 422, ("numbers",)),
    (b'{"instances": [[1, 2, 3]]}', 422, ("rows of 64 values", "[1, 8, 8]", "[1, 3]")),
    (b'{"instances": [0.5, 0.5]}', 422, ("wrap one instance",)),
    (b'{"instances": [[' + b"NaN, " * 63 + b"1]]}", 422, ("NaN",)),
    (b'{"instances": [[' + b"null, " * 63 + b"1]]}", 422, ("null",)),
])
def test_malformed_and_wrong_bodies_get_json_errors(ae_client, body, status, words):
    assert_error(ae_client.post("/encode", content=body, headers={"content-type": "application/json"}), status, *words)
    assert ae_client.get("/health").status_code == 200  # and the service stays up


def test_uint8_npy_bodies_are_8bit_pixels_for_a_model_trained_on_0_to_1_and_numbers_otherwise(
        ae_client, ae_run, images, det_client, det_run, rows):
    from aekit.data.dataset import scale_pixels

    _, est = ae_run  # trained on values in [0, 1]: uint8 is 0–255 pixels, divided by 255 as the loaders do
    pixels = np.random.default_rng(1).integers(0, 256, size=(5, 1, 8, 8), dtype=np.uint8)
    got = ae_client.post("/encode", content=npy_bytes(pixels), headers={"content-type": NPY}).json()["codes"]
    np.testing.assert_allclose(got, est.transform(scale_pixels(pixels)), **TOL)
    assert not np.allclose(got, est.transform(pixels.astype(np.float32)), atol=1e-3)  # not taken at face value
    assert ae_client.get("/metadata").json()["uint8_instances"] == "8-bit pixels, divided by 255"
    # the same pixels as JSON numbers or a wider integer type: refused, not scored at face value
    for r in (ae_client.post("/encode", json={"instances": pixels.tolist()}),
              ae_client.post("/encode", content=npy_bytes(pixels.astype(np.int64)), headers={"content-type": NPY})):
        assert_error(r, 422, "whole numbers up to 255", "divide 8-bit pixels by 255")
    binary = (pixels > 127).astype(np.int64)  # whole numbers within [0, 1] are values of the trained range
    assert ae_client.post("/encode", json={"instances": binary.tolist()}).status_code == 200

    _, det = det_run  # trained on values beyond [0, 1]: uint8 values are numbers
    small = np.random.default_rng(2).integers(0, 4, size=(6, 12), dtype=np.uint8)
    got = det_client.post("/score", content=npy_bytes(small), headers={"content-type": NPY}).json()["scores"]
    np.testing.assert_allclose(got, det.decision_function(small.astype(np.float32)), rtol=1e-5)
    assert det_client.get("/metadata").json()["uint8_instances"] == "taken as numbers"


def test_huge_finite_values_pass_the_nan_check_and_nan_among_them_does_not(det_client, det_run):
    from aekit.tasks.serve_bodies import all_finite

    _, det = det_run
    huge = np.full((3, 12), 3e38, np.float32)  # their sum overflows: the check must look at each value
    assert all_finite(huge) and not all_finite(np.where(np.eye(3, 12, dtype=bool), np.nan, huge))
    r = det_client.post("/score", content=npy_bytes(huge), headers={"content-type": NPY})
    assert r.status_code == 200 and len(r.json()["scores"]) == 3
    huge[1, 4] = np.inf
    assert_error(det_client.post("/score", content=npy_bytes(huge), headers={"content-type": NPY}), 422,
                 "NaN, inf or null in 1 rows", "first row 1")


def test_bad_npy_bodies(ae_client):
    hdr = {"content-type": NPY}
    assert_error(ae_client.post("/encode", content=b"\x93NUMPY garbage", headers=hdr), 400, ".npy")
    truncated = npy_bytes(np.zeros((4, 64), np.float32))[:-8]
    assert_error(ae_client.post("/encode", content=truncated, headers=hdr), 400, "shape (4, 64)")
    # a header that claims a huge array is refused from the bytes sent, before any allocation
    huge = npy_bytes(np.zeros((1, 64), np.float32)).replace(b"(1, 64)", b"(10000000000, 64)")
    assert_error(ae_client.post("/encode", content=huge, headers=hdr), 400, "holds")
    strings = npy_bytes(np.array([["a"] * 64]))
    assert_error(ae_client.post("/encode", content=strings, headers=hdr), 422, "numbers")


def test_too_many_rows_and_too_large_bodies_are_413(ae_client):
    assert_error(ae_client.post("/encode", json={"instances": [[0.0] * 64] * 51}), 413, "51", "--max-batch")
    assert_error(ae_client.post("/encode", content=npy_bytes(np.zeros((51, 64), np.float32)),
                                headers={"content-type": NPY}), 413, "--max-batch")
    big = b'{"instances": [[' + b"0.0, " * 300_000 + b"0.0]]}"  # 1.5 MB against a 1 MiB limit
    assert_error(ae_client.post("/encode", content=big, headers={"content-type": "application/json"}), 413,
                 "--max-body-mb")

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(30):
            yield b" " * 65536

    assert_error(ae_client.post("/encode", content=chunks()), 413, "--max-body-mb")
    assert ae_client.get("/health").status_code == 200


def test_unknown_endpoints_and_kinds_without_them_are_json_404(ae_client):
    assert_error(ae_client.post("/score", json={"instances": [[0.0] * 64]}), 404, "/encode", "/reconstruct")
    assert_error(ae_client.post("/generate", json={"n": 2}), 404)
    assert_error(ae_client.get("/nowhere"), 404)


def test_an_unexpected_failure_is_a_json_500_and_the_service_stays_up(ae_run, monkeypatch):
    client = TestClient(create_app(ae_run[0]), raise_server_exceptions=False)
    model = client.app.state.model
    monkeypatch.setattr(model, "encode", lambda X, y=None: 1 / 0)
    assert_error(client.post("/encode", json={"instances": [[0.0] * 64]}), 500, "ZeroDivisionError")
    assert client.post("/reconstruct", json={"instances": [[0.0] * 64]}).status_code == 200


def test_altered_weights_refuse_to_start(tmp_path, rows):
    run = AutoEncoder(hidden=(4,), latent_dim=2, epochs=1, random_state=0).fit(rows).save(tmp_path / "ae")
    weights = RunRecord(run).weights_path
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(RunFolderError, match="altered"):
        create_app(run)


def test_the_cli_refuses_altered_weights_with_one_line_and_exit_2(tmp_path, rows, capsys):
    from support import run_cli

    run = AutoEncoder(hidden=(4,), latent_dim=2, epochs=1, random_state=0).fit(rows).save(tmp_path / "ae")
    RunRecord(run).weights_path.write_bytes(b"not the weights")
    for workers in ("1", "2"):  # checked once before any worker process starts
        code, _, err = run_cli(["serve", run, "--port", "0", "--workers", workers], capsys)
        assert code == 2 and err.count("\n") == 1 and "altered" in err
    for option, value in (("--max-batch", "0"), ("--max-body-mb", "-1"), ("--port", "70000"), ("--log-level", "loud"),
                          ("--http", "fast"), ("--loop", "trio"), ("--workers", "0"), ("--threads", "0"),
                          ("--merge-rows", "-1")):
        code, _, err = run_cli(["serve", run, option, value], capsys)
        assert code == 2 and option in err and err.count("\n") == 1


def test_a_port_in_use_or_another_machines_address_is_one_line_and_exit_2_before_the_model_loads(det_run, capsys):
    from support import run_cli

    run, _ = det_run
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for workers in ("1", "2"):
            code, out, err = run_cli(["serve", run, "--port", str(port), "--workers", workers], capsys)
            assert code == 2 and err.count("\n") == 1 and f"127.0.0.1:{port} is in use" in err and "--port" in err
            assert "serving" not in out  # nothing claims to serve
    # an address of another machine (TEST-NET-1, RFC 5737): no name lookup, refused by bind
    code, _, err = run_cli(["serve", run, "--host", "192.0.2.1", "--port", "8000"], capsys)
    assert code == 2 and err.count("\n") == 1 and "192.0.2.1:8000 cannot be listened on" in err


def test_asking_for_a_c_server_part_that_is_not_installed_is_a_config_error(det_run, monkeypatch):
    from aekit.errors import ConfigError
    from aekit.tasks.serve import serve

    monkeypatch.setitem(__import__("sys").modules, "uvloop", None)  # as if uvloop were not installed
    with pytest.raises(ConfigError, match="--loop uvloop needs uvloop"):
        serve(det_run[0], port=0, loop="uvloop")


def test_concurrent_requests_get_their_own_answers(det_client, det_run, rows):
    _, det = det_run
    expected = det.decision_function(rows)
    results, errors = {}, []

    def ask(i):
        try:
            X = rows[i * 10:(i + 1) * 10]
            results[i] = det_client.post("/score", json={"instances": X.tolist()}).json()["scores"]
        except Exception as exc:  # collected: an assertion in a thread would be lost
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    for i in range(8):
        np.testing.assert_allclose(results[i], expected[i * 10:(i + 1) * 10], rtol=1e-5)


# -- a real server ---------------------------------------------------------------------------------
@pytest.mark.parametrize("http, loop", [("httptools", "uvloop"), ("h11", "asyncio")])  # C and pure Python
def test_a_real_uvicorn_server_answers_refuses_a_100mb_body_and_shuts_down_gracefully(det_run, rows, http, loop):
    import httpx
    import uvicorn

    if http == "httptools":
        pytest.importorskip("httptools")
        pytest.importorskip("uvloop")

    run, det = det_run
    app = create_app(run, max_body_mb=8)
    model = app.state.model
    slow_started = threading.Event()
    fast_scores = model.scores

    def slow_scores(X):  # a request that is in flight when the shutdown begins
        if len(X) == 2:
            slow_started.set()
            time.sleep(1.0)
        return fast_scores(X)

    model.scores = slow_scores
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", http=http,
                                           loop=loop, timeout_graceful_shutdown=10))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
            time.sleep(0.05)
        with httpx.Client(base_url=url, timeout=10) as client:
            assert client.get("/health").json()["status"] == "ok"
            body = client.post("/score", json={"instances": rows[:5].tolist()}).json()
            np.testing.assert_allclose(body["scores"], det.decision_function(rows[:5]), rtol=1e-5)
            assert client.post("/score", content=b"{oops").json()["status"] == 400

        # a declared 100 MB body: refused from its headers, without the server waiting for it
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 104857600\r\n\r\n{\"instances\": [[")
            reply = b""
            while b"--max-body-mb" not in reply:  # headers and body may come in separate packets
                chunk = s.recv(65536)
                if not chunk:
                    break
                reply += chunk
            reply = reply.decode("latin-1")
        assert reply.startswith("HTTP/1.1 413") and "--max-body-mb" in reply

        in_flight = {}

        def slow_request():
            with httpx.Client(base_url=url, timeout=10) as client:
                in_flight["r"] = client.post("/score", json={"instances": rows[:2].tolist()})

        t = threading.Thread(target=slow_request)
        t.start()
        assert slow_started.wait(10)
        server.should_exit = True  # what Ctrl-C / SIGTERM does
        t.join(timeout=15)
        assert in_flight["r"].status_code == 200 and len(in_flight["r"].json()["scores"]) == 2  # it completed
        thread.join(timeout=15)
        assert not thread.is_alive()
        with pytest.raises(httpx.ConnectError):  # after shutdown: a clean refusal, not a hang
            httpx.get(f"{url}/health", timeout=2)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="counts worker processes in /proc")
def test_several_worker_processes_serve_one_port_and_stop_on_sigterm(det_run, rows):
    import os
    import signal
    from pathlib import Path

    import httpx
    from support import aekit_serve

    run, det = det_run
    with aekit_serve(run, "--workers", "2", "--log-level", "warning") as (proc, url):
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        cmdlines = [Path(f"/proc/{c}/cmdline").read_bytes() for c in children]
        assert sum(b"spawn_main" in c for c in cmdlines) == 2  # two processes, each with the model
        meta = httpx.get(f"{url}/metadata", timeout=10).json()
        assert meta["workers"] == 2 and meta["torch_threads"] == max(1, (os.cpu_count() or 1) // 2)
        with httpx.Client(base_url=url, timeout=30) as client:
            for i in range(4):  # whichever process answers, the same scores
                got = client.post("/score", json={"instances": rows[i * 5:(i + 1) * 5].tolist()}).json()["scores"]
                np.testing.assert_allclose(got, det.decision_function(rows[i * 5:(i + 1) * 5]), rtol=1e-5)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        said = " ".join(proc.stdout.read().decode().split())  # the console may wrap its line
        assert "serving the detector" in said and "2 processes" in said


def test_the_service_process_keeps_large_freed_blocks_where_the_c_library_is_glibc():
    import platform
    import sys

    from aekit.tasks.serve_bodies import reuse_freed_memory

    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert reuse_freed_memory() is glibc  # elsewhere: False, and nothing changed
