"""The ONNX Runtime backend: `newstag export` writes an fp32 graph that tags as the PyTorch
model does (no backend a user picks: it is loaded here through onnx_backend itself) and
the int8 graph quantised from it, which loads and tags as the onnx-int8 backend; exports
that no longer match their model are refused."""
import json
import shutil

import numpy as np
import pytest
import torch
import yaml

from conftest import predict, tiny_config

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def lstm_model(tmp_path_factory, corpus_files):
    """A tiny model with what the default has between encoder and heads (BiLSTM, CRF), exported to ONNX."""
    from newstag.config import load_config
    from newstag.onnx_backend import export
    from newstag.training import train

    folder = tmp_path_factory.mktemp("onnx")
    data = yaml.safe_load(tiny_config(corpus_files, epochs=1).read_text())
    data["model"].update(context_lstm=8, crf=True)
    config = folder / "lstm.yaml"
    config.write_text(yaml.safe_dump(data))
    out = folder / "model"
    train(load_config(config), out, progress=False, log=lambda m: None)
    export(out, log=lambda m: None)
    return out


def fp32_tagger(model_dir):
    """A tagger that runs the fp32 graph: the torch tagger (same calibration, same decoding)
    with its forward pass swapped for an ONNX Runtime session on model.onnx."""
    from newstag.onnx_backend import FP32, OnnxBackend, checked_graph
    from newstag.tagger import Tagger

    tagger = Tagger.load(model_dir, device="cpu")
    tagger.backend = OnnxBackend(checked_graph(model_dir, FP32))
    return tagger


def copy_of(model, tmp_path):
    target = tmp_path / "model"
    shutil.copytree(model, target)
    return target


def test_the_unpacked_bilstm_gives_the_packed_outputs_at_every_real_position():
    from newstag.model import run_lstm
    from newstag.onnx_backend import bilstm_unpacked, one_direction

    torch.manual_seed(0)
    lstm = torch.nn.LSTM(6, 5, batch_first=True, bidirectional=True).eval()
    lengths = torch.tensor([9, 1, 4, 9, 6])
    hidden = torch.randn(len(lengths), 9, 6)
    mask = (torch.arange(9)[None] < lengths[:, None]).long()
    with torch.no_grad():
        packed = run_lstm(lstm, hidden, mask)
        unpacked = bilstm_unpacked(lstm, one_direction(lstm, ""), one_direction(lstm, "_reverse"), hidden, mask)
    for row, n in enumerate(lengths):
        assert torch.allclose(unpacked[row, :n], packed[row, :n], atol=1e-6)


def test_the_fp32_graph_tags_as_the_torch_model_does(lstm_model, gold_docs):
    from newstag.tagger import Tagger

    by_torch = list(Tagger.load(lstm_model, device="cpu").pipe(gold_docs))
    by_onnx = list(fp32_tagger(lstm_model).pipe(gold_docs))
    for a, b in zip(by_torch, by_onnx):
        assert [(e.start, e.end, e.label) for e in a.entities] == [(e.start, e.end, e.label) for e in b.entities]
        assert [(q.start, q.end, q.kind) for q in a.quotes] == [(q.start, q.end, q.kind) for q in b.quotes]
        assert [e.score for e in a.entities] == pytest.approx([e.score for e in b.entities], abs=1e-4)


def test_the_int8_graph_gives_log_probabilities_close_to_fp32(lstm_model, gold_docs):
    from newstag.tagger import Tagger

    fp32, int8 = fp32_tagger(lstm_model), Tagger.load(lstm_model, backend="onnx-int8")
    pieces, windows = fp32.preprocess(gold_docs)
    for a, b in zip(fp32.forward(pieces, windows), int8.forward(pieces, windows)):
        for layer in a:
            assert np.allclose(np.exp(a[layer]).sum(1), 1, atol=1e-4) and np.allclose(np.exp(b[layer]).sum(1), 1, atol=1e-4)
            assert np.abs(np.exp(a[layer]) - np.exp(b[layer])).max() < 0.1


