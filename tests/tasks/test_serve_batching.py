"""The service's dynamic batching: requests that wait for the model together run as one call, each
gets its own rows of the answer, kinds and limits are respected, one bad request fails alone, and
through HTTP concurrent /score and /encode requests merge and still equal the estimator."""
import asyncio
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from aekit import AutoEncoder, AutoEncoderDetector
from aekit.tasks.serve import create_app
from aekit.tasks.serve_batching import RequestBatcher

with warnings.catch_warnings():  # starlette's TestClient warns that it will move to httpx2
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class Recorder:
    """A row-wise model function that records the rows of each call (and fails on a -1)."""

    def __init__(self, scale: float = 2.0):
        self.scale, self.calls = scale, []

    def __call__(self, X):
        self.calls.append(len(X))
        if np.any(X == -1):
            raise ValueError("a row holds -1")
        return X.reshape(len(X), -1).sum(1) * self.scale


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def run_while_busy(batcher: RequestBatcher, requests, queued: int | None = None):
    """The requests' answers (or errors), sent while the model thread is busy: they all wait, then
    the thread is freed. `queued`: how many of them wait in the batcher's queue (the mergeable ones)."""
    async def main():
        loop = asyncio.get_running_loop()
        free = threading.Event()
        busy = loop.run_in_executor(batcher.executor, free.wait)
        tasks = [asyncio.ensure_future(batcher.run(fn, X)) for fn, X in requests]
        expected = len(requests) if queued is None else queued
        while len(batcher.waiting) < expected:
            await asyncio.sleep(0.005)
        free.set()
        await busy
        return await asyncio.gather(*tasks, return_exceptions=True)

    return asyncio.run(main())


@pytest.fixture
def executor():
    with ThreadPoolExecutor(max_workers=1) as ex:
        yield ex


def rows(n: int, start: float = 0.0, width: int = 3) -> np.ndarray:
    return (start + np.arange(n * width, dtype=np.float32)).reshape(n, width)


def test_requests_that_wait_together_run_as_one_call_and_each_gets_its_own_rows(executor):
    fn = Recorder()
    batcher = RequestBatcher(executor, max_rows=100)
    Xs = [rows(n, 10 * i) for i, n in enumerate([1, 3, 2, 1, 4])]
    out = run_while_busy(batcher, [(fn, X) for X in Xs])
    assert fn.calls == [11]  # one call of all 11 rows
    for X, got in zip(Xs, out):
        np.testing.assert_array_equal(got, X.sum(1) * 2)
    assert (batcher.model_calls, batcher.requests) == (1, 5)


def test_a_request_that_finds_the_model_free_runs_at_once_alone(executor):
    fn = Recorder()
    batcher = RequestBatcher(executor, max_rows=100)

    async def one_at_a_time():
        return [await batcher.run(fn, rows(2, i)) for i in range(3)]

    assert len(asyncio.run(one_at_a_time())) == 3
    assert fn.calls == [2, 2, 2] and batcher.model_calls == 3


def test_only_the_same_function_and_row_shape_merge_and_order_is_kept(executor):
    a, b = Recorder(2.0), Recorder(3.0)
    batcher = RequestBatcher(executor, max_rows=100)
    requests = [(a, rows(1)), (b, rows(2)), (a, rows(2, width=4)), (a, rows(3)), (b, rows(1))]
    out = run_while_busy(batcher, requests)
    assert a.calls == [4, 2] and b.calls == [3]  # a's 3-wide rows together, its 4-wide ones alone
    for (fn, X), got in zip(requests, out):
        np.testing.assert_array_equal(got, X.sum(1) * fn.scale)


