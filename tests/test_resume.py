"""A training run killed with SIGKILL mid-epoch resumes from its checkpoint and ends with
exactly the weights of a run that was never interrupted; until then its directory is
refused as a model, and a new run will not overwrite it without --resume."""
import json
import os
import shutil
import signal
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from newstag.checkpoint import ResumeError
from newstag.config import load_config
from newstag.modeldir import ModelDirError
from newstag.tagger import Tagger
from newstag.training import train

from conftest import tiny_config

KILL_AFTER_STEP = 3  # the tiny run takes 2 steps an epoch: step 3 is the middle of epoch 2
# No dev set: every epoch is then the best so far, so the final weights are those of the
# last epoch, which the resumed run trains, not epoch 1's, which it only carries over.
SETTINGS = ["training.num_threads=1", "dev=[]"]


def newstag_train(config, output, *extra, kill_after_step=None):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if kill_after_step:
        env["NEWSTAG_TEST_KILL_AFTER_STEP"] = str(kill_after_step)
    command = [sys.executable, "-m", "newstag.cli", "train", "--config", str(config), "--output", str(output),
               "--no-progress", *(a for s in SETTINGS for a in ("--set", s)), *extra]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finished(process):
    out, err = process.communicate(timeout=120)
    return process.returncode, out + err


def train_here(config, output, resume=False):
    threads = torch.get_num_threads()
    try:
        return train(load_config(config, SETTINGS), output, progress=False, log=lambda m: None, resume=resume)
    finally:
        torch.set_num_threads(threads)  # the run set one thread for the whole process


def assert_same_model(a, b):
    weights_a, weights_b = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    assert weights_a.keys() == weights_b.keys()
    for name in weights_a:
        assert torch.equal(weights_a[name], weights_b[name]), name
    assert (a / "linker.safetensors").read_bytes() == (b / "linker.safetensors").read_bytes()


@pytest.fixture(scope="module")
def runs(tmp_path_factory, corpus_files):
    """A run killed mid-epoch 2 (a copy kept as it was left) and then resumed, each in
    its own process, and an uninterrupted run with the same settings in this one (it
    trains in a second; a new process spends several importing)."""
    folder = tmp_path_factory.mktemp("resume")
    config = tiny_config(corpus_files, epochs=3, batch_size=4)
    killed = newstag_train(config, folder / "run", kill_after_step=KILL_AFTER_STEP)
    train_here(config, folder / "whole")
    code, output = finished(killed)
    assert code == -signal.SIGKILL, output
    shutil.copytree(folder / "run", folder / "killed")
    code, output = finished(newstag_train(config, folder / "run", "--resume"))
    assert code == 0, output
    return {"config": config, "whole": folder / "whole", "killed": folder / "killed", "resumed": folder / "run"}


def test_the_kill_came_mid_epoch_2_after_the_first_checkpoint(runs):
    state = json.loads((runs["killed"] / "checkpoint" / "state.json").read_text())["state"]
    assert state["epoch"] == 1 and state["step"] < KILL_AFTER_STEP < 2 * state["step"]


def test_a_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(runs):
    assert_same_model(runs["whole"], runs["resumed"])
    assert not (runs["resumed"] / "checkpoint").exists()


def test_a_run_killed_after_its_last_epoch_is_finished_by_resuming_it(runs, tmp_path, monkeypatch):
    """Killed after the last checkpoint, before the model reached OUTPUT: resuming trains
    no further epoch, and promotes the same model."""
    from newstag import checkpoint

    def killed_before_promotion(output):
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        patched.setattr(checkpoint, "finish", killed_before_promotion)
        with pytest.raises(KeyboardInterrupt):
            train_here(runs["config"], tmp_path / "run")
    assert not (tmp_path / "run" / "manifest.json").exists()
    train_here(runs["config"], tmp_path / "run", resume=True)
    assert_same_model(runs["whole"], tmp_path / "run")
    epochs = [json.loads(line)["epoch"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
              if json.loads(line)["event"] == "epoch"]
    assert epochs == [1, 2, 3]


def test_an_unfinished_run_is_refused_as_a_model_until_resumed(runs):
    assert not (runs["killed"] / "manifest.json").exists()
    with pytest.raises(ModelDirError, match="did not finish.*--resume"):
        Tagger.load(runs["killed"], device="cpu")
    Tagger.load(runs["resumed"], device="cpu")


def test_training_into_an_unfinished_run_without_resume_is_refused(runs):
    from newstag.cli import app

    before = sorted(p.name for p in (runs["killed"] / "checkpoint").iterdir())
    result = CliRunner().invoke(app, ["train", "--config", str(runs["config"]), "--output", str(runs["killed"]),
                                      "--no-progress"])
    assert result.exit_code == 2 and "--resume" in result.output
    assert isinstance(result.exception, SystemExit)  # a message, not a traceback
    assert sorted(p.name for p in (runs["killed"] / "checkpoint").iterdir()) == before


def test_each_run_in_metrics_has_its_own_id(runs):
    records = [json.loads(line) for line in (runs["resumed"] / "metrics.jsonl").read_text().splitlines()]
    starts = [r for r in records if r["event"] == "start"]
    assert len(starts) == 2 and starts[0]["run"] != starts[1]["run"]
    assert "resumed_from_epoch" not in starts[0] and starts[1]["resumed_from_epoch"] == 1
    assert all(r["run"] in (starts[0]["run"], starts[1]["run"]) for r in records)
    # The resumed run repeats none of the killed run's epochs, and each has the loss of the uninterrupted run.
    epochs = [(r["epoch"], r["loss"], r["run"]) for r in records if r["event"] == "epoch"]
    assert [e[2] for e in epochs] == [starts[0]["run"], starts[1]["run"], starts[1]["run"]]
    whole = [json.loads(line) for line in (runs["whole"] / "metrics.jsonl").read_text().splitlines()]
    assert [e[:2] for e in epochs] == [(r["epoch"], r["loss"]) for r in whole if r["event"] == "epoch"]


def test_resume_asks_for_the_config_the_run_started_with(runs):
    changed = load_config(runs["config"], SETTINGS + ["training.epochs=4", "training.device=auto"])
    with pytest.raises(ResumeError, match=r"training\.epochs: 3 → 4") as refused:
        train(changed, runs["killed"], progress=False, log=lambda m: None, resume=True)
    assert "training.device" not in str(refused.value).split("(only")[0]


def test_a_finished_run_has_nothing_to_resume(runs):
    with pytest.raises(ResumeError, match="already finished"):
        train(load_config(runs["config"], SETTINGS), runs["resumed"], progress=False, log=lambda m: None, resume=True)