def test_an_export_is_refused_once_the_weights_change(lstm_model, tmp_path):
    from newstag.model import NewstagModel
    from newstag.modeldir import ModelDirError
    from newstag.onnx_backend import FP32, checked_graph
    from newstag.tagger import Tagger

    model_dir = copy_of(lstm_model, tmp_path)
    model, tokenizer = NewstagModel.from_pretrained(model_dir)
    with torch.no_grad():
        next(iter(model.heads.values())).bias.add_(1.0)
    model.save_pretrained(model_dir, tokenizer)  # the export's files are carried over, now stale
    with pytest.raises(ModelDirError, match="stale.*newstag export"):
        Tagger.load(model_dir, backend="onnx-int8")
    with pytest.raises(ModelDirError, match="stale.*newstag export"):
        checked_graph(model_dir, FP32)  # the tests' reference is checked alike


def test_an_altered_graph_is_refused(lstm_model, tmp_path):
    from newstag.modeldir import ModelDirError
    from newstag.tagger import Tagger

    model_dir = copy_of(lstm_model, tmp_path)
    with open(model_dir / "model.int8.onnx", "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ModelDirError, match="altered"):
        Tagger.load(model_dir, backend="onnx-int8")


def test_predict_with_the_int8_backend_writes_every_article(lstm_model, tmp_path, gold_docs):
    from newstag.document import read_jsonl, write_jsonl

    write_jsonl(gold_docs, tmp_path / "in.jsonl")
    result = predict(lstm_model, tmp_path / "in.jsonl", "--output", tmp_path / "int8.jsonl",
                     "--backend", "onnx-int8", "--threads", "1")
    assert result.exit_code == 0, result.output
    assert [d.id for d in read_jsonl(tmp_path / "int8.jsonl")] == [d.id for d in gold_docs]


def test_the_fp32_graph_is_no_backend(lstm_model, tmp_path):
    """It measured no faster than torch (BENCHMARKS.md, "Speed"): exported, yet refused by
    name, with the backends there are, in one line."""
    from newstag.tagger import Tagger

    with pytest.raises(ValueError, match="backend must be one of torch, onnx-int8, not 'onnx'"):
        Tagger.load(lstm_model, backend="onnx")
    (tmp_path / "a.txt").write_text("The minister said it would rain.")
    result = predict(lstm_model, tmp_path / "a.txt", "--backend", "onnx")
    assert result.exit_code == 2 and "backend must be one of torch, onnx-int8" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_predict_with_a_backend_never_exported_says_how_to_export(tiny_model, tmp_path):
    (tmp_path / "a.txt").write_text("The minister said it would rain.")
    result = predict(tiny_model, tmp_path / "a.txt", "--backend", "onnx-int8")
    assert result.exit_code == 2
    assert "no ONNX export" in result.output and f"`newstag export --model {tiny_model}`" in result.output
    assert "Traceback" not in result.output


def test_an_unknown_backend_is_a_usage_error(tiny_model, tmp_path):
    (tmp_path / "a.txt").write_text("The minister said it would rain.")
    result = predict(tiny_model, tmp_path / "a.txt", "--backend", "tensorrt")
    assert result.exit_code == 2 and "backend must be one of torch, onnx-int8" in result.output


def test_the_export_command_writes_both_graphs_and_the_weights_they_came_from(tiny_model, tmp_path):
    from typer.testing import CliRunner

    from newstag.cli import app
    from newstag.files import sha256_of

    model_dir = copy_of(tiny_model, tmp_path)
    result = CliRunner().invoke(app, ["export", "--model", str(model_dir)])
    assert result.exit_code == 0, result.output
    record = json.loads((model_dir / "onnx.json").read_text())
    assert record["weights_sha256"] == sha256_of(model_dir / "model.safetensors")
    # Always both: the int8 graph (the backend) and the fp32 graph it was quantised from.
    assert set(record["graphs"]) == {"onnx", "onnx-int8"}
    assert all(sha256_of(model_dir / g["file"]) == g["sha256"] for g in record["graphs"].values())
    assert CliRunner().invoke(app, ["export", "--model", str(tmp_path / "nowhere")]).exit_code == 2


def test_calibration_is_kept_per_backend(lstm_model, tmp_path, corpus_files):
    from typer.testing import CliRunner

    from newstag.cli import app
    from newstag.modeldir import read_calibration

    model_dir = copy_of(lstm_model, tmp_path)
    torch_maps = read_calibration(model_dir, "torch")
    result = CliRunner().invoke(app, ["calibrate", "--model", str(model_dir), "--data", str(corpus_files / "dev.jsonl"),
                                      "--backend", "onnx-int8"])
    assert result.exit_code == 0, result.output
    assert read_calibration(model_dir, "onnx-int8")
    assert read_calibration(model_dir, "torch") == torch_maps  # the torch maps are left as they were
