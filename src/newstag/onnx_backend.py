"""The ONNX Runtime backend: exporting what runs per window, and running it.

    newstag export --model DIR                 # writes DIR/model.onnx, DIR/model.int8.onnx, DIR/onnx.json
    Tagger.load(DIR, backend="onnx-int8")      # or predict --backend onnx-int8

The graph is the model's forward pass over a batch of windows (encoder, shape
embedding, BiLSTM, heads) ending in per-layer log-probabilities: exactly what
``tagger.TorchBackend`` returns. Viterbi decoding, span scores and linking stay in
Python, shared by every backend. ``pack_padded_sequence`` does not export, so the graph
runs the BiLSTM unpacked: the backward direction reads each window reversed within its
own length (``bilstm_unpacked``), which gives the packed LSTM's outputs at every real
position (tests/test_onnx.py checks the two against each other).

The export writes two graphs. The fp32 one, fused by ONNX Runtime's transformer
optimizer (attention, layer norm, GELU), is no backend: it measured no faster than torch
(BENCHMARKS.md, "Speed"), so it stays on disk only as the source the int8 graph is
quantised from and as the reference tests/test_onnx.py checks against torch. The int8
one, the ``onnx-int8`` backend, is its dynamically quantised copy (int8 weights of most
of the encoder's matrix multiplications, activations quantised per batch: ``_quantize``).
``onnx.json`` records the SHA-256 of the weights the export came from and of each graph:
a model retrained or altered after its export has a stale export, and loading one is
refused with what to do.
"""
from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .files import atomic_write, sha256_of, write_text
from .modeldir import MANIFEST, WEIGHTS, ModelDirError, read_manifest

RECORD = "onnx.json"
INSTALL = "pip install 'newstag[onnx]'"
# Each graph's name in onnx.json, and its file. Only INT8 is a backend (tagger.BACKENDS);
# FP32 keeps the name it had when it was one, so that older exports' records still read.
FP32, INT8 = "onnx", "onnx-int8"
GRAPHS = {FP32: "model.onnx", INT8: "model.int8.onnx"}
OPSET = 17


class BackendError(RuntimeError):
    """The ONNX backend cannot run here (a package missing), with what to do about it."""


def require(*packages: str) -> None:
    import importlib.util

    missing = [p for p in packages if importlib.util.find_spec(p) is None]
    if missing:
        raise BackendError(f"the ONNX backend needs {' and '.join(missing)}: {INSTALL}")


def bilstm_unpacked(lstm: nn.LSTM, forward_lstm: nn.LSTM, backward_lstm: nn.LSTM, hidden, attention_mask):
    """A bidirectional LSTM over padded windows without packing: the forward direction as
    it is (padding comes after the real positions), the backward one over each window
    reversed within its length, then put back in order. ``forward_lstm`` and
    ``backward_lstm`` are one-directional copies of ``lstm``'s two directions."""
    lengths = attention_mask.sum(1, keepdim=True)
    steps = torch.arange(hidden.size(1), device=hidden.device)[None]
    order = torch.where(steps < lengths, lengths - 1 - steps, steps)  # its own inverse
    hidden = hidden.to(lstm.weight_ih_l0.dtype)
    ahead, _ = forward_lstm(hidden)
    behind, _ = backward_lstm(hidden.gather(1, order[..., None].expand(-1, -1, hidden.size(-1))))
    behind = behind.gather(1, order[..., None].expand(-1, -1, behind.size(-1)))
    return torch.cat([ahead, behind], dim=-1)


def one_direction(lstm: nn.LSTM, suffix: str) -> nn.LSTM:
    """A one-directional LSTM with the weights of one direction of ``lstm`` ("" or "_reverse")."""
    single = nn.LSTM(lstm.input_size, lstm.hidden_size, batch_first=True)
    with torch.no_grad():
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            getattr(single, name).copy_(getattr(lstm, name + suffix))
    return single.eval()


