"""Similar-image search tasks: what `aekit index build | add | query` do, over `aekit.tasks.index`."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from aekit.data.files import read_image
from aekit.errors import AekitWarning, ConfigError, DataError, RunFolderError
from aekit.metrics import precision_at_k
from aekit.runs import read_json
from aekit.specs import positive_int
from aekit.tasks.index import (GRID_MAX_RESULTS, MANIFEST, ImageIndex, check_colour, fit_images, image_shape_of,
                               run_weights_sha)


def read_images(paths) -> list[np.ndarray]:
    """Image files as H×W or H×W×3 arrays (see `aekit.data.files.read_image`)."""
    return [read_image(p) for p in paths]


def source_images(index: ImageIndex, positions: np.ndarray, data_dir=None):
    """Images of indexed items (by position), reloaded from the data sources recorded in the
    manifest; None when an item's source cannot be reloaded."""
    from aekit.data import load

    positions = np.asarray(positions).reshape(-1)
    out: dict[int, np.ndarray] = {}
    for src in index.sources:
        lo, n = int(src.get("start", 0)), int(src.get("count", 0))
        want = positions[(positions >= lo) & (positions < lo + n)]
        if not len(want) or "source" not in src:
            continue
        try:
            ds = load(src["source"], split=src.get("split", "train"),
                      data_dir=data_dir if data_dir is not None else src.get("data_dir"), seed=int(src.get("seed", 0)))
        except Exception:
            continue
        if "limit" in src:  # built with --limit: the first `limit` samples
            ds = ds.subset(np.arange(min(int(src["limit"]), len(ds))))
        if len(ds) != n:
            continue
        X = ds.X if ds.X.ndim == 4 else None
        if X is None:
            continue
        for p in want:
            out[int(p)] = X[int(p) - lo]
    if len(out) < len(set(positions.tolist())):
        return None
    return np.stack([out[int(p)] for p in positions])


def save_query_grid(queries: np.ndarray, results: np.ndarray | None, path, value_range=(0.0, 1.0),
                    labels: list[str] | None = None) -> Path:
    """One row per query: the query image, then its k results (nearest first)."""
    from aekit.report.grid import save_image_rows

    q = np.asarray(queries)
    rows = []
    for i in range(len(q)):
        row = q[i : i + 1]
        if results is not None:
            r = np.asarray(results[i])
            if r.shape[1:] != row.shape[1:]:
                r = _match_channels(r, row.shape[1])
            row = np.concatenate([_match_channels(row, r.shape[1]) if row.shape[1] != r.shape[1] else row, r])
        rows.append(row)
    return save_image_rows(rows, path, labels=labels, value_range=value_range)


def _match_channels(a: np.ndarray, c: int) -> np.ndarray:
    if a.shape[1] == c:
        return a
    if c == 3 and a.shape[1] == 1:
        return np.repeat(a, 3, axis=1)
    return a.mean(1, keepdims=True)


# -- the task: what `aekit index build | add | query` do -----------------------------------------
def _load_source(source: str, split: str, data_dir, seed: int):
    from aekit.data import load

    ds = load(source, split=split, data_dir=data_dir, seed=seed)
    rec = {"source": str(source), "split": split, "seed": int(seed),
           "data_dir": None if data_dir is None else str(Path(data_dir).expanduser().resolve()), "name": ds.name}
    if ds.classes:
        rec["classes"] = list(ds.classes)
    return ds, rec


def build_index(run, out, source: str | None = None, *, split: str = "train", data_dir=None, seed: int | None = None,
                kind: str = "auto", overwrite: bool = False, nlist: int | None = None, nprobe: int = 16,
                hnsw_m: int = 32, limit: int | None = None, notice=None, colour: str = "keep") -> ImageIndex:
    """Encode a data source's split with the run's encoder and write an index folder to `out`
    (default source: the one the run was trained on); `limit`: only its first `limit` samples
    (a limit above the split's size keeps them all, said through `notice`); `colour`: "keep", or
    "drop" to search by luminance (`aekit.tasks.index`)."""
    check_colour(colour)
    out = Path(out)
    sha = run_weights_sha(run)
    if (out / MANIFEST).exists() and not overwrite:
        try:
            old = read_json(out / MANIFEST)
        except RunFolderError:
            old = {}
        other = old.get("weights_sha256") not in (None, sha)
        raise RunFolderError(
            f"{out} already holds an index{' built with another run' if other else ''} "
            f"({old.get('count', '?')} items, run {old.get('run')}); add to it with `aekit index add`, "
            "or pass --overwrite to replace it"
        )
    from aekit.kinds import recorded_source

    src, ddir, sd, _ = recorded_source(run, source, data_dir)
    ds, srec = _load_source(src, split, ddir, sd if seed is None else seed)
    if limit is not None:
        n = positive_int(limit, "--limit", "samples to index")
        if n > len(ds) and notice is not None:
            notice(f"--limit {n} is more than the {len(ds)} samples of {ds.name} {split}: indexing all of them")
        if n < len(ds):
            ds, srec = ds.subset(np.arange(n)), {**srec, "limit": n}
    index = ImageIndex.build(run, ds.X, labels=ds.y, paths=ds.paths, kind=kind, source=srec, nlist=nlist,
                             nprobe=nprobe, hnsw_m=hnsw_m, colour=colour)
    index.save(out)
    return index


