"""Where a loaded sentence-transformers model runs: PyTorch, ONNX Runtime or OpenVINO, at a chosen precision.

The model is always loaded by sentence-transformers, which keeps doing everything around the network:
prompts, tokenising, batching by length, pooling, normalising. Another runtime replaces only the forward
pass of its first module (the transformer), which is where the time goes. That transformer is exported once
to ONNX (``torch.onnx.export``; a model directory that ships ``onnx/model.onnx`` is used as it is) into a
folder keyed by the weights' fingerprint, so a changed model is exported again and an unchanged one never is;
int8 is ONNX Runtime's dynamic quantisation of that file. Everything works offline.

optimum (what sentence-transformers' own ``backend="onnx"`` uses) is not used: it pins transformers below
the version sentence-transformers needs here.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import numpy as np

from dgs_core.exceptions import ConfigurationError, PluginError

#: The precisions each runtime runs at. bf16 needs a CPU with bf16 instructions (AVX512-BF16 or AMX) to be fast.
PRECISIONS: dict[str, tuple[str, ...]] = {"torch": ("fp32", "bf16"), "onnx": ("fp32", "int8"),
                                          "openvino": ("fp32", "bf16")}
#: What to install for each runtime (the extras of dgs-sentence-transformers).
EXTRAS = {"onnx": "onnx", "openvino": "openvino"}
#: Lowest cosine similarity between two runtimes' vectors of :data:`PROBE_TEXTS` for them to count as one
#: vector space (an index built by one is searched and extended by the other without a rebuild). fp32 and bf16
#: runs of all-MiniLM-L6-v2 agree above 0.9999; int8 falls to about 0.987, which moves rankings.
AGREEMENT = 0.9995
#: Texts both runtimes embed to measure their agreement: short and long, several languages, names and numbers.
PROBE_TEXTS = (
    "Stairway to Heaven", "AC/DC - Highway to Hell (Rock, 1979)", "symphony no. 5 in C minor, op. 67",
    "Ich liebe dich", "¿Dónde está la biblioteca?", "東京の天気", "Миша и медведь",
    "A quiet album of acoustic guitar ballads about leaving home and coming back years later.",
    "Invoice 2024-0042: 3 tracks, total 2.97 USD, paid by credit card.",
    "jazz", "The quick brown fox jumps over the lazy dog. " * 12,
    "Composer: Johann Sebastian Bach; performer: Glenn Gould; genre: Classical; media: MPEG audio file",
)


def check(runtime: str, precision: str) -> Optional[str]:
    """What is wrong with RUNTIME and PRECISION (``{runtime}``/``{precision}`` placeholders), or None."""
    if runtime not in PRECISIONS:
        return f"{{runtime}} is {runtime!r}; use 'torch', 'onnx' or 'openvino'."
    if precision not in PRECISIONS[runtime]:
        others = [name for name, precisions in PRECISIONS.items() if precision in precisions]
        hint = f" ({precision} runs on {' or '.join(others)})" if others else ""
        return (f"{{precision}} is {precision!r}, which the {runtime} runtime does not offer{hint}; "
                f"use {' or '.join(repr(p) for p in PRECISIONS[runtime])}.")
    return None


def label(runtime: str, precision: str) -> str:
    """How embedder ids name a runtime: ``""`` for PyTorch at fp32 (ids from before runtimes existed)."""
    return "" if (runtime, precision) == ("torch", "fp32") else f"{runtime}-{precision}"


def agreement(vectors: np.ndarray, others: np.ndarray) -> float:
    """The lowest cosine similarity between matching rows of two runs."""
    def unit(rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.float64)
        return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    return float((unit(vectors) * unit(others)).sum(axis=1).min())


def run_on(model: Any, runtime: str, precision: str, export_folder: Optional[str], model_name: str) -> None:
    """Make ``model`` (a loaded ``SentenceTransformer``) run its transformer on ``runtime`` at ``precision``."""
    transformer = model[0]
    if (runtime, precision) == ("torch", "fp32"):
        return
    if runtime == "torch":
        transformer.forward = _autocast(transformer.forward)
        return
    _require_text_transformer(transformer, model_name, runtime)
    path = onnx_file(transformer, model_name, export_folder, precision)
    _release_weights(transformer.model)
    infer = _onnxruntime(path) if runtime == "onnx" else _openvino(path, precision)
    transformer.forward = _forward(infer, transformer.module_output_name, one_by_one=precision == "int8")


def _autocast(forward: Callable[..., dict]) -> Callable[..., dict]:
    import torch

    def forward_in_bf16(features: dict, **kwargs: Any) -> dict:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            features = forward(features, **kwargs)
        features["token_embeddings"] = features["token_embeddings"].float()
        return features
    return forward_in_bf16


def _release_weights(network: Any) -> None:
    """Free PyTorch's copy of the weights, which the other runtime holds now (the module stays, on its device)."""
    import torch

    for parameter in network.parameters():
        parameter.data = torch.empty(0, dtype=parameter.dtype, device=parameter.device)


