"""The image index: a trained run's encoder codes in a FAISS index (`aekit.ImageIndex`).

Image search by codes is "encode the collection, then find the nearest codes": an
`ImageIndex` holds the codes of a collection (made by `AutoEncoder.load(run).transform`) in a
FAISS index with each item's id, label and file path, and answers k-nearest-neighbour queries.

An index is a folder:

    index.faiss     the FAISS index (faiss.write_index to a temp file + os.replace)
    items.npz       ids (int64), labels (int64, -1 = none) and paths ("" = none), in index order
    manifest.json   run folder + its weights_sha256, kind, code size, count, data sources

Kinds: "flat" (IndexFlatL2, exact), "ivf" (IndexIVFFlat with nlist ≈ √N lists, `nprobe` of them
searched per query) and "hnsw" (IndexHNSWFlat, M links per node, efSearch at query time);
"auto" is flat below AUTO_APPROX_AT items and ivf from there. Distances are Euclidean
distances between codes (FAISS's squared L2, square-rooted).

Colour: an index keeps colour ("keep", the default) or drops it ("drop"): the collection and
every query are converted to luminance (Y = 0.2125 R + 0.7154 G + 0.0721 B, scikit-image's
`rgb2gray`) before encoding, so that colour does not decide the neighbours. A run trained on grey
images encodes the luminance itself; a run trained on colour images is given the luminance
repeated in its 3 channels. The mode is recorded in the manifest, so queries are treated as
the collection was. A grey run cannot keep the colour of a colour collection (refused, naming
--colour drop).

Bad input is refused with one clear message: an index made with another run folder's weights,
a missing or corrupt index file, codes of the wrong size. A k larger than the index is clamped
with a notice (an AekitWarning). Query images of another size or channel count are converted
(resized / turned grey or colour) with a notice: see `fit_images`.
"""
from __future__ import annotations

import io
import math
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aekit import __version__
from aekit.errors import AekitWarning, ConfigError, DataError, RunFolderError
from aekit.specs import positive_int
from aekit.runs import CONFIG, UMASK, atomic_write_bytes, file_sha256, read_json, write_json

KINDS = ("auto", "flat", "ivf", "hnsw")
COLOUR_MODES = ("keep", "drop")
LUMINANCE = (0.2125, 0.7154, 0.0721)  # scikit-image's rgb2gray weights (ITU-R BT.709)
AUTO_APPROX_AT = 100_000
INDEX_FILE = "index.faiss"
ITEMS_FILE = "items.npz"
MANIFEST = "manifest.json"
FORMAT = "aekit-image-index"
GRID_MAX_RESULTS = 16  # results shown per query row of the grid


def _faiss():
    try:
        import faiss
    except ImportError:  # pragma: no cover - a declared dependency
        raise ConfigError("similar-image search needs faiss: pip install faiss-cpu") from None
    return faiss


def run_weights_sha(run: str | os.PathLike) -> str | None:
    """The weights_sha256 recorded in a run folder's config.json."""
    return read_json(Path(run) / CONFIG).get("weights_sha256")


@dataclass
class _Items:
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    paths: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="<U1"))

    def extend(self, ids, labels, paths) -> None:
        self.ids = np.concatenate([self.ids, ids])
        self.labels = np.concatenate([self.labels, labels])
        self.paths = np.concatenate([self.paths.astype(str), np.asarray(paths, dtype=str)])


