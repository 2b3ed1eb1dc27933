"""Training in two CPU processes (accelerate, DDP over gloo): the same losses as one
process with the same global batch, one model directory written once, the world size on
record, and a run killed mid-epoch resumed in two processes ends as the uninterrupted
one did. Each multi-process run is a real launch (`newstag train --processes 2`, or
torchrun), as a user would start it."""
import json
import os
import random
import shutil
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from newstag.checkpoint import ResumeError
from newstag.config import load_config
from newstag.runtime import LaunchError
from newstag.tagger import Tagger
from newstag.training import KILL_AFTER_STEP as KILL_AFTER_STEP_VARIABLE, labelled_words, my_parts, share_of_step, train

from conftest import tiny_config

KILL_AFTER_STEP = 3  # 8 windows in steps of 6 make 2 steps an epoch (6 windows, then 2): step 3 is mid-epoch 2
EPOCHS = 5  # step 10, the first with a step record (loss and gradient norm), is the last
# Without dropout (ours and the encoder's) one process and two compute the same steps:
# only the order of the sums differs.
SETTINGS = ["model.dropout=0", "model.encoder.from_config.hidden_dropout_prob=0",
            "model.encoder.from_config.attention_probs_dropout_prob=0"]




def launch(*command, kill_after_step=None):
    """``python -m COMMAND...`` in a new process (which starts the training processes)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop(KILL_AFTER_STEP_VARIABLE, None)
    if kill_after_step:
        env[KILL_AFTER_STEP_VARIABLE] = str(kill_after_step)
    return subprocess.Popen([sys.executable, "-m", *command], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def train_args(config, output, *extra):
    return ["train", "--config", str(config), "--output", str(output), "--no-progress",
            *(a for s in SETTINGS for a in ("--set", s)), *extra]


def finished(process):
    out, err = process.communicate(timeout=180)
    return process.returncode, out + err


def train_here(config, output, *settings, **kwargs):
    threads = torch.get_num_threads()
    try:
        return train(load_config(config, SETTINGS + list(settings)), output, progress=False, log=lambda m: None,
                     **kwargs)
    finally:
        torch.set_num_threads(threads)


def records(output, event):
    lines = (output / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["event"] == event]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, corpus_files):
    """Two runs in two processes, one killed after step 3 (a copy kept as it was left)
    and resumed, in two processes again, by torchrun; a run in one process, here,
    meanwhile."""
    folder = tmp_path_factory.mktemp("distributed")
    config = tiny_config(corpus_files, epochs=EPOCHS, batch_size=6)
    killed = launch("newstag.cli", *train_args(config, folder / "run", "--processes", "2"),
                    kill_after_step=KILL_AFTER_STEP)
    train_here(config, folder / "one")
    code, output = finished(killed)
    assert code == 128 + 9 and "training process" in output and "killed by SIGKILL" in output, output
    shutil.copytree(folder / "run", folder / "killed")
    whole = launch("newstag.cli", *train_args(config, folder / "two", "--processes", "2"))
    code, output = finished(whole)
    assert code == 0, output
    resumed = launch("torch.distributed.run", "--standalone", "--nproc-per-node=2", "-m", "newstag.cli",
                     *train_args(config, folder / "run", "--resume"))
    code, output = finished(resumed)
    assert code == 0, output
    return {"config": config, "one": folder / "one", "two": folder / "two", "killed": folder / "killed",
            "resumed": folder / "run"}


def test_two_processes_have_the_losses_of_one_with_the_same_global_batch(runs):
    one, two = records(runs["one"], "epoch"), records(runs["two"], "epoch")
    assert [r["epoch"] for r in two] == list(range(1, EPOCHS + 1))  # logged once, by the main process
    for a, b in zip(one, two):
        assert abs(b["loss"] - a["loss"]) <= 0.02 * abs(a["loss"]), (a["loss"], b["loss"])
    assert two[-1]["loss"] < two[0]["loss"]
    # The gradient too is the whole step's (Adam and clipping would hide a gradient twice as large).
    (a,), (b,) = records(runs["one"], "step"), records(runs["two"], "step")
    assert a["step"] == b["step"] == 10 and abs(b["grad_norm"] - a["grad_norm"]) <= 0.02 * a["grad_norm"]


def test_the_start_event_records_the_world_size(runs):
    assert [r["world_size"] for r in records(runs["one"], "start")] == [1]
    assert [r["world_size"] for r in records(runs["two"], "start")] == [2]
    assert [r["world_size"] for r in records(runs["resumed"], "start")] == [2, 2]


def test_exactly_one_complete_model_directory_is_left_and_it_loads(runs):
    out = runs["two"]
    assert [p.name for p in out.parent.iterdir() if out.name in p.name] == [out.name]  # nothing staged or set aside
    assert not [p for p in out.iterdir() if p.is_dir()]  # the checkpoint went when the model was promoted
    assert len(records(out, "start")) == len(records(out, "end")) == 1  # written once, by the main process
    assert (out / "dev_report.json").is_file() and "calibration" in json.loads((out / "manifest.json").read_text())
    tagger = Tagger.load(out, device="cpu")
    text = "“We hold,” said Olena Kovalenko in Kyiv."
    assert all(text[s.start:s.end] == s.text for _, s in tagger(text).spans())


def test_the_kill_came_mid_epoch_2_after_a_checkpoint_of_both_processes(runs):
    saved = json.loads((runs["killed"] / "checkpoint" / "state.json").read_text())
    assert saved["processes"] == 2 and saved["state"]["epoch"] == 1
    assert saved["state"]["step"] < KILL_AFTER_STEP < 2 * saved["state"]["step"]
    assert (runs["killed"] / "checkpoint" / "rng.safetensors").is_file()
    assert (runs["killed"] / "checkpoint" / "rng.1.safetensors").is_file()


def test_a_run_resumed_in_two_processes_ends_as_the_uninterrupted_one(runs):
    whole, resumed = runs["two"], runs["resumed"]
    weights_a, weights_b = load_file(str(whole / "model.safetensors")), load_file(str(resumed / "model.safetensors"))
    assert weights_a.keys() == weights_b.keys()
    for name in weights_a:
        assert torch.equal(weights_a[name], weights_b[name]), name
    epochs = [(r["epoch"], r["loss"]) for r in records(resumed, "epoch")]
    assert epochs == [(r["epoch"], r["loss"]) for r in records(whole, "epoch")]
    assert records(resumed, "start")[1]["resumed_from_epoch"] == 1
    assert not (resumed / "checkpoint").exists()


def test_resuming_in_another_number_of_processes_is_refused(runs, tmp_path):
    shutil.copytree(runs["killed"], tmp_path / "run")
    with pytest.raises(ResumeError, match=r"2 processes.*--processes 2, not 1"):
        train_here(runs["config"], tmp_path / "run", resume=True)


def test_a_launcher_that_started_another_number_of_processes_is_refused(runs, tmp_path):
    """`accelerate launch --cpu --num_processes 2` starts one process: the run says so."""
    with pytest.raises(LaunchError, match="asked for 2 processes, but the launcher started 1"):
        train_here(runs["config"], tmp_path / "m", processes=2)
    assert not (tmp_path / "m").exists()


def test_a_batch_that_the_processes_cannot_split_is_refused_before_any_starts(runs, tmp_path):
    from newstag.cli import app

    result = CliRunner().invoke(app, train_args(runs["config"], tmp_path / "m", "--processes", "2",
                                                "--set", "training.batch_size=5"))
    assert result.exit_code == 2 and "training.batch_size 5 cannot be split evenly over 2 processes" in result.output
    assert isinstance(result.exception, SystemExit)  # a message, not a traceback
    assert not (tmp_path / "m").exists()


def test_gradient_accumulation_trains_the_same_steps(runs, tmp_path):
    """Three micro-batches a step (the short last step of 2 windows leaves one empty)."""
    train_here(runs["config"], tmp_path / "m", "training.grad_accumulation=3")
    for event in ("epoch", "step"):
        for a, b in zip(records(runs["one"], event), records(tmp_path / "m", event), strict=True):
            assert a["step"] == b["step"] and abs(b["loss"] - a["loss"]) <= 1e-4 * abs(a["loss"])
    (a,), (b,) = records(runs["one"], "step"), records(tmp_path / "m", "step")
    assert abs(b["grad_norm"] - a["grad_norm"]) <= 1e-4 * a["grad_norm"]


def test_the_parts_of_a_step_cover_it_once_and_their_losses_add_up_to_its_loss():
    rng = random.Random(0)
    rows = [{"entities": [rng.choice([-100, 0, 1]) for _ in range(rng.randrange(1, 9))],
             "quotes": [rng.choice([-100, -100, 2]) for _ in range(5)]} for _ in range(7)]
    for processes, accumulation in ((1, 1), (2, 1), (2, 2), (3, 3)):
        parts = [part for p in range(processes) for part in my_parts(rows, p, processes, accumulation)]
        assert len(parts) == processes * accumulation
        assert sorted(id(r) for part in parts for r in part) == sorted(id(r) for r in rows)
        step = labelled_words(rows)
        # A layer's loss is a mean over the labelled words: a per-word loss of 1 means 1 for the step.
        total = sum(sum(share_of_step({k: torch.tensor(1.0) for k in step}, labelled_words(part), step).values())
                    for part in parts)
        assert total.item() == pytest.approx(sum(1.0 for k in step if step[k]))