def _forward(infer: Callable[[dict[str, np.ndarray]], np.ndarray], output_name: str, one_by_one: bool
             ) -> Callable[..., dict]:
    """The transformer's forward pass on ``infer``; ``one_by_one``: each text alone, without padding.

    Dynamic int8 quantisation scales activations per call: run on a whole batch, a text's vector would
    depend on its neighbours and their padding (cosine 0.986 to itself alone). Alone it is the same in any
    batch, and as fast: there is no padding to compute.
    """
    import torch

    def forward(features: dict, **_kwargs: Any) -> dict:
        feeds = {name: value.numpy() for name, value in features.items() if isinstance(value, torch.Tensor)}
        if one_by_one:
            hidden = None
            for row, mask in enumerate(feeds["attention_mask"]):
                tokens = np.flatnonzero(mask)
                window = slice(int(tokens[0]), int(tokens[-1]) + 1)  # padding is on one side
                alone = infer({name: value[row:row + 1, window] for name, value in feeds.items()})
                if hidden is None:
                    hidden = np.zeros((len(feeds["attention_mask"]), mask.shape[0], alone.shape[-1]), np.float32)
                hidden[row, window] = alone[0]
        else:
            hidden = infer(feeds)
        features[output_name] = torch.from_numpy(np.ascontiguousarray(hidden, dtype=np.float32))
        return features
    return forward


def _require_text_transformer(transformer: Any, model_name: str, runtime: str) -> None:
    text = (getattr(transformer, "modality_config", None) or {}).get("text") or {}
    if (type(transformer).__name__ != "Transformer" or text.get("method") != "forward"
            or text.get("method_output_name") != "last_hidden_state"):
        raise ConfigurationError(
            f"MODEL_NAME {model_name!r} does not begin with a text transformer returning token embeddings, the "
            f"only kind the {runtime} runtime can take over; use RUNTIME 'torch' for this model."
        )


def _threads() -> int:
    # The same number of threads as torch, which follows OMP_NUM_THREADS and torch.set_num_threads.
    import torch

    return max(1, torch.get_num_threads())


def _onnxruntime(path: Path) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
    ort = _import("onnxruntime", "onnx")
    settings = ort.SessionOptions()
    settings.intra_op_num_threads = _threads()
    settings.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), settings, providers=["CPUExecutionProvider"])
    names = [node.name for node in session.get_inputs()]
    return lambda feeds: session.run(None, {name: feeds[name] for name in names})[0]