class ImageIndex:
    """Codes of an image collection in a FAISS index, searchable by image or by code.

    Build one with `ImageIndex.build(run, X, labels=None, paths=None, kind="auto", colour="keep")`
    (X is encoded with the run folder's encoder; colour="drop" encodes its luminance), or `ImageIndex.from_codes(codes, ...)` for codes
    made elsewhere (no run: query with `query_codes`). `add` appends items, `query(X, k)`
    returns (distances, ids) of the k nearest items for each row of X, `save(path)` writes the
    index folder and `ImageIndex.load(path)` reads it back, checking that the run folder still
    holds the weights the codes were made with.
    """

    def __init__(self, code_size: int, *, kind: str = "flat", nlist: int | None = None, nprobe: int = 16,
                 hnsw_m: int = 32, ef_search: int = 64, run: str | os.PathLike | None = None,
                 weights_sha256: str | None = None, colour: str = "keep"):
        if kind not in KINDS or kind == "auto":
            raise ConfigError(f"unknown index kind {kind!r}; choose one of flat, ivf, hnsw (or auto when building)")
        if int(code_size) < 1:
            raise ConfigError(f"code_size must be ≥ 1, got {code_size}")
        for name, v in (("nprobe", nprobe), ("hnsw_m", hnsw_m), ("ef_search", ef_search)):
            if int(v) < 1:
                raise ConfigError(f"{name} must be ≥ 1, got {v}")
        self.code_size = int(code_size)
        self.kind = kind
        self.nlist = None if nlist is None else int(nlist)
        self.nprobe = int(nprobe)
        self.hnsw_m = int(hnsw_m)
        self.ef_search = int(ef_search)
        self.run = None if run is None else str(Path(run).resolve())
        self.weights_sha256 = weights_sha256
        self.colour = check_colour(colour)
        self.sources: list[dict] = []
        self._items = _Items()
        self._index = None
        self._encoder = None

    # -- construction -------------------------------------------------------------------------
    @staticmethod
    def resolve_kind(kind: str, n: int) -> str:
        if kind not in KINDS:
            raise ConfigError(f"unknown index kind {kind!r}; choose one of {', '.join(KINDS)}")
        if kind == "auto":
            return "flat" if n < AUTO_APPROX_AT else "ivf"
        return kind

    @classmethod
    def build(cls, run, X, labels=None, paths=None, *, kind: str = "auto", ids=None, source: dict | None = None,
              nlist: int | None = None, nprobe: int = 16, hnsw_m: int = 32, ef_search: int = 64,
              colour: str = "keep") -> "ImageIndex":
        """Encode X (in the layout the run was trained on) with the run folder's encoder and index
        the codes. labels/paths/ids: one per row (optional); source: a note stored in the manifest;
        colour: "keep", or "drop" to encode the images' luminance (see the module docstring)."""
        colour = check_colour(colour)
        est = load_encoder(run)
        codes = encode(est, X, colour)
        index = cls(int(codes.shape[1]), kind=cls.resolve_kind(kind, len(codes)), nlist=nlist, nprobe=nprobe,
                    hnsw_m=hnsw_m, ef_search=ef_search, run=run, weights_sha256=run_weights_sha(run), colour=colour)
        index._encoder = est
        index.add_codes(codes, labels, paths, ids=ids, source=source)
        return index

    @classmethod
    def from_codes(cls, codes, labels=None, paths=None, *, kind: str = "auto", ids=None, nlist: int | None = None,
                   nprobe: int = 16, hnsw_m: int = 32, ef_search: int = 64) -> "ImageIndex":
        """An index of ready-made codes (N × code size), not tied to a run folder."""
        codes = _codes(codes)
        index = cls(codes.shape[1], kind=cls.resolve_kind(kind, len(codes)), nlist=nlist, nprobe=nprobe,
                    hnsw_m=hnsw_m, ef_search=ef_search)
        index.add_codes(codes, labels, paths, ids=ids)
        return index

    def _make_index(self, codes: np.ndarray):
        faiss = _faiss()
        d = self.code_size
        if self.kind == "flat":
            return faiss.IndexFlatL2(d)
        if self.kind == "hnsw":
            index = faiss.IndexHNSWFlat(d, self.hnsw_m)
            index.hnsw.efSearch = self.ef_search
            return index
        # ivf: nlist ≈ √N lists, trained (k-means) on the first batch of codes
        n = len(codes)
        if n == 0:
            raise DataError("an ivf index is trained on its first codes: build it from at least one item")
        if self.nlist is None:
            self.nlist = max(1, int(round(math.sqrt(n))))
        if self.nlist > n:
            raise ConfigError(f"an ivf index with nlist={self.nlist} needs at least {self.nlist} items to train, got {n}")
        quantizer = faiss.IndexFlatL2(d)
        index = faiss.IndexIVFFlat(quantizer, d, self.nlist, faiss.METRIC_L2)
        index.cp.min_points_per_centroid = 1  # small collections: no "please provide more points" warning
        index.train(codes)
        index.nprobe = min(self.nprobe, self.nlist)
        return index

    # -- items ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(len(self._items.ids))

    @property
    def ids(self) -> np.ndarray:
        return self._items.ids

    @property
    def labels(self) -> np.ndarray:
        """Label per item in index order (-1 where none was given)."""
        return self._items.labels

    @property
    def paths(self) -> list[str]:
        return [str(p) for p in self._items.paths]

    def add(self, X, labels=None, paths=None, *, ids=None, source: dict | None = None) -> np.ndarray:
        """Encode X with the index's run and append it; returns the new items' ids."""
        return self.add_codes(encode(self.encoder(), X, self.colour), labels, paths, ids=ids, source=source)

    def add_codes(self, codes, labels=None, paths=None, *, ids=None, source: dict | None = None) -> np.ndarray:
        codes = _codes(codes, self.code_size)
        n = len(codes)
        start = len(self)
        if ids is None:
            base = int(self._items.ids.max()) + 1 if start else 0
            new_ids = np.arange(base, base + n, dtype=np.int64)
        else:
            new_ids = np.asarray(ids).astype(np.int64).reshape(-1)
            if len(new_ids) != n:
                raise DataError(f"{n} items but {len(new_ids)} ids")
        if len(np.unique(new_ids)) != n or np.isin(new_ids, self._items.ids).any():
            raise DataError("item ids must be unique (an id given is already in the index or repeated)")
        lab = _per_item(labels, n, "labels", np.int64, -1)
        pth = _per_item(paths, n, "paths", str, "")
        if self._index is None:
            self._index = self._make_index(codes)
        if n:
            self._index.add(codes)
        self._items.extend(new_ids, lab, pth)
        if source is not None:
            self.sources.append({**source, "start": start, "count": n})
        return new_ids

    # -- searching -----------------------------------------------------------------------------
    def encoder(self):
        if self._encoder is None:
            if self.run is None:
                raise ConfigError("this index holds codes made outside a run folder: query it with query_codes")
            self._encoder = load_encoder(self.run)
        return self._encoder

    def encode(self, X) -> np.ndarray:
        """Codes of X as the collection's were made (the index's colour mode)."""
        return encode(self.encoder(), X, self.colour)

    def query(self, X, k: int = 10, *, nprobe: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(distances, ids), each len(X) × k, nearest first: X encoded with the run's encoder."""
        return self.query_codes(self.encode(X), k, nprobe=nprobe)

    def query_codes(self, codes, k: int = 10, *, nprobe: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        dist, pos = self.search_positions(codes, k, nprobe=nprobe)
        ids = np.where(pos >= 0, self._items.ids[np.clip(pos, 0, None)] if len(self) else -1, -1)
        return dist, ids

    def search_positions(self, codes, k: int = 10, *, nprobe: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(distances, positions in index order); -1 / inf where an approximate index found fewer than k."""
        codes = _codes(codes, self.code_size)
        k = self.check_k(k)
        self._set_search_params(nprobe)
        d2, pos = self._index.search(codes, k)
        dist = np.sqrt(np.maximum(d2, 0.0)).astype(np.float32)
        dist[pos < 0] = np.inf
        return dist, pos.astype(np.int64)

    def check_k(self, k) -> int:
        """k as a positive int, clamped to the index size with a notice."""
        k = positive_int(k, "k")
        if len(self) == 0:
            raise DataError("the index is empty: add items before querying it")
        if k > len(self):
            warnings.warn(f"k={k} is larger than the index ({len(self)} items): returning all {len(self)}",
                          AekitWarning, stacklevel=3)
            k = len(self)
        return k

    def _set_search_params(self, nprobe: int | None) -> None:
        if self.kind == "ivf":
            p = self.nprobe if nprobe is None else int(nprobe)
            if p < 1:
                raise ConfigError(f"nprobe must be ≥ 1, got {p}")
            self._index.nprobe = min(p, self.nlist or p)
        elif self.kind == "hnsw":
            self._index.hnsw.efSearch = self.ef_search

    # -- files ---------------------------------------------------------------------------------
    def manifest(self, checksums: dict | None = None) -> dict:
        """manifest.json: what the index holds, and the sha256 of its files (checked before reading them)."""
        return {
            "format": FORMAT,
            "aekit_version": __version__,
            "run": self.run,
            "weights_sha256": self.weights_sha256,
            "kind": self.kind,
            "metric": "l2",
            "colour": self.colour,
            "code_size": self.code_size,
            "count": len(self),
            "nlist": self.nlist,
            "nprobe": self.nprobe,
            "hnsw_m": self.hnsw_m,
            "ef_search": self.ef_search,
            "data": self.sources,
            "sha256": checksums or {},
        }

    def save(self, path) -> Path:
        """Write the index folder: items, index, then the manifest last (each atomically)."""
        if self._index is None:
            raise DataError("nothing to save: the index holds no items")
        faiss = _faiss()
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise RunFolderError(f"{path} is a file; an index is written to a folder")
        path.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        np.savez(buf, ids=self._items.ids, labels=self._items.labels, paths=self._items.paths.astype(str))
        atomic_write_bytes(path / ITEMS_FILE, buf.getvalue())
        fd, tmp = tempfile.mkstemp(dir=path, prefix=f".{INDEX_FILE}.", suffix=".tmp")
        os.close(fd)
        try:
            faiss.write_index(self._index, tmp)
            os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp makes 0600; the user's umask decides
            os.replace(tmp, path / INDEX_FILE)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        sums = {name: file_sha256(path / name) for name in (INDEX_FILE, ITEMS_FILE)}
        write_json(path / MANIFEST, self.manifest(sums))
        return path

    @classmethod
    def load(cls, path, *, run: str | os.PathLike | None = None, check_run: bool = True) -> "ImageIndex":
        """Read an index folder. The run folder (the manifest's, or `run`) must still hold the
        weights the codes were made with; otherwise RunFolderError."""
        faiss = _faiss()
        path = Path(path)
        if not path.is_dir():
            raise RunFolderError(f"{path}: no such index folder (make one with `aekit index build`)")
        m = read_json(path / MANIFEST)
        if m.get("format") != FORMAT:
            raise RunFolderError(f"{path / MANIFEST}: not an aekit image index manifest")
        try:
            index = cls(int(m["code_size"]), kind=m["kind"], nlist=m.get("nlist"), nprobe=int(m.get("nprobe", 16)),
                        hnsw_m=int(m.get("hnsw_m", 32)), ef_search=int(m.get("ef_search", 64)),
                        weights_sha256=m.get("weights_sha256"), colour=m.get("colour", "keep"))
        except (KeyError, TypeError, ValueError, ConfigError) as exc:
            raise RunFolderError(f"{path / MANIFEST}: incomplete or invalid manifest ({exc})") from None
        index.run = m.get("run")
        index.sources = list(m.get("data") or [])
        sums = m.get("sha256") if isinstance(m.get("sha256"), dict) else {}
        for name in (INDEX_FILE, ITEMS_FILE):
            if not (path / name).exists():
                raise RunFolderError(f"{path / name} is missing")
            # FAISS parses index files in C++: only a file whose checksum the manifest vouches for is read
            if not sums.get(name):
                raise RunFolderError(f"{path / MANIFEST} records no checksum of {name} (an index from before "
                                     "checksums, or from elsewhere): rebuild it with `aekit index build`")
            if file_sha256(path / name) != sums[name]:
                raise RunFolderError(f"{path / name} does not match the sha256 in {MANIFEST}: the index was altered "
                                     "or replaced; rebuild it with `aekit index build`")
        try:
            index._index = faiss.read_index(str(path / INDEX_FILE))
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RunFolderError(f"{path / INDEX_FILE}: not a readable FAISS index ({first[:200]})") from None
        try:
            with np.load(path / ITEMS_FILE, allow_pickle=False) as z:
                index._items = _Items(z["ids"].astype(np.int64), z["labels"].astype(np.int64), z["paths"].astype(str))
        except FileNotFoundError:
            raise RunFolderError(f"{path / ITEMS_FILE} is missing") from None
        except Exception as exc:
            raise RunFolderError(f"{path / ITEMS_FILE}: unreadable ({type(exc).__name__}: {exc})") from None
        count = int(m.get("count", -1))
        if not (index._index.ntotal == len(index._items.ids) == count) or index._index.d != index.code_size:
            raise RunFolderError(
                f"{path}: the index ({index._index.ntotal} codes of size {index._index.d}), items.npz "
                f"({len(index._items.ids)}) and manifest ({count} of size {index.code_size}) disagree: rebuild it"
            )
        if run is not None:
            index.check_run(run)
            index.run = str(Path(run).resolve())
        elif check_run and index.run is not None:
            index.check_run(index.run)
        return index

    def check_run(self, run) -> None:
        """RunFolderError unless `run` holds the weights this index's codes were made with."""
        try:
            sha = run_weights_sha(run)
        except RunFolderError as exc:
            raise RunFolderError(f"the index was built with run folder {self.run}, which cannot be read: {exc}") from None
        if self.weights_sha256 and sha != self.weights_sha256:
            raise RunFolderError(
                f"the index was built with other weights than {run} holds (weights sha256 "
                f"{self.weights_sha256[:12]}… vs {str(sha)[:12]}…): its codes would not match. "
                "Build a new index with this run (`aekit index build`)"
            )


# -- helpers --------------------------------------------------------------------------------
def load_encoder(run):
    """The run folder's encoder: AutoEncoder.load(run), or a VAE (codes: posterior means μ)."""
    from aekit.kinds import load_estimator, require_encoder

    if hasattr(run, "transform"):
        raise ConfigError("give the run folder's path (the index records it), not a fitted estimator")
    return require_encoder(load_estimator(run), "an image index")


def check_colour(colour) -> str:
    """`colour` if it is a colour mode ("keep" or "drop"), else ConfigError."""
    if colour not in COLOUR_MODES:
        raise ConfigError(f"unknown colour mode {colour!r}; choose keep (search by the colour image) or drop "
                          "(search by its luminance)")
    return str(colour)


def luminance(X: np.ndarray) -> np.ndarray:
    """The luminance of N×3×H×W colour images, N×1×H×W (weights LUMINANCE); grey images unchanged.

    Parameters
    ----------
    X : np.ndarray
        N×3×H×W (RGB) or N×1×H×W images.

    Returns
    -------
    np.ndarray
        float32, N×1×H×W.

    Examples
    --------
    >>> luminance(np.ones((2, 3, 4, 5))).shape
    (2, 1, 4, 5)
    >>> round(float(luminance(np.array([0.0, 1.0, 0.0]).reshape(1, 3, 1, 1))[0, 0, 0, 0]), 4)   # pure green
    0.7154
    """
    X = np.asarray(X)
    if X.ndim != 4 or X.shape[1] not in (1, 3):
        raise DataError(f"luminance needs N×3×H×W colour or N×1×H×W grey images, got shape {X.shape}")
    if X.shape[1] == 1:
        return X.astype(np.float32, copy=False)
    w = np.asarray(LUMINANCE, np.float32).reshape(1, 3, 1, 1)
    return (X.astype(np.float32, copy=False) * w).sum(1, keepdims=True)


def colour_input(est, X: np.ndarray, colour: str) -> np.ndarray:
    """X as the run's encoder takes it in colour mode `colour`: "drop" turns images into their
    luminance (repeated in 3 channels for a run trained on colour); "keep" refuses a colour
    collection for a run trained on grey images."""
    check_colour(colour)
    if X.ndim != 4:
        if colour == "drop":
            raise DataError(f"--colour drop needs images (N×C×H×W), got rows of shape {X.shape}")
        return X
    try:
        c = image_shape_of(est)[0]
    except DataError:
        if colour == "drop":
            raise
        return X  # a run trained on rows: the encoder checks the size
    if colour == "keep":
        if X.shape[1] == 3 and c == 1:
            raise ConfigError("the run was trained on grey images and these images are in colour: build the index "
                              "with --colour drop (search by luminance), or with a run trained on colour images")
        return X
    if c not in (1, 3):
        raise ConfigError(f"--colour drop needs a run trained on grey or RGB images; this one takes {c} channels")
    grey = luminance(X)
    return np.repeat(grey, 3, axis=1) if c == 3 else grey


def encode(est, X, colour: str = "keep") -> np.ndarray:
    """Codes of X (N×C×H×W images or rows) from a fitted encoder, float32, in colour mode `colour`."""
    X = np.asarray(X)
    if len(X) == 0:
        raise DataError("no images to encode")
    X = colour_input(est, X, colour)
    if X.ndim == 4 and getattr(est, "input_ndim_", 2) == 2:
        X = X.reshape(len(X), -1)
    return np.ascontiguousarray(est.transform(X), dtype=np.float32)


def _codes(codes, code_size: int | None = None) -> np.ndarray:
    a = np.asarray(codes)
    if a.ndim == 1:
        a = a[None]
    if a.ndim != 2:
        raise DataError(f"codes must be N × code size, got shape {a.shape}")
    if code_size is not None and a.shape[1] != code_size:
        raise DataError(f"codes of size {a.shape[1]} do not fit an index of codes of size {code_size}")
    if a.size and not np.isfinite(a).all():
        raise DataError("codes contain NaN or inf")
    return np.ascontiguousarray(a, dtype=np.float32)


def _per_item(values, n: int, what: str, dtype, fill) -> np.ndarray:
    if values is None:
        return np.full(n, fill, dtype=dtype if dtype is not str else "<U1")
    a = np.asarray(values).astype(dtype).reshape(-1)
    if len(a) != n:
        raise DataError(f"{n} items but {len(a)} {what}")
    return a


def image_shape_of(est) -> tuple[int, int, int]:
    """(C, H, W) the run's encoder takes; flat runs of a square size count as one grey image."""
    shape = tuple(est.model_config_.input_shape)
    if len(shape) == 3:
        return shape  # type: ignore[return-value]
    side = int(round(math.sqrt(shape[0])))
    if side * side == shape[0]:
        return (1, side, side)
    raise DataError(f"this run was trained on rows of {shape[0]} values, not images: query it with --data")


def fit_images(images: list[np.ndarray], shape: tuple[int, int, int], value_max: float = 1.0,
               colour: str = "keep") -> tuple[np.ndarray, list[str]]:
    """Images (H×W or H×W×C, uint8 or float in [0, 1]) made to fit (C, H, W): resized (bilinear,
    with anti-aliasing) and turned grey (luminance) or colour (grey repeated) as needed; with
    colour="drop" every image is turned grey (N×1×H×W, no notice: that is the index's mode).
    Returns N×C×H×W float32 in [0, value_max] and the notices to print (one per kind of change)."""
    from skimage.color import gray2rgb, rgb2gray
    from skimage.transform import resize

    c, h, w = shape
    drop = check_colour(colour) == "drop"
    if drop:
        c = 1
    out = np.empty((len(images), c, h, w), np.float32)
    notes: list[str] = []
    for i, im in enumerate(images):
        a = np.asarray(im)
        a = a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a.astype(np.float32)
        if a.ndim == 3 and a.shape[2] == 4:
            a = a[..., :3]
        if a.ndim == 3 and a.shape[2] == 1:
            a = a[..., 0]
        if a.ndim == 3 and c == 1:
            a = rgb2gray(a)
            if not drop:
                notes.append("the query is a colour image; the model takes grey images: converted to grey")
        elif a.ndim == 2 and c == 3:
            a = gray2rgb(a)
            notes.append("the query is a grey image; the model takes colour images: grey repeated in 3 channels")
        if a.shape[:2] != (h, w):
            notes.append(f"the query is {a.shape[1]}×{a.shape[0]} pixels; resized to the model's {w}×{h}")
            a = resize(a, (h, w), order=1, anti_aliasing=True, preserve_range=True)
        a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
        out[i] = np.clip(a, 0.0, 1.0) * value_max
    return out, list(dict.fromkeys(notes))


__all__ = ["COLOUR_MODES", "GRID_MAX_RESULTS", "ImageIndex", "KINDS", "LUMINANCE", "MANIFEST", "check_colour",
           "colour_input", "encode", "fit_images", "image_shape_of", "load_encoder", "luminance", "run_weights_sha"]
