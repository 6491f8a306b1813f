"""Exporting models fitted on tables: the network takes the encoded table, and the column
encoding travels beside it.

A table's column encoding (`aekit.data.tabular.TableEncoder`: numeric columns scaled, categories
one-hot with an unseen slot, missing indicators) works on named, typed columns, which a tensor
graph has no place for; so the exported graph takes the encoded table — ``x`` (N × F float32)
and ``observed`` (N × F bool: the cells that held a value) — and the encoder's full learned
state is written in the metadata (``table_encoder``), from which
``TableEncoder.from_json(meta["table_encoder"]).transform(df)`` gives exactly those two arrays.
Everything after the encoding is in the graph: the detector fills a row's missing cells with
the model's own reconstruction (`detector_tables.IMPUTE_PASSES` passes), then scores the mean (or
max) squared error over the observed cells, as `AutoEncoderDetector.decision_function` does;
for ``score="mse+code"`` it adds the distance along the manifold of the imputed row's code and
reconstruction, the training statistics being constants of the graph (`export_scores`).
"""
from __future__ import annotations

import torch
from torch import nn

from aekit.estimators.export import BATCH, GraphSpec, NetworkGraph, TensorSpec, ensemble_graph, network_hashes
from aekit.estimators.export_scores import ManifoldScoreGraph, manifold_graph

# The encoded values of a table are standardized: the export's probes draw them from this range.
ENCODED_RANGE = (-3.0, 3.0)


class TableDetectorGraph(nn.Module):
    """(encoded x, observed mask) → (anomaly score float64, label int64), as the detector scores a table."""

    def __init__(self, model: nn.Module, imputable: torch.Tensor, score: str, threshold: float, passes: int,
                 manifold: ManifoldScoreGraph | None = None):
        super().__init__()
        self.model = model
        self.score = score
        self.manifold = manifold
        self.passes = int(passes)
        self.register_buffer("imputable", imputable.to(torch.float32))  # 0 for the missing-indicator features
        self.register_buffer("threshold", torch.tensor(float(threshold), dtype=torch.float64))

    def forward(self, x: torch.Tensor, observed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        obs = observed.to(torch.float32)
        recon, model_input = self.model(x), x
        fill = (1.0 - obs) * self.imputable
        for _ in range(self.passes):  # a complete row's input does not change, so neither does its reconstruction
            model_input = fill * recon + (1.0 - fill) * x
            recon = self.model(model_input)
        sq = (x.double() - recon.double()) ** 2 * obs.double()
        if self.score == "max":
            score = sq.amax(1)
        else:
            count = obs.double().sum(1)
            score = torch.where(count > 0, sq.sum(1) / count.clamp(min=1.0), torch.zeros_like(count))
            if self.manifold is not None:  # the code of the input the reconstruction came from
                score = self.manifold(score, self.model.encode(model_input), recon)
        return score, (score > self.threshold).to(torch.int64)


def _table_notes(encoder) -> dict:
    return {
        "value_range": list(ENCODED_RANGE),
        "input_columns": [s.name for s in encoder.columns_],
        "features": [str(f) for f in encoder.get_feature_names_out()],
        "table_encoder": encoder.to_json(),
        "preprocessing": ("the model was fitted on a table: encode it first with "
                          "aekit.data.tabular.TableEncoder.from_json(metadata['table_encoder']).transform(df), which "
                          "gives x (the encoded values) and observed (the cells that held a value); columns are "
                          "matched by name"),
    }


def table_network_spec(est, part: str, model: nn.Module) -> GraphSpec:
    """The encoder, decoder or autoencoder of an AutoEncoder fitted on a table, on encoded rows."""
    cfg, encoder = est.model_config_, est.table_encoder_
    x = TensorSpec("x", [BATCH, cfg.n_features], "float32", "the encoded table (see 'table_encoder')")
    code = [BATCH, cfg.code_size]
    if part == "decoder":
        return GraphSpec(part, NetworkGraph(model, part, (cfg.n_features,)),
                         [TensorSpec("z", code, "float32", "codes")],
                         [TensorSpec("x", x.shape, "float32", "decoded rows, encoded")], _table_notes(encoder))
    if part == "autoencoder":
        return GraphSpec(part, NetworkGraph(model, part, ()), [x],
                         [TensorSpec("reconstruction", x.shape, "float32", "the reconstruction of the encoded rows")],
                         _table_notes(encoder))
    return GraphSpec(part, NetworkGraph(model, part, ()), [x],
                     [TensorSpec("code", code, "float32", "the codes (AutoEncoder.transform)")], _table_notes(encoder))


def table_detector_spec(det, models: list[nn.Module], passes: int) -> GraphSpec:
    """A detector fitted on a table: (encoded x, observed) → (score, label); `models`: its networks
    (frozen copies), which share one column encoding."""
    encoder = det.table_encoder_
    n = det.estimator_.model_config_.n_features
    imputable = torch.tensor([role != "missing" for role in encoder.feature_roles_])
    inputs = [TensorSpec("x", [BATCH, n], "float32", "the encoded table (see 'table_encoder')"),
              TensorSpec("observed", [BATCH, n], "bool", "True where the encoded cell held a value")]
    outputs = [TensorSpec("score", [BATCH], "float64", "anomaly score over the observed cells (decision_function)"),
               TensorSpec("label", [BATCH], "int64", "1 = anomaly (score > threshold), 0 = normal (predict)")]
    notes = {**_table_notes(encoder), "score": det.score_, "n_estimators": len(models),
             "threshold": float(det.threshold_), "threshold_source": str(getattr(det, "threshold_source_", "")),
             "impute_passes": int(passes), **network_hashes(models)}
    graphs = [TableDetectorGraph(model, imputable, det.score_, det.threshold_, passes, manifold_graph(det, k))
              for k, model in enumerate(models)]
    return GraphSpec("detector", ensemble_graph(graphs, det), inputs, outputs, notes)


__all__ = ["ENCODED_RANGE", "TableDetectorGraph", "table_detector_spec", "table_network_spec"]
