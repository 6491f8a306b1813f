"""`aekit export`: a run folder's forward path as an ONNX or TorchScript file.

The run folder is loaded as every command loads it (its kind from `aekit.kinds`, the weights
checked against the sha256 in config.json, so altered weights are refused), and the estimator
writes the part (`aekit.estimators.export`); the metadata beside the file also names the run
folder and its model card (MODEL_CARD.md, which `aekit report` writes).
"""
from __future__ import annotations

from pathlib import Path

from aekit.errors import ConfigError, RunFolderError
from aekit.estimators.export import metadata_path
from aekit.kinds import kind_of
from aekit.report.model_card import MODEL_CARD
from aekit.runs import CONFIG, check_output_file, read_json
from aekit.tasks.index import FORMAT as INDEX_FORMAT
from aekit.tasks.index import MANIFEST as INDEX_MANIFEST


def refuse_index(run: Path) -> None:
    """ConfigError for an image index folder: it holds a search structure, not a network."""
    manifest = run / INDEX_MANIFEST
    if not (run / CONFIG).exists() and manifest.is_file():
        try:
            info = read_json(manifest)
        except RunFolderError:
            return
        if isinstance(info, dict) and info.get("format") == INDEX_FORMAT:
            source = info.get("run")
            raise ConfigError(
                f"{run} is an image index, and an index cannot be exported: it is a FAISS nearest-neighbour search "
                "over stored codes, not a network with a forward path; export the encoder it was built with"
                + (f" (aekit export {source} --part encoder)" if source else ""))


def export_run(run, out, *, format: str = "onnx", part: str | None = None, opset: int | None = None) -> dict:
    """Export one part of the model in run folder `run` to `out`; the metadata written beside it.

    Parameters
    ----------
    run : str or Path
        A run folder (`aekit train`, `aekit detect fit`, an estimator's `save`).
    out : str or Path
        The file to write; its metadata goes to ``out + ".json"``.
    format : {"onnx", "torchscript"}, default "onnx"
    part : str or None
        One of `aekit.estimators.export.PARTS`; None: the kind's default.
    opset : int or None
        ONNX opset (default 18).

    Returns
    -------
    dict
        The metadata (also in ``out + ".json"``).

    Raises
    ------
    RunFolderError
        Not a run folder, altered weights, an output path that cannot be written.
    ConfigError
        A folder or part that cannot be exported, saying why.
    """
    import json

    run = Path(run)
    refuse_index(run)
    check_output_file(out)  # before the model is loaded: refuse a bad path at once
    estimator = kind_of(run).load(run)
    card = (run / MODEL_CARD).resolve()
    extra = {"run": str(run.resolve()), "model_card": str(card), "model_card_written": card.is_file()}
    estimator.export(out, format, part, opset=opset, metadata=extra)
    return json.loads(metadata_path(out).read_text(encoding="utf-8"))


__all__ = ["export_run", "refuse_index"]
