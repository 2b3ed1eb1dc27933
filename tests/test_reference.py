"""A refactoring must not change what newstag computes.

The reference was recorded before the structure work: two tiny models trained at a
fixed seed on the fixture articles (one plain, one with CRF heads, a BiLSTM and the
learned linker fitted on its own spans), each model's weights (a hash per tensor) and
its predictions, and both linkers' figures on the gold spans of a frozen copy of the
v1 newswire dev split. Every refactoring step leaves all of it identical. A change
that alters training on purpose rewrites the reference in its own commit:

    NEWSTAG_UPDATE_REFERENCE=1 python -m pytest tests/test_reference.py
"""
import hashlib
import json
import os
from pathlib import Path

import pytest
import torch

from conftest import tiny_config

REFERENCE = Path(__file__).parent / "reference"
UPDATE = os.environ.get("NEWSTAG_UPDATE_REFERENCE") == "1"
EXTRA_TEXTS = [
    "GENEVA, Jan 3 – “We are ready,” said Ada Brandt, the council's envoy. She added that talks would go on.",
    "",
    "No quotes here, only the Red Cross and Lake Malawi.",
]
VARIANTS = {
    "plain": {},
    "crf-lstm-predicted": {"model.crf": True, "model.context_lstm": 16, "model.linker": "learned",
                           "model.linker_spans": "predicted"},
}


def compare_or_record(name: str, value):
    path = REFERENCE / f"{name}.json"
    if UPDATE:
        path.write_text(json.dumps(value, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert json.loads(path.read_text(encoding="utf-8")) == value, f"{name} differs from tests/reference/{name}.json"


def tensor_hashes(model) -> list[str]:
    """One hash per weight tensor (dtype, shape and bytes), sorted: names may change, values may not."""
    out = []
    for tensor in model.state_dict().values():
        t = tensor.detach().cpu().contiguous()
        out.append(hashlib.sha256(f"{t.dtype}{tuple(t.shape)}".encode() + t.numpy().tobytes()).hexdigest()[:16])
    return sorted(out)


@pytest.fixture(scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the reference was recorded on one thread: sums reduce in one order
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_training_and_prediction_are_unchanged(variant, tmp_path, corpus_files, gold_docs, one_thread):
    from newstag.config import load_config
    from newstag.tagger import Tagger
    from newstag.training import train

    overrides = [f"{k}={json.dumps(v)}" for k, v in VARIANTS[variant].items()]
    config = load_config(tiny_config(corpus_files, epochs=2), overrides)
    summary = train(config, tmp_path / "m", progress=False, log=lambda m: None)
    tagger = Tagger.load(tmp_path / "m", device="cpu")
    docs = list(tagger.pipe(gold_docs + EXTRA_TEXTS, batch_size=2))
    compare_or_record(f"{variant}-weights", tensor_hashes(tagger.model))
    compare_or_record(f"{variant}-predictions", [json.loads(d.to_json()) for d in docs])
    compare_or_record(f"{variant}-dev", summary["dev"])


def test_linker_figures_on_gold_spans_are_unchanged():
    from newstag.document import read_jsonl
    from newstag.evaluation import evaluate
    from newstag.linking import load_linker, relink
    from newstag.linking.learned import LearnedLinker

    gold = read_jsonl(REFERENCE / "newswire-dev-v1.jsonl")
    learned = LearnedLinker()
    learned.fit(gold, seed=13)
    figures = {name: evaluate(gold, [relink(d, linker) for d in gold])["quotes"]
               for name, linker in (("rule", load_linker("rule")), ("learned", learned))}
    compare_or_record("linker-figures", figures)