def test_a_merged_call_stays_within_max_rows_and_large_requests_go_alone(executor):
    fn = Recorder()
    batcher = RequestBatcher(executor, max_rows=7, merge_rows=3)
    out = run_while_busy(batcher, [(fn, rows(3)) for _ in range(4)])
    assert fn.calls == [6, 6] and len(out) == 4
    fn.calls.clear()
    big = run_while_busy(batcher, [(fn, rows(3)), (fn, rows(5)), (fn, rows(3))], queued=2)
    # the 5-row request is over merge_rows: it goes to the model thread alone, the two 3-row ones merge
    assert sorted(fn.calls) == [5, 6] and [len(x) for x in big] == [3, 5, 3]


def test_merge_rows_0_runs_every_request_alone(executor):
    fn = Recorder()
    batcher = RequestBatcher(executor, max_rows=100, merge_rows=0)
    run_while_busy(batcher, [(fn, rows(1)) for _ in range(3)], queued=0)
    assert fn.calls == [1, 1, 1] and (batcher.model_calls, batcher.requests) == (3, 3)


def test_one_bad_request_fails_alone_and_the_others_get_their_answers(executor):
    fn = Recorder()
    batcher = RequestBatcher(executor, max_rows=100)
    bad = rows(2)
    bad[1, 0] = -1
    out = run_while_busy(batcher, [(fn, rows(1, 5)), (fn, bad), (fn, rows(2, 7))])
    assert fn.calls == [5, 1, 2, 2]  # the merged call failed: each alone
    np.testing.assert_array_equal(out[0], rows(1, 5).sum(1) * 2)
    assert isinstance(out[1], ValueError) and "-1" in str(out[1])
    np.testing.assert_array_equal(out[2], rows(2, 7).sum(1) * 2)
    assert (batcher.model_calls, batcher.requests) == (4, 3)  # the failed merged call counts too


def test_a_function_that_answers_the_wrong_number_of_rows_is_not_split_wrongly(executor):
    def first_row_only(X):
        return X[:1].sum(1)

    batcher = RequestBatcher(executor, max_rows=100)
    out = run_while_busy(batcher, [(first_row_only, rows(2)), (first_row_only, rows(3, 100))])
    # merged, the answer has 1 item for 5 rows: each request is run alone and gets fn's own answer
    np.testing.assert_array_equal(out[0], rows(2)[:1].sum(1))
    np.testing.assert_array_equal(out[1], rows(3, 100)[:1].sum(1))


def test_a_request_whose_client_has_gone_does_not_disturb_the_others(executor):
    fn = Recorder()
    batcher = RequestBatcher(executor, max_rows=100)

    async def main():
        loop = asyncio.get_running_loop()
        free = threading.Event()
        busy = loop.run_in_executor(executor, free.wait)
        tasks = [asyncio.ensure_future(batcher.run(fn, rows(1, i))) for i in range(3)]
        while len(batcher.waiting) < 3:
            await asyncio.sleep(0.005)
        tasks[1].cancel()  # the client disconnected while its request waited
        free.set()
        await busy
        return await asyncio.gather(*tasks, return_exceptions=True)

    out = asyncio.run(main())
    assert isinstance(out[1], asyncio.CancelledError)
    np.testing.assert_array_equal(out[0], rows(1, 0).sum(1) * 2)
    np.testing.assert_array_equal(out[2], rows(1, 2).sum(1) * 2)


def test_a_request_whose_event_loop_has_closed_does_not_stop_the_others_being_answered(executor):
    fn = Recorder()
    batcher = RequestBatcher(executor, max_rows=100)
    free = threading.Event()
    executor.submit(free.wait)  # the model is busy

    async def gives_up():  # a client that stops waiting; its event loop then closes
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(batcher.run(fn, rows(1)), 0.05)

    asyncio.run(gives_up())
    answer = {}

    def patient():  # another event loop (another thread), whose request merges with the first
        async def ask():
            return await asyncio.wait_for(batcher.run(fn, rows(2, 10)), 10)
        answer["got"] = asyncio.run(ask())

    t = threading.Thread(target=patient)
    t.start()
    wait_until(lambda: len(batcher.waiting) == 2)
    free.set()
    t.join(timeout=15)
    assert fn.calls == [3]
    np.testing.assert_array_equal(answer["got"], rows(2, 10).sum(1) * 2)


