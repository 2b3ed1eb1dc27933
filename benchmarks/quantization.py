"""Which int8 quantisation keeps the model's accuracy: dynamic quantisation variants of
one exported fp32 graph, each scored on the same data, side by side with torch.

    newstag export --model MODEL
    python benchmarks/quantization.py --model MODEL --data data/newswire/dev.jsonl [--variants a,b] [--out FILE]

Each variant is ``onnxruntime.quantization.quantize_dynamic`` of MODEL/model.onnx with
other settings (weight type, one scale per tensor or per output channel, reduce_range,
nodes left fp32); the tagger decodes and links as always, uncalibrated (calibration
changes scores, not spans). Words/s are on one thread and only indicative: the figures
that count are benchmarks/speed.py's. The variant ``onnx_backend._quantize`` ships is
``per-channel, heads and FFN output fp32``.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from emit import emit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def variants(graph) -> dict[str, dict]:
    from onnxruntime.quantization import QuantType

    from newstag.onnx_backend import _feed_forward_output

    matmuls = [n.name for n in graph.node if n.op_type == "MatMul"]
    heads = [n for n in matmuls if not n.startswith("/encoder/")]
    ffn_out = [n for n in matmuls if _feed_forward_output(n)]
    s8, u8 = QuantType.QInt8, QuantType.QUInt8
    return {
        "per-tensor s8": dict(weight_type=s8),
        "per-tensor u8": dict(weight_type=u8),
        "per-tensor s8, reduce_range, heads fp32": dict(weight_type=s8, reduce_range=True, nodes_to_exclude=heads),
        "per-channel s8, reduce_range": dict(weight_type=s8, per_channel=True, reduce_range=True),
        "per-channel s8, heads fp32": dict(weight_type=s8, per_channel=True, nodes_to_exclude=heads),
        "per-channel u8, heads fp32": dict(weight_type=u8, per_channel=True, nodes_to_exclude=heads),
        "per-channel s8, heads and FFN output fp32": dict(weight_type=s8, per_channel=True,
                                                          nodes_to_exclude=heads + ffn_out),
        "per-channel s8, heads fp32, attention fp32": dict(weight_type=s8, per_channel=True, nodes_to_exclude=heads,
                                                           op_types_to_quantize=["MatMul"]),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--variants", help="comma-separated names (default: all)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    import onnx
    import torch
    from onnxruntime.quantization import quantize_dynamic

    from newstag.document import read_jsonl
    from newstag.evaluation import evaluate, headline
    from newstag.onnx_backend import FP32, GRAPHS, OnnxBackend
    from newstag.tagger import Tagger

    torch.set_num_threads(1)
    docs = read_jsonl(args.data)
    words = sum(len(d.text.split()) for d in docs)
    tagger = Tagger.load(args.model, device="cpu", calibrated=False)

    def score() -> dict:
        started = time.perf_counter()
        found = list(tagger.pipe(docs, batch_size=32))
        seconds = time.perf_counter() - started
        report = evaluate(docs, found)
        row = headline(report)
        if report.get("quotes"):
            row["attribution_exact_f1"] = report["quotes"]["attribution_exact"]["f1"]
        return row | {"words_per_second_1_thread": round(words / seconds)}

    result = {"date": time.strftime("%Y-%m-%d %H:%M"), "model": str(args.model), "data": str(args.data),
              "figures": {"torch": score()}}
    source = args.model / GRAPHS[FP32]  # the fp32 graph every export writes beside the int8 one
    chosen = variants(onnx.load(str(source), load_external_data=False).graph)
    names = args.variants.split(",") if args.variants else list(chosen)
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            settings = {"op_types_to_quantize": ["MatMul", "Attention"], **chosen[name]}
            target = Path(tmp) / "variant.onnx"
            quantize_dynamic(str(source), str(target), extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
                             **settings)
            tagger.backend = OnnxBackend(target, threads=1)
            result["figures"][name] = score()
            print(name, result["figures"][name], file=sys.stderr, flush=True)
    emit(result, args.out)


if __name__ == "__main__":
    main()