def _openvino(path: Path, precision: str) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
    openvino = _import("openvino", "openvino")
    core = openvino.Core()
    # OpenVINO picks bf16 by itself on CPUs that have it: ask for what was configured instead. A CPU without
    # bf16 runs fp32, whose vectors agree with bf16's (AGREEMENT), so the id's "bf16" stays true enough.
    bf16 = precision == "bf16" and "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    compiled = core.compile_model(str(path), "CPU", {
        "INFERENCE_NUM_THREADS": _threads(),
        "INFERENCE_PRECISION_HINT": "bf16" if bf16 else "f32",
        "PERFORMANCE_HINT": "LATENCY",
        # Pinned threads wait for their core when other processes use it: on a shared machine, much slower.
        "ENABLE_CPU_PINNING": False,
    })
    names = [node.get_any_name() for node in compiled.inputs]
    request = compiled.create_infer_request()
    return lambda feeds: request.infer({name: feeds[name] for name in names})[0].copy()


def _import(module: str, extra: str) -> Any:
    try:
        return __import__(module)
    except ImportError as exc:
        raise PluginError(
            f"RUNTIME {extra!r} of the 'sentence-transformers' embedder needs {module} ({exc}). "
            f'Run: pip install "dgs-sentence-transformers[{extra}]"'
        ) from exc


def onnx_file(transformer: Any, model_name: str, export_folder: Optional[str], precision: str) -> Path:
    """The ONNX file of ``transformer`` at ``precision`` ("fp32" for bf16, which the runtime applies),
    exported (and quantised) on first use."""
    shipped = Path(os.path.expanduser(model_name), "onnx", "model.onnx")
    folder = Path(export_folder or _default_export_folder()) / _folder_name(transformer, model_name)
    full = shipped if shipped.is_file() else folder / "model.onnx"
    if not full.is_file():
        _export(transformer, full)
    if precision != "int8":
        return full
    quantised = folder / "model_int8.onnx"
    if not quantised.is_file():
        _quantise(full, quantised)
    return quantised


def _default_export_folder() -> str:
    from huggingface_hub import constants

    return os.path.join(constants.HF_HOME, "dgs-exports")


def _folder_name(transformer: Any, model_name: str) -> str:
    """The model's last path part and a fingerprint of its weights and configuration."""
    import torch

    digest = hashlib.blake2b(digest_size=10)
    digest.update(transformer.model.config.to_json_string().encode())
    for name, tensor in sorted(transformer.model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(dtype=torch.uint8).numpy())
    readable = re.sub(r"[^\w.-]+", "_", os.path.basename(os.path.normpath(model_name)))[:60]
    return f"{readable}-{digest.hexdigest()}"


def _export(transformer: Any, target: Path) -> None:
    import torch

    sample = transformer.preprocess(["an example text to trace", "short"])
    names = [name for name, value in sample.items() if isinstance(value, torch.Tensor)]

    class LastHiddenState(torch.nn.Module):
        def __init__(self, network: torch.nn.Module) -> None:
            super().__init__()
            self.network = network

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.network(**dict(zip(names, inputs, strict=True)), return_dict=True).last_hidden_state

    target.parent.mkdir(parents=True, exist_ok=True)
    _import("onnx", "onnx")
    # Written beside the target and renamed: processes exporting at once never read a half-written file.
    handle, partial = tempfile.mkstemp(suffix=".onnx.partial", dir=target.parent)
    os.close(handle)
    try:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer notes about constants that are constant for this network
            torch.onnx.export(
                LastHiddenState(transformer.model).eval(), tuple(sample[name] for name in names), partial,
                input_names=names, output_names=["last_hidden_state"],
                dynamic_axes={**{name: {0: "batch", 1: "sequence"} for name in names},
                              "last_hidden_state": {0: "batch", 1: "sequence"}},
                opset_version=17, dynamo=False,
            )
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


def _quantise(source: Path, target: Path) -> None:
    _import("onnx", "onnx")
    from onnxruntime.quantization import QuantType, quantize_dynamic

    handle, partial = tempfile.mkstemp(suffix=".onnx.partial", dir=target.parent)
    os.close(handle)
    try:
        quantize_dynamic(source, partial, weight_type=QuantType.QInt8, per_channel=True)
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