class WindowGraph(nn.Module):
    """The model's forward pass with the LSTM unpacked, returning log-probabilities per
    layer in the model's layer order: the function the ONNX graph holds."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.layers = list(model.heads)
        if model.context is not None:
            self.ahead = one_direction(model.context, "")
            self.behind = one_direction(model.context, "_reverse")

    def forward(self, input_ids, attention_mask, shape_ids):
        m = self.model
        hidden = m.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if m.shape_embedding is not None:
            hidden = torch.cat([hidden, m.shape_embedding(shape_ids).to(hidden.dtype)], dim=-1)
        if m.context is not None:
            hidden = bilstm_unpacked(m.context, self.ahead, self.behind, hidden, attention_mask)
        return tuple(torch.log_softmax(m.heads[layer](hidden).float(), -1) for layer in self.layers)


def export(directory, log=print) -> dict:
    """Write the ONNX graphs of a model directory beside its weights: the fp32 graph, then
    the int8 graph quantised from it; the record written."""
    from .model import NewstagModel

    require("onnx", "onnxruntime")
    directory = Path(directory)
    model, _ = NewstagModel.from_pretrained(directory)  # checks the manifest: never export a damaged model
    model.eval()
    # Traced from the plain attention code: ONNX Runtime's optimizer fuses that into one Attention op.
    model.encoder.set_attn_implementation("eager")
    graph = WindowGraph(model).eval()
    record = {"weights_sha256": weights_hash(directory), "opset": OPSET, "layers": graph.layers, "graphs": {}}
    fp32, int8 = directory / GRAPHS[FP32], directory / GRAPHS[INT8]
    _export_graph(graph, fp32, model)
    log(f"wrote {fp32}")
    _quantize(fp32, int8)  # reads the fp32 graph from disk: it has to be written first
    log(f"wrote {int8}")
    for name, path in ((FP32, fp32), (INT8, int8)):
        record["graphs"][name] = {"file": path.name, "sha256": sha256_of(path)}
    from . import __version__

    record["newstag_version"] = __version__
    write_text(directory / RECORD, json.dumps(record, indent=2) + "\n")
    return record


def _export_graph(graph: WindowGraph, path: Path, model) -> None:
    """Trace the graph (batch and window length dynamic), then fuse it with ONNX Runtime's
    transformer optimizer; written whole or not at all."""
    import onnx
    from onnxruntime.transformers.optimizer import optimize_model

    example = (torch.ones(2, 8, dtype=torch.long), torch.ones(2, 8, dtype=torch.long), torch.zeros(2, 8, dtype=torch.long))
    names = ["input_ids", "attention_mask", "shape_ids"]
    axes = {name: {0: "windows", 1: "positions"} for name in names}
    axes |= {layer: {0: "windows", 1: "positions"} for layer in graph.layers}
    traced = path.with_name(f".{path.name}.traced")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # The tracer's notes on Python conditionals and LSTM batch sizes hold for this
            # graph (tests/test_onnx.py runs it on other batch sizes and window lengths).
            warnings.simplefilter("ignore")
            torch.onnx.export(graph, example, str(traced), input_names=names, output_names=graph.layers,
                              dynamic_axes=axes, opset_version=OPSET, dynamo=False)
        config = model.encoder.config
        fused = optimize_model(str(traced), model_type="bert", num_heads=config.num_attention_heads,
                               hidden_size=config.hidden_size)
        with atomic_write(path, "wb") as fh:
            fh.write(fused.model.SerializeToString())
        onnx.checker.check_model(str(path))
    finally:
        traced.unlink(missing_ok=True)


def _quantize(source: Path, path: Path) -> None:
    """Dynamic int8 quantisation of the encoder's attention and of its feed-forward input
    projections: int8 weights with one scale per output channel, activations quantised
    per batch. Left fp32: the heads (tiny, and they decide the tags) and each layer's
    feed-forward output projection, whose input (after GELU) has the outliers that int8
    rounds worst. Measured on PolNeAR dev: with those projections in int8 too, speaker
    F1 fell 0.66 and attribution exact 0.54; without, at most 0.3 on any headline figure
    (BENCHMARKS.md)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    kept = [n.name for n in onnx.load(str(source), load_external_data=False).graph.node
            if n.op_type == "MatMul" and (not n.name.startswith("/encoder/") or _feed_forward_output(n.name))]
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        # The fused graph has ONNX Runtime's own ops, whose outputs shape inference cannot
        # type: they are float tensors.
        logging.disable(logging.WARNING)  # its advice to pre-process is for static quantisation
        quantize_dynamic(str(source), str(tmp), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul", "Attention"], nodes_to_exclude=kept,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        tmp.replace(path)
    finally:
        logging.disable(logging.NOTSET)
        tmp.unlink(missing_ok=True)


def _feed_forward_output(node: str) -> bool:
    """A transformer layer's feed-forward output projection, as the tracer names it
    (``/encoder/encoder/layer.3/output/dense/MatMul``; the attention's is ``.../attention/output/...``)."""
    return "/output/dense/" in node and "/attention/" not in node


def weights_hash(directory: Path) -> str:
    """The SHA-256 of the model's weights: the manifest's (loading checked the file against
    it already: hashing 100 MB again would double a cold start's I/O), else computed."""
    recorded = read_manifest(directory)["files"].get(WEIGHTS) if (directory / MANIFEST).is_file() else None
    return recorded or sha256_of(directory / WEIGHTS)


def checked_graph(directory, graph: str) -> Path:
    """The file of a graph (INT8, the backend's; FP32, the tests' reference) in a model
    directory, refused when it is missing, altered, or exported from other weights than
    the directory holds now."""
    directory = Path(directory)
    how = f"`newstag export --model {directory}`"  # writes both graphs, whichever is wanted
    record_path = directory / RECORD
    if not record_path.is_file():
        raise ModelDirError(f"{directory}: no ONNX export; write one with {how}")
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        entry = record["graphs"].get(graph)
        weights = record["weights_sha256"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelDirError(f"{record_path}: unreadable ({exc}); export again with {how}") from None
    if entry is None:
        # An export from before every export was quantised (`--int8` was an option then).
        raise ModelDirError(f"{directory}: the ONNX export has no {graph} graph; write it with {how}")
    if weights != weights_hash(directory):
        raise ModelDirError(f"{directory}: the ONNX export is stale (made from other weights than "
                            f"{WEIGHTS} holds now); export again with {how}")
    path = directory / entry["file"]
    if not path.is_file() or sha256_of(path) != entry["sha256"]:
        raise ModelDirError(f"{path}: missing or altered since the export; export again with {how}")
    return path


class OnnxBackend:
    """A window batch through an ONNX Runtime session: the same in and out as TorchBackend."""

    def __init__(self, graph: Path, threads: int | None = None):
        require("onnxruntime")
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        self.layers = [output.name for output in self.session.get_outputs()]  # one per layer, named by it

    def __call__(self, batch: dict) -> dict[str, np.ndarray]:
        feed = {name: batch[name].cpu().numpy() for name in ("input_ids", "attention_mask", "shape_ids")}
        return dict(zip(self.layers, self.session.run(self.layers, feed)))
