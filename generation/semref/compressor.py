"""SemanticGen's token compressor: a light MLP from encoder tokens to a low-dimensional Gaussian.

As the paper describes it (no code or weights are public): each high-dimensional semantic token is
mapped by a small MLP to the mean and log-variance of a Gaussian of ``latent_dim`` dimensions
(8 was the paper's best), sampled with the reparameterisation trick, and decoded back; the loss is
reconstruction plus ``kl_weight`` times KL(q(z|x) || N(0, I)). The KL term keeps the latent space
smooth and near a unit Gaussian, which is what lets a diffusion model generate in it.

Choices the paper leaves open, made here and stored in the config: tokens are standardised per
dimension with the training set's mean and std before the MLP (so one ``kl_weight`` means the same
for every encoder); the reconstruction term is the mean squared error over token elements in those
standardised units (so the mean baseline scores 1.0 on the training data); the KL is summed over
latent dimensions and averaged over tokens; one hidden GELU layer each way.

torch is imported inside the functions that need it, so the CLI starts fast.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vidsearch.atomic import atomic_path
from vidsearch.generation.errors import GenerationError

COMPRESSOR_SCHEMA = "vidsearch.semref-compressor/1"
WEIGHTS_FILE = "compressor.safetensors"
CONFIG_FILE = "compressor.json"


@dataclass(frozen=True)
class CompressorConfig:
    """Architecture + training settings (all stored with the weights)."""

    latent_dim: int = 8
    hidden_dim: int = 256
    kl_weight: float = 1e-3
    epochs: int = 200
    batch_size: int = 1024
    lr: float = 1e-3
    holdout: float = 0.2  # share of segments kept out of training for the reported figures
    seed: int = 0

    def __post_init__(self) -> None:
        if self.latent_dim < 1 or self.hidden_dim < 1:
            raise GenerationError(f"--dim and the hidden size must be >= 1 (got {self.latent_dim}, {self.hidden_dim})")
        if self.kl_weight < 0:
            raise GenerationError(f"--kl-weight must be >= 0, got {self.kl_weight}")
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise GenerationError(
                f"need epochs >= 1, batch size >= 1, lr > 0 (got {self.epochs}, {self.batch_size}, {self.lr})"
            )
        if not 0 <= self.holdout < 1:
            raise GenerationError(f"--holdout must be in [0, 1), got {self.holdout}")


@dataclass(frozen=True)
class TokenSource:
    """What the compressor was trained on: it only fits tokens made the same way."""

    encoder: str
    weights_id: str
    token_dim: int
    grid: int
    fps: float
    resize: str = "stretch"


def _build_module(token_dim: int, cfg: CompressorConfig):
    import torch
    from torch import nn

    class GaussianTokenCompressor(nn.Module):
        """x (.., D) -> (mean, logvar) (.., d) -> reconstruction (.., D), on standardised tokens."""

        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.Sequential(
                nn.Linear(token_dim, cfg.hidden_dim), nn.GELU(), nn.Linear(cfg.hidden_dim, 2 * cfg.latent_dim)
            )
            self.decoder = nn.Sequential(
                nn.Linear(cfg.latent_dim, cfg.hidden_dim), nn.GELU(), nn.Linear(cfg.hidden_dim, token_dim)
            )
            self.register_buffer("token_mean", torch.zeros(token_dim))
            self.register_buffer("token_std", torch.ones(token_dim))

        def standardise(self, x: torch.Tensor) -> torch.Tensor:
            return (x - self.token_mean) / self.token_std

        def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            mean, logvar = self.encoder(self.standardise(x)).chunk(2, dim=-1)
            return mean, logvar

        def decode(self, z: torch.Tensor) -> torch.Tensor:
            """Back to the encoder's token space (un-standardised)."""
            return self.decoder(z) * self.token_std + self.token_mean

    return GaussianTokenCompressor()


