"""Layer-wise pretraining of a deep MLP autoencoder, then the caller fine-tunes it end to end.

Two methods, both from the source tutorials (stacked autoencoders, Vincent et al. 2010; and stacked RBMs, Hinton & Salakhutdinov 2006):

* ``greedy``: one shallow autoencoder per encoder layer, each trained on the codes of the layer
  below (Bengio et al. 2007; with noise it is Vincent et al.'s stacked denoising autoencoder).
  Layer i's shallow autoencoder is *made of the deep model's own layers* — encoder layer i and
  its mirror in the decoder — so training it trains the deep model in place, and "assembling the
  stack" needs no copying; tied weights stay tied.
* ``rbm``: one restricted Boltzmann machine per layer trained with CD-k (Hinton & Salakhutdinov
  2006): Gaussian visible units for standardized real-valued input, Bernoulli for [0, 1] input
  and for the logistic layers above, linear hidden units for a linear code. Each RBM's weights
  are unrolled into encoder layer i (W, hidden bias) and the decoder's mirror layer (Wᵀ, visible
  bias).

The next layer is always trained on the *clean* codes of the layer below (Vincent et al.).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from aekit.errors import ConfigError
from aekit.models.losses import parse_sparsity, reconstruction_loss
from aekit.nn.layers import activation
from aekit.nn.rbm import RBM
from aekit.train import rbm as rbm_training
from aekit.train.trainer import TrainConfig, Trainer

PRETRAIN_METHODS = ("greedy", "rbm")
# pretrain epochs "auto": enough epochs per layer for this many updates, within [10, 50] (10 was the
# fixed default: on the digits, 10 epochs of 12 RBM updates each left the stack 2.7× PCA's error;
# benchmarks/RESULTS.md "Defaults on small data"). 50 is H&S's epochs per RBM on MNIST.
AUTO_PRETRAIN_UPDATES = 600
AUTO_PRETRAIN_EPOCHS = (10, 50)
RBM_BATCH_SIZE = 100  # H&S's mini-batch


def auto_pretrain_epochs(n_rows: int, batch_size: int) -> int:
    """Pretraining epochs per layer for ``pretrain_epochs="auto"``: as many as give 600 updates,
    kept within [10, 50].

    Parameters
    ----------
    n_rows : int
        Training rows (at least 1).
    batch_size : int
        Rows per update (capped at `n_rows`).

    Returns
    -------
    int
        Between 10 and 50.

    Examples
    --------
    >>> auto_pretrain_epochs(1131, 100), auto_pretrain_epochs(1131, 32), auto_pretrain_epochs(55_000, 128)
    (50, 17, 10)
    >>> auto_pretrain_epochs(10, 100)
    50
    """
    n, b = max(1, int(n_rows)), max(1, int(batch_size))
    updates_per_epoch = -(-n // min(b, n))
    lo, hi = AUTO_PRETRAIN_EPOCHS
    return int(min(hi, max(lo, -(-AUTO_PRETRAIN_UPDATES // updates_per_epoch))))


@dataclass
class PretrainConfig:
    """How to pretrain: method, epochs per layer and (for RBMs) the CD settings.

    lr=None: the fine-tuning learning rate for greedy layers, H&S's 0.1 / 0.001 for RBMs.
    epochs="auto": per layer, from the data's size (`auto_pretrain_epochs`).
    """

    method: str
    epochs: int | str = "auto"
    lr: float | None = None
    batch_size: int | None = None  # None: the fine-tuning batch size (RBMs: 100, as H&S)
    cd_k: int = 1
    persistent: bool = False

    def __post_init__(self) -> None:
        if self.method not in PRETRAIN_METHODS:
            raise ConfigError(f"unknown pretrain method {self.method!r}; choose one of {', '.join(PRETRAIN_METHODS)}")
        if self.epochs != "auto":
            try:
                ok = int(self.epochs) >= 1 and int(self.epochs) == float(self.epochs)
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise ConfigError(f"pretrain_epochs must be an integer ≥ 1 or 'auto', got {self.epochs!r}")
        if self.lr is not None and not float(self.lr) > 0:
            raise ConfigError(f"pretrain_lr must be > 0, got {self.lr}")
        if int(self.cd_k) < 1:
            raise ConfigError(f"cd_k (Gibbs steps per contrastive-divergence update) must be ≥ 1, got {self.cd_k}")

    def epochs_for(self, n_rows: int, batch_size: int) -> int:
        """Epochs per layer: the given number, or "auto" resolved for n_rows and batch_size."""
        return auto_pretrain_epochs(n_rows, batch_size) if self.epochs == "auto" else int(self.epochs)


class LayerAutoEncoder(nn.Module):
    """Encoder layer i + its mirror decoder layer, trained as a shallow autoencoder on the codes
    of the layer below. The modules are the deep model's own (shared, not copied)."""

    def __init__(self, enc: nn.Module, enc_act: nn.Module, dec: nn.Module, out_act: nn.Module, *,
                 loss: str, noise=None, sparsity=None, value_range=(0.0, 1.0), image_shape=None, pre=None):
        super().__init__()
        self.enc, self.enc_act, self.dec, self.out_act = enc, enc_act, dec, out_act
        self.loss, self.noise, self.sparsity = loss, noise, sparsity
        self.value_range, self.image_shape = value_range, image_shape
        # layer 1 sees the data: noise is applied in data space (as the deep model does), then
        # `pre` (the model's flattening + standardization) maps input and target to model space
        self.pre = pre if pre is not None else (lambda x: x)
        self.n_features = enc.in_features

    def _terms(self, x_in: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        x_in, target = self.pre(x_in), self.pre(target)
        code = self.enc_act(self.enc(x_in))
        logits = self.dec(code)
        lo, hi = self.value_range
        recon = reconstruction_loss(self.loss, logits, self.out_act(logits), target, self.image_shape,
                                    data_range=(hi - lo) or 1.0)
        terms = {"loss": recon, "recon": recon}
        if self.sparsity is not None:
            penalty = self.sparsity.penalty(code)
            terms["sparsity"] = penalty
            terms["loss"] = recon + penalty / self.n_features  # as AutoEncoderModel: β keeps its usual meaning (Ng's notes)
        return terms

    def training_terms(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        x_in = self.noise(x, rng=generator, value_range=self.value_range) if self.noise is not None else x
        return self._terms(x_in, x)

    def validation_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self._terms(x, x)


def _layers(model) -> tuple[list[nn.Linear], list[nn.Module], list[nn.Module]]:
    """Encoder linear layers, their activations, and the decoder's linear layers (mirror order);
    an MLP model (check_pretrain has said so)."""
    enc = list(model.encoder)
    dec = [m for m in model.decoder if isinstance(m, nn.Linear) or hasattr(m, "_source")]
    return enc[0::2], enc[1::2], dec


def _codes(layer: nn.Linear, act: nn.Module, X: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([act(layer(X[s : s + batch_size])) for s in range(0, len(X), batch_size)]) if len(X) else X


def check_pretrain(model_config, pretrain: PretrainConfig) -> None:
    """Clear errors for configurations a method cannot pretrain (before any training starts)."""
    if model_config.arch != "mlp":
        raise ConfigError("layer-wise pretraining is implemented for arch='mlp' (dense layers) only")
    if pretrain.method == "rbm":
        if model_config.activation != "sigmoid":
            raise ConfigError(
                "pretrain='rbm' needs activation='sigmoid': an RBM's binary hidden units are logistic units "
                f"(got activation={model_config.activation!r})"
            )
        if model_config.code_activation not in ("linear", "sigmoid"):
            raise ConfigError("pretrain='rbm' needs a linear (Gaussian top RBM) or sigmoid code activation")
        if not model_config.standardize and model_config.output_activation != "sigmoid":
            raise ConfigError("pretrain='rbm' on data in [0, 1] needs output_activation='sigmoid' (Bernoulli visible units)")
        if model_config.standardize and model_config.output_activation != "linear":
            raise ConfigError("pretrain='rbm' on real-valued data needs output_activation='linear' (Gaussian visible units)")


def pretrain(model, X: torch.Tensor, X_val: torch.Tensor | None, config: PretrainConfig,
             train_config: TrainConfig) -> list[dict]:
    """Pretrain `model` (an MLP AutoEncoderModel) in place, layer by layer; returns the history
    rows of every layer (stages ``pretrain-1``… or ``rbm-1``…)."""
    check_pretrain(model.config, config)
    device = torch.device(train_config.device)
    X = X.to(device).reshape(len(X), -1)
    X_val = None if X_val is None or len(X_val) == 0 else X_val.to(device).reshape(len(X_val), -1)
    if config.method == "greedy":  # the first layer corrupts the data itself, in data space
        return _greedy(model, X, X_val, config, train_config)
    H = model.to_model_space(X).detach()
    H_val = None if X_val is None else model.to_model_space(X_val).detach()
    return _rbm(model, H, H_val, config, train_config)


def _greedy(model, H, H_val, config: PretrainConfig, train_config: TrainConfig) -> list[dict]:
    mc = model.config
    enc, acts, dec = _layers(model)
    sparsity = parse_sparsity(mc.sparsity)
    history: list[dict] = []
    n_layers = len(enc)
    for i in range(n_layers):
        mirror = dec[n_layers - 1 - i]
        pre, image_shape = None, None
        if i == 0:  # reconstructs the data: the model's own output activation, loss and input mapping
            out_act, loss, value_range = model.output_activation, mc.loss, mc.value_range
            pre, image_shape = model.to_model_space, mc.image_shape
        else:  # reconstructs the codes below, as the deep decoder does: through the hidden activation
            out_act = activation(mc.activation)
            loss = "mse" if mc.loss == "ssim" or (mc.loss == "bce" and mc.activation != "sigmoid") else mc.loss
            value_range = (float(H.min()), float(H.max())) if len(H) else (0.0, 1.0)
        layer_act_name = mc.activation if i < n_layers - 1 else mc.code_activation
        # kl needs units in (0, 1): apply it where the layer is logistic; l1 applies everywhere.
        layer_sparsity = sparsity if sparsity is not None and (sparsity.kind != "kl" or layer_act_name == "sigmoid") else None
        layer_ae = LayerAutoEncoder(enc[i], acts[i], mirror, out_act, loss=loss, noise=model.noise,
                                    sparsity=layer_sparsity, value_range=value_range, image_shape=image_shape,
                                    pre=pre)
        cfg = copy.deepcopy(train_config)
        cfg.lr = float(config.lr) if config.lr is not None else train_config.lr
        cfg.batch_size = int(config.batch_size or train_config.batch_size)
        cfg.epochs = config.epochs_for(len(H), cfg.batch_size)
        cfg.lr_schedule = None
        cfg.max_seconds = None
        cfg.seed = int(train_config.seed) + 1 + i
        trainer = Trainer(cfg, checkpoint_dir=None, stage=f"pretrain-{i + 1}")
        history += trainer.fit(layer_ae, H, H_val)
        if i < n_layers - 1:  # the next layer learns from the clean codes of this one
            H = _codes(enc[i], acts[i], layer_ae.pre(H))
            H_val = None if H_val is None else _codes(enc[i], acts[i], layer_ae.pre(H_val))
    return history


def _rbm(model, H, H_val, config: PretrainConfig, train_config: TrainConfig) -> list[dict]:
    mc = model.config
    enc, acts, dec = _layers(model)
    history: list[dict] = []
    n_layers = len(enc)
    batch = int(config.batch_size or RBM_BATCH_SIZE)
    for i in range(n_layers):
        visible = "gaussian" if i == 0 and mc.standardize else "bernoulli"
        top = i == n_layers - 1
        hidden = "linear" if top and mc.code_activation == "linear" else "bernoulli"
        with torch.random.fork_rng(devices=[]):  # seeded init, and the caller's global RNG is left alone
            torch.manual_seed(int(train_config.seed) + 1 + i)
            rbm = RBM(enc[i].in_features, enc[i].out_features, visible=visible, hidden=hidden).to(H.device)
        history += rbm_training.train_rbm(
            rbm, H, epochs=config.epochs_for(len(H), batch), batch_size=batch, lr=config.lr,
            k=int(config.cd_k), persistent=bool(config.persistent), seed=int(train_config.seed) + 1 + i,
            # persistent chains drift with momentum 0.9 (pseudo-likelihood -20 vs -15 on digits): keep 0.5
            momentum=(0.5, 0.5) if config.persistent else (0.5, 0.9),
            progress=train_config.progress, stage=f"rbm-{i + 1}", X_val=H_val,
        )
        mirror = dec[n_layers - 1 - i]
        with torch.no_grad():  # unroll: encoder gets (W, hidden bias), the decoder's mirror (Wᵀ, visible bias)
            enc[i].weight.copy_(rbm.weight)
            enc[i].bias.copy_(rbm.hidden_bias)
            if isinstance(mirror, nn.Linear):  # a tied layer already shares the encoder's W
                mirror.weight.copy_(rbm.weight.t())
            mirror.bias.copy_(rbm.visible_bias)
        if not top:
            H = _codes(enc[i], acts[i], H)
            H_val = None if H_val is None else _codes(enc[i], acts[i], H_val)
    return history


__all__ = ["AUTO_PRETRAIN_EPOCHS", "AUTO_PRETRAIN_UPDATES", "PRETRAIN_METHODS", "LayerAutoEncoder", "PretrainConfig",
           "auto_pretrain_epochs", "check_pretrain", "pretrain"]
