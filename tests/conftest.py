"""Shared fixtures: a few original articles in markup, and a tiny random model config."""
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from newstag.corpus.markup import compile_article

ARTICLES = {
    "t1": """Port strike spreads to {LOC Valparaíso}

{LOC SANTIAGO}, May 2 ({ORG AFP}) – <q1 direct>“We will stay out until the contracts are signed,”</q1> <s1>union leader {PER Inés Ñáñez}</s1> <c1>told</c1> reporters on Tuesday. <q1 direct>“Not one crane moves.”</q1>

<s2 ref="Inés Ñáñez">She</s2> <c2>said</c2> <q2 mixed>that the port authority's offer was “an insult”</q2>.

<c3>According to</c3> <s3>a company spokesman</s3>, <q3 indirect>talks will resume on Friday in {LOC Santiago}</q3>.""",
    "t2": """Council approves new tram line

{LOC LEEDS}, June 9 – The {ORG Leeds City Council} voted on Monday to build a tram line to the airport.

<q1 direct>"This is the biggest decision we have taken in a generation,"</q1> <c1>said</c1> <s1>council leader {PER Harriet Okonjo}</s1>.

<s2>The {ORG Green Party}, which opposed the plan</s2>, <c2>argued</c2> <q2 indirect>that the money should go to buses</q2>.""",
    "t3": """Drought cuts harvest in {LOC Punjab}

{LOC NEW DELHI}, Sept 14 ({ORG Reuters}) – <q1 indirect>Wheat output in {LOC Punjab} will fall by a fifth this year</q1>, <s1>the {ORG Ministry of Agriculture}</s1> <c1>said</c1> on Thursday.

<s2>{PER Rajiv Malhotra}</s2>, a farmer near {LOC Ludhiana}, <c2>was blunt</c2>. <q2 direct>“The canal has been dry since March.”</q2>

<s3 ref="Rajiv Malhotra">He</s3> <c3>added</c3> <q3 indirect>that many of his neighbours had sold their cattle</q3>.""",
    "t4": """Museum returns bronze to {LOC Benin}

{LOC BERLIN}, Nov 20 – The {ORG Ethnological Museum} handed back a bronze plaque on Wednesday, a move <s1>{MISC German}  officials</s1> <c1>described</c1> as <q1 mixed>“long overdue”</q1>.

<q2 direct>“It was taken by force and it goes home with dignity,”</q2> <c2>said</c2> <s2>{PER Klaus Müller}</s2>, the museum's director.
{PER Müller}'s statement follows years of talks with {MISC Nigerian} officials.""",
}


@pytest.fixture(scope="session")
def gold_docs():
    return [compile_article(k, v) for k, v in ARTICLES.items()]


@pytest.fixture(scope="session")
def corpus_files(tmp_path_factory, gold_docs):
    from newstag.document import write_jsonl

    folder = tmp_path_factory.mktemp("corpus")
    write_jsonl(gold_docs, folder / "train.jsonl")
    write_jsonl(gold_docs[:2], folder / "dev.jsonl")
    return folder


def tiny_config(folder: Path, train: list | None = None, dev: list | None = None, **training) -> Path:
    """configs/tiny.yaml pointed at the fixture corpus in ``folder``, or at the given
    ``train`` / ``dev`` corpus entries; written into ``folder``."""
    repo = Path(__file__).resolve().parents[1]
    data = yaml.safe_load((repo / "configs" / "tiny.yaml").read_text())
    data["train"] = train or [{"name": "fixture", "path": str(folder / "train.jsonl")}]
    data["dev"] = dev or [{"name": "fixture", "path": str(folder / "dev.jsonl")}]
    data["training"].update(training)
    key = (tuple(sorted(training.items())), repr(data["train"]), repr(data["dev"]))
    path = folder / f"tiny-{abs(hash(key))}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, corpus_files):
    """A tiny model trained once for the whole session (seconds)."""
    from newstag.config import load_config
    from newstag.training import train

    out = tmp_path_factory.mktemp("model") / "tiny"
    train(load_config(tiny_config(corpus_files, epochs=2)), out, progress=False, log=lambda m: None)
    return out


def predict(model, *args, input=None):
    """`newstag predict --model MODEL ARGS...` in-process; the click Result."""
    from typer.testing import CliRunner

    from newstag.cli import app

    return CliRunner().invoke(app, ["predict", "--model", str(model), *map(str, args)], input=input)


@contextmanager
def interrupted_at_batch(n: int):
    """Inside the block, `predict` stops at its n-th batch as Ctrl-C or SIGTERM would stop it."""
    from newstag.predicting import PredictRun

    tag, calls = PredictRun._tag, []

    def stop(self, batch):
        calls.append(batch)
        if len(calls) == n:
            raise KeyboardInterrupt  # what Ctrl-C or SIGTERM raises in the loop
        return tag(self, batch)

    PredictRun._tag = stop
    try:
        yield
    finally:
        PredictRun._tag = tag