def add_to_index(path, source: str, *, split: str = "train", data_dir=None, seed: int = 0,
                 run=None) -> tuple[ImageIndex, np.ndarray]:
    """Encode another data split with the index's run (or `run`, a moved copy with the same
    weights) and append it (the index folder is rewritten)."""
    index = ImageIndex.load(path, run=run)
    ds, srec = _load_source(source, split, data_dir, seed)
    new = index.add(ds.X, labels=ds.y, paths=ds.paths, source=srec)
    index.save(path)
    return index, new


def query_index(path, *, images: list | None = None, source: str | None = None, split: str = "test",
                limit: int = 5, k: int = 10, data_dir=None, seed: int = 0, grid=None, nprobe: int | None = None,
                run=None) -> dict:
    """Neighbours of query images (files) or of the first `limit` samples of a data split.
    Returns notes, per-query rows (rank, id, distance, label, path), precision@k when labels
    are known, and the grid PNG path (query, then results, one row per query). `run`: the run
    folder to encode with when it has moved (it must hold the same weights)."""
    index = ImageIndex.load(path, run=run)
    est = index.encoder()
    notes: list[str] = []
    query_labels = None
    names: list[str]
    if images:
        shape = image_shape_of(est)
        Q, notes = fit_images(read_images(images), shape, colour=index.colour)
        names = [Path(p).name for p in images]
        X = Q  # `index.encode` converts colour as the collection was, and flattens for a flat run
    elif source is not None:
        if int(limit) < 1:
            raise ConfigError(f"--limit must be ≥ 1, got {limit}")
        ds, _ = _load_source(source, split, data_dir, seed)
        ds = ds.subset(np.arange(min(int(limit), len(ds))))
        X, Q = ds.X, (ds.X if ds.X.ndim == 4 else None)
        if Q is not None:
            X, notes = fit_data_images(Q, est, index.colour)
            Q = X
        query_labels = ds.y
        names = [f"{ds.name} {split} #{i}" for i in range(len(ds))]
    else:
        raise ConfigError("give query images (--image) or a data source (--data)")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AekitWarning)
        dist, pos = index.search_positions(index.encode(X), k, nprobe=nprobe)
    notes += [str(w.message) for w in caught if issubclass(w.category, AekitWarning)]
    classes = _classes_by_position(index)
    rows = []
    for qi in range(len(pos)):
        r = []
        for rank, (d, p) in enumerate(zip(dist[qi], pos[qi]), 1):
            if p < 0:
                continue
            lab = int(index.labels[p])
            r.append({"rank": rank, "id": int(index.ids[p]), "distance": float(d),
                      "label": None if lab < 0 else lab, "class": classes(int(p), lab), "path": index.paths[p]})
        rows.append({"query": names[qi], "neighbours": r})
    result = {"notes": notes, "queries": rows, "k": int(pos.shape[1]), "run": index.run}
    if query_labels is not None and (index.labels >= 0).any():
        result["precision_at_k"] = precision_at_k(index.labels[np.clip(pos, 0, None)], query_labels)
    if grid is not None and Q is not None:
        cols = pos[:, :GRID_MAX_RESULTS].clip(0)
        shown = source_images(index, cols, data_dir=data_dir)
        if shown is not None:
            shown = shown.reshape(len(cols), cols.shape[1], *shown.shape[1:])
        else:
            result["notes"].append("the indexed images could not be reloaded from their data source: "
                                   "the grid shows the queries only")
        result["grid"] = str(save_query_grid(Q, shown, grid, labels=[n[:18] for n in names]))
    return result


def fit_data_images(X: np.ndarray, est, colour: str = "keep") -> tuple[np.ndarray, list[str]]:
    """Query images from a data source (N×C×H×W) as the run's encoder takes them: unchanged when
    their size and channels fit, else resized / converted by `fit_images` (values in [0, 1]),
    with its notices."""
    try:
        shape = image_shape_of(est)
    except DataError:
        return X, []  # a run trained on rows: the encoder checks the size
    if tuple(X.shape[-2:]) == tuple(shape[-2:]) and (X.shape[1] == shape[0] or colour == "drop"):
        return X, []
    images = [x[0] if x.shape[0] == 1 else x.transpose(1, 2, 0) for x in np.clip(X, 0.0, 1.0)]
    return fit_images(images, shape, colour=colour)


def _classes_by_position(index: ImageIndex):
    spans = [(int(s.get("start", 0)), int(s.get("count", 0)), s.get("classes")) for s in index.sources]

    def name(p: int, lab: int):
        if lab < 0:
            return None
        for lo, n, classes in spans:
            if lo <= p < lo + n and classes and 0 <= lab < len(classes):
                return str(classes[lab])
        return None

    return name


__all__ = ["ImageIndex", "add_to_index", "build_index", "fit_data_images", "fit_images",
           "query_index", "save_query_grid"]
