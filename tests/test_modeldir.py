"""A model directory is complete and intact, or it is refused with what to do; older ones migrate."""
import json
import shutil
from pathlib import Path

import pytest

from newstag.modeldir import MANIFEST, ModelDirError
from newstag.model import NewstagModel
from newstag.tagger import Tagger

REFERENCE = Path(__file__).parent / "reference"


@pytest.fixture()
def model_dir(tmp_path):
    from test_model import tiny_model

    model, tokenizer = tiny_model(crf=True)
    model.save_pretrained(tmp_path / "m", tokenizer)
    return tmp_path / "m"


def test_a_directory_lists_every_file_it_holds_with_its_hash(model_dir):
    manifest = json.loads((model_dir / MANIFEST).read_text())
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(manifest["files"])
    assert all(len(digest) == 64 for digest in manifest["files"].values())
    NewstagModel.from_pretrained(model_dir)


def test_a_directory_others_can_read(model_dir):
    assert model_dir.stat().st_mode & 0o055 == 0o055
    assert all(f.stat().st_mode & 0o044 == 0o044 for f in model_dir.iterdir())


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / MANIFEST).unlink(), "incomplete"),
    (lambda d: (d / "model.safetensors").unlink(), "missing from the model directory"),
    (lambda d: (d / "model.safetensors").write_bytes(b"\0" * (d / "model.safetensors").stat().st_size),
     "altered or corrupted"),
    (lambda d: (d / "config.json").write_text("[]"), "altered or corrupted"),
    (lambda d: (d / MANIFEST).write_text('{"format_version": 99, "files": {}}'), "newer newstag"),
    (lambda d: (d / MANIFEST).write_text("{broken"), "manifest.json: unreadable"),
])
def test_a_damaged_or_unfinished_directory_is_refused_naming_the_file(model_dir, damage, message):
    damage(model_dir)
    with pytest.raises(ModelDirError, match=message):
        NewstagModel.from_pretrained(model_dir)


def test_a_missing_directory_is_named():
    with pytest.raises(ModelDirError, match="no such model directory"):
        NewstagModel.from_pretrained("/nonexistent/model")


def test_a_directory_of_format_1_is_migrated_and_predicts_as_before(tmp_path, gold_docs):
    """Saved by newstag before the manifest and the one-config layout (flat settings, one
    attribute per head); its predictions were recorded by the code that wrote it."""
    old = tmp_path / "v1"
    shutil.copytree(REFERENCE / "model-v1", old)
    tagger = Tagger.load(old, device="cpu")
    assert tagger.spec.model.crf and tagger.spec.model.context_lstm == 4
    expected = json.loads((REFERENCE / "model-v1-predictions.json").read_text())
    assert [json.loads(d.to_json()) for d in tagger.pipe(gold_docs)] == expected