def kl_to_unit_gaussian(mean, logvar):
    """KL(N(mean, exp(logvar)) || N(0, I)) per token, summed over latent dimensions."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)


@dataclass
class Compressor:
    """A trained compressor: the torch module, its settings and where its tokens come from."""

    module: Any
    config: CompressorConfig
    source: TokenSource
    metrics: dict[str, Any] = field(default_factory=dict)
    path: str | None = None

    def encode(self, tokens: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
        """(.., D) tokens -> ``latent`` (a reparameterised sample, seeded), ``latent_mean``, ``latent_logvar``."""
        import torch

        self._check_dim(tokens)
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(tokens, dtype=np.float32))
            mean, logvar = self.module.encode(x)
            gen = torch.Generator().manual_seed(seed)
            eps = torch.randn(mean.shape, generator=gen)
            z = mean + (0.5 * logvar).exp() * eps
        return {"latent": z.numpy(), "latent_mean": mean.numpy(), "latent_logvar": logvar.numpy()}

    def reconstruct(self, tokens: np.ndarray) -> np.ndarray:
        """Tokens through the latent mean and back (what the metrics measure)."""
        import torch

        self._check_dim(tokens)
        with torch.inference_mode():
            mean, _ = self.module.encode(torch.from_numpy(np.ascontiguousarray(tokens, dtype=np.float32)))
            return self.module.decode(mean).numpy()

    def _check_dim(self, tokens: np.ndarray) -> None:
        if tokens.shape[-1] != self.source.token_dim:
            raise GenerationError(
                f"tokens of dimension {tokens.shape[-1]} do not fit this compressor (trained on "
                f"{self.source.token_dim}-d tokens of {self.source.encoder})"
            )

    def save(self, out_dir: str | os.PathLike) -> Path:
        """Weights (safetensors) + config JSON into ``out_dir``, each written atomically."""
        from safetensors.torch import save_file

        out = Path(out_dir)
        if out.exists() and not out.is_dir():
            raise GenerationError(f"{out}: exists and is not a folder")
        out.mkdir(parents=True, exist_ok=True)
        with atomic_path(out / WEIGHTS_FILE, suffix=".safetensors") as tmp:
            save_file({k: v.detach().cpu().contiguous() for k, v in self.module.state_dict().items()}, str(tmp))
        doc = {
            "schema": COMPRESSOR_SCHEMA,
            "config": asdict(self.config),
            "source": asdict(self.source),
            "metrics": self.metrics,
        }
        with atomic_path(out / CONFIG_FILE, suffix=".json") as tmp:
            tmp.write_text(json.dumps(doc, indent=2))
        self.path = str(out.resolve())
        return out


def load_compressor(path: str | os.PathLike) -> Compressor:
    """A compressor saved by :meth:`Compressor.save` (the folder, or its ``compressor.json``)."""
    from safetensors.torch import load_file

    folder = Path(path)
    if folder.name == CONFIG_FILE:
        folder = folder.parent
    cfg_path, weights = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    if not cfg_path.is_file() or not weights.is_file():
        raise GenerationError(
            f"{folder}: no trained compressor here (needs {CONFIG_FILE} and {WEIGHTS_FILE}); "
            f"run `vidsearch semref train-compressor`"
        )
    try:
        doc = json.loads(cfg_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise GenerationError(f"{cfg_path}: unreadable compressor config ({exc})") from exc
    if doc.get("schema") != COMPRESSOR_SCHEMA:
        raise GenerationError(f"{cfg_path}: schema {doc.get('schema')!r} is not {COMPRESSOR_SCHEMA!r}")
    config, source = CompressorConfig(**doc["config"]), TokenSource(**doc["source"])
    module = _build_module(source.token_dim, config)
    module.load_state_dict(load_file(str(weights)))
    return Compressor(module.eval(), config, source, doc.get("metrics", {}), str(folder.resolve()))


def fit_compressor(
    train_tokens: np.ndarray, config: CompressorConfig, source: TokenSource, device: str = "cpu", log=None
) -> Compressor:
    """Train on (n, D) tokens; ``log(epoch, loss, recon, kl)`` is called about 10 times."""
    import torch

    if len(train_tokens) < 2:
        raise GenerationError(f"need at least 2 training tokens, got {len(train_tokens)}")
    dev = torch.device(device)
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(config.seed)
        module = _build_module(source.token_dim, config)
        x = torch.from_numpy(np.ascontiguousarray(train_tokens, dtype=np.float32))
        module.token_mean.copy_(x.mean(0))
        module.token_std.copy_(x.std(0).clamp_min(1e-6))
        module.to(dev).train()
        x = x.to(dev)
        opt = torch.optim.Adam(module.parameters(), lr=config.lr)
        for epoch in range(config.epochs):
            order = torch.randperm(len(x), device=dev)
            for start in range(0, len(x), config.batch_size):
                batch = x[order[start : start + config.batch_size]]
                mean, logvar = module.encode(batch)
                z = mean + (0.5 * logvar).exp() * torch.randn_like(mean)
                recon = (module.decoder(z) - module.standardise(batch)).pow(2).mean()
                kl = kl_to_unit_gaussian(mean, logvar).mean()
                loss = recon + config.kl_weight * kl
                opt.zero_grad()
                loss.backward()
                opt.step()
            if log is not None and (epoch + 1) % max(1, config.epochs // 10) == 0:
                log(epoch + 1, loss.item(), recon.item(), kl.item())
    return Compressor(module.cpu().eval(), config, source)


def reconstruction_metrics(compressor: Compressor, tokens: np.ndarray) -> dict[str, float]:
    """On (n, D) tokens, in the compressor's standardised units: the reconstruction MSE (through
    the latent mean), the MSE of predicting the training mean (the baseline to beat), their ratio,
    and the mean KL per token."""
    import torch

    with torch.inference_mode():
        x = torch.from_numpy(np.ascontiguousarray(tokens, dtype=np.float32))
        target = compressor.module.standardise(x)
        mean, logvar = compressor.module.encode(x)
        recon = (compressor.module.decoder(mean) - target).pow(2).mean().item()
        baseline = target.pow(2).mean().item()
        kl = kl_to_unit_gaussian(mean, logvar).mean().item()
    return {
        "recon_mse": recon,
        "mean_baseline_mse": baseline,
        "recon_vs_baseline": recon / max(baseline, 1e-12),
        "kl": kl,
    }