# -- through HTTP ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def det_run(tmp_path_factory):
    X = np.random.default_rng(1).normal(size=(150, 10)).astype(np.float32)
    det = AutoEncoderDetector(AutoEncoder(hidden=(8,), latent_dim=2, epochs=2, random_state=0), random_state=0).fit(X)
    return det.save(tmp_path_factory.mktemp("batching") / "det"), det, X


def concurrent_posts(client, path: str, bodies: list[dict]) -> list:
    results, errors = [None] * len(bodies), []

    def post(i):
        try:
            results[i] = client.post(path, json=bodies[i])
        except Exception as exc:  # collected: an assertion in a thread would be lost
            errors.append(exc)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    return threads, results, errors


@pytest.mark.parametrize("path", ["/score", "/encode"])
def test_concurrent_http_requests_merge_into_one_model_call_and_equal_the_estimator(det_run, path):
    run, det, X = det_run
    with TestClient(create_app(run)) as client:
        app = client.app
        batcher, model = app.state.batcher, app.state.model
        free = threading.Event()
        busy = model.thread.submit(free.wait)  # the model is busy with an earlier request
        parts = [X[i * 3:(i + 1) * 3] for i in range(6)]
        threads, results, errors = concurrent_posts(client, path, [{"instances": p.tolist()} for p in parts])
        wait_until(lambda: len(batcher.waiting) == 6)
        free.set()
        busy.result(timeout=10)
        for t in threads:
            t.join(timeout=30)
        assert not errors
        stats = client.get("/metadata").json()["batching"]
    assert (stats["model_calls"], stats["requests"]) == (1, 6)
    for part, r in zip(parts, results):
        assert r.status_code == 200, r.text
        if path == "/score":
            body = r.json()
            np.testing.assert_allclose(body["scores"], det.decision_function(part), rtol=1e-5, atol=1e-7)
            assert body["is_anomaly"] == (det.decision_function(part) > det.threshold_).astype(int).tolist()
        else:
            np.testing.assert_allclose(r.json()["codes"], det.estimator_.transform(part), rtol=1e-5, atol=1e-6)


def test_merge_rows_is_checked_and_reported(det_run):
    from aekit.errors import ConfigError

    run, _, _ = det_run
    with pytest.raises(ConfigError, match="--merge-rows"):
        create_app(run, merge_rows=-1)
    stats = TestClient(create_app(run, merge_rows=0, max_batch=500)).get("/metadata").json()["batching"]
    assert stats == {"merge_rows": 0, "max_rows": 500, "model_calls": 0, "requests": 0}


def test_sampled_scores_are_never_merged_and_equal_the_detector_alone(tmp_path):
    from aekit import VariationalAutoEncoder

    X = np.random.default_rng(3).random((120, 10)).astype(np.float32)
    det = AutoEncoderDetector(VariationalAutoEncoder(hidden=(8,), latent_dim=2, epochs=1, random_state=0),
                              score="elbo", random_state=0).fit(X)
    run = det.save(tmp_path / "vae-det")
    with TestClient(create_app(run)) as client:
        assert client.app.state.model.merge_scores is False
        parts = [X[i * 4:(i + 1) * 4] for i in range(5)]
        threads, results, errors = concurrent_posts(client, "/score", [{"instances": p.tolist()} for p in parts])
        for t in threads:
            t.join(timeout=30)
        assert not errors
        stats = client.get("/metadata").json()["batching"]
    assert stats["requests"] == 0  # the batcher never saw them
    for part, r in zip(parts, results):
        # the ELBO's draws are seeded per call: each request's scores are those of the detector on it alone
        np.testing.assert_allclose(r.json()["scores"], det.decision_function(part), rtol=1e-6)
