"""Training checkpoints: what a run needs to continue after a crash, when it may, and
how the finished model reaches OUTPUT.

    OUTPUT/checkpoint/
        state.json          where the run stands (``RunState``) and the config it runs
        model.safetensors   the weights after the last finished epoch
        optimizer.pt        AdamW's state dict (torch.save)
        scheduler.pt        the learning-rate schedule's state dict (torch.save)
        rng.safetensors     the torch CPU (and CUDA) generator states; the python, numpy
                            and epoch-order ``random.Random`` states as JSON in its metadata
        rng.K.safetensors   the same for process K of a run in several processes (K ≥ 1)
        best/               the best epoch's model directory (``save_pretrained``)

Written after every epoch into a directory beside it and swapped in whole
(modeldir.staged), so a kill at any moment leaves the previous checkpoint or the new
one, never half of one. Files of best/ that did not change are hard links to the
previous checkpoint's. While a run is unfinished OUTPUT has no manifest.json, so nothing
loads it as a model; when training ends, ``finish`` promotes best/ to OUTPUT, and the
manifest appears and the checkpoint goes in one rename. A resumed run restores every
state above and so ends with the same weights as an uninterrupted one (on the same
device and thread count).

A run in several processes is checkpointed by its main process: the weights and the
optimizer are the same in every process, the random generators are not (each process
draws its own dropout), so every process's generators are gathered into it. Such a
checkpoint is resumed by as many processes as wrote it; another number is refused (a
process without generators of its own could not continue the run exactly).
"""
from __future__ import annotations

import json
import random
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from .files import write_text
from .modeldir import CHECKPOINT, MANIFEST, WEIGHTS, link_or_copy, promote, recover_swap, retire, staged

FORMAT = 1
STATE, OPTIMIZER, SCHEDULER, RNG, BEST = "state.json", "optimizer.pt", "scheduler.pt", "rng.safetensors", "best"
# Settings that may change between a run and its resumption: where it runs, not what it
# computes (a different thread count can change the last bits of the result).
# training.grad_accumulation only splits each process's share of a step into smaller
# micro-batches: the same step, summed in another order.
MAY_DIFFER = {"training.device", "training.num_threads", "training.grad_accumulation"}


class ResumeError(ValueError):
    """An output directory that cannot be trained into as asked, with what to do about it."""


@dataclass
class RunState:
    """Where a run stands after an epoch: everything train() keeps besides the tensors."""

    epoch: int = 0                       # the last finished epoch
    step: int = 0                        # optimizer steps so far
    best_score: float = -1.0             # selection score of the best epoch
    best_epoch: int = 0
    best_report: Optional[dict] = None   # the best epoch's dev reports, for dev_report.json
    last_record: Optional[dict] = None   # the last epoch's metrics record
    tokens_seen: int = 0
    train_seconds: float = 0.0           # in training steps only
    seconds: float = 0.0                 # wall clock, dev scoring included


@dataclass
class Checkpoint:
    path: Path
    state: RunState
    config: dict  # the run config's model_dump, as JSON
    processes: int = 1  # how many processes trained the run

    def restore(self, model, optimizer, scheduler, rng: random.Random, process: int = 0) -> None:
        """Load the weights, optimizer and schedule, and put every random generator of
        ``process`` back where it stood when the checkpoint was written."""
        from safetensors.torch import load_file

        model.load_state_dict(load_file(str(self.path / WEIGHTS)))
        optimizer.load_state_dict(torch.load(self.path / OPTIMIZER, map_location="cpu", weights_only=True))
        scheduler.load_state_dict(torch.load(self.path / SCHEDULER, map_location="cpu", weights_only=True))
        restore_rng(self.path / rng_file(process), rng)


def checkpoint_dir(output: Path) -> Path:
    return Path(output) / CHECKPOINT


def best_dir(output: Path) -> Path:
    """The best epoch's model directory, until ``finish`` promotes it."""
    return checkpoint_dir(output) / BEST


def recover(output: Path) -> None:
    """Undo a swap of OUTPUT or of its checkpoint that a kill cut short (one process only,
    before any reads them)."""
    recover_swap(Path(output))
    recover_swap(checkpoint_dir(output))


def prepare(output: Path, config, resume: bool, processes: int = 1) -> Optional[Checkpoint]:
    """The checkpoint to continue from, or None to start afresh; ResumeError when OUTPUT
    holds what the request would lose or cannot continue, in ``processes`` processes.
    Changes nothing on disk (``recover`` first), so every process of a run may ask."""
    output = Path(output)
    finished = (output / MANIFEST).is_file()
    unfinished = checkpoint_dir(output).is_dir() and not finished
    if not resume:
        if unfinished:
            epoch = read(output).state.epoch
            raise ResumeError(f"{output}: holds an unfinished training run (checkpoint after epoch {epoch}); "
                              f"continue it with `newstag train --config ... --output {output} --resume`, "
                              "or delete the directory to start afresh")
        return None
    if finished:
        raise ResumeError(f"{output}: training there already finished; nothing to resume "
                          "(train without --resume to overwrite it)")
    if not unfinished:
        return None  # killed before its first checkpoint: nothing was kept, start from epoch 1
    checkpoint = read(output)
    differences = config_differences(checkpoint.config, config.model_dump(mode="json"))
    if differences:
        raise ResumeError(f"{output}: --resume needs the config the run started with; it differs at "
                          + "; ".join(differences) + f" (only {', '.join(sorted(MAY_DIFFER))} may change)")
    if checkpoint.processes != processes:
        raise ResumeError(f"{output}: the run was trained by {_processes(checkpoint.processes)} and its checkpoint "
                          "holds the random generators of each; resume it in as many "
                          f"(--processes {checkpoint.processes}, not {processes}), or delete the directory to start "
                          "afresh")
    return checkpoint


def _processes(n: int) -> str:
    return "1 process" if n == 1 else f"{n} processes"


def read(output: Path) -> Checkpoint:
    path = checkpoint_dir(output)
    try:
        saved = json.loads((path / STATE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResumeError(f"{path / STATE}: unreadable ({exc}); delete {output} and train again") from None
    if saved.get("format") != FORMAT:
        raise ResumeError(f"{path}: a checkpoint of another newstag version (format {saved.get('format')}); "
                          "resume it with that version, or delete it and train again")
    return Checkpoint(path, RunState(**saved["state"]), saved["config"], saved.get("processes", 1))


def config_differences(saved: dict, current: dict) -> list[str]:
    """``key: saved → current`` for every setting that differs, dotted keys."""
    before, after = _flatten(saved), _flatten(current)
    return [f"{key}: {before.get(key)!r} → {after.get(key)!r}" for key in sorted(before.keys() | after.keys())
            if key not in MAY_DIFFER and before.get(key) != after.get(key)]


def _flatten(value, prefix: str = "") -> dict:
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = ((str(i), v) for i, v in enumerate(value))
    else:
        return {prefix: value}
    flat = {}
    for key, item in items:
        flat |= _flatten(item, f"{prefix}.{key}" if prefix else key)
    return flat


def start(output: Path) -> None:
    """Clear OUTPUT for a run starting from epoch 1: a finished model there is removed
    (its logs stay), so that OUTPUT has no manifest while the new run is unfinished."""
    retire(output)
    shutil.rmtree(checkpoint_dir(output), ignore_errors=True)


def save(output: Path, state: RunState, config, model, optimizer, scheduler, generators: list[dict],
         write_best: Optional[Callable[[Path], None]] = None) -> None:
    """Write the checkpoint after an epoch, whole. ``generators``: each process's
    ``generator_states``, in process order. ``write_best`` writes the model directory at
    the path it is given, when this epoch is the best so far; otherwise the previous
    checkpoint's best/ is kept."""
    from safetensors.torch import save_file

    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    target = checkpoint_dir(output)
    with staged(target) as tmp:
        weights = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
        save_file(weights, str(tmp / WEIGHTS), metadata={"format": "pt"})
        torch.save(optimizer.state_dict(), tmp / OPTIMIZER)
        torch.save(scheduler.state_dict(), tmp / SCHEDULER)
        for process, states in enumerate(generators):
            save_rng(tmp / rng_file(process), states)
        if write_best is not None:
            write_best(tmp / BEST)
        elif (target / BEST).is_dir():
            shutil.copytree(target / BEST, tmp / BEST, copy_function=link_or_copy)
        saved = {"format": FORMAT, "config": config.model_dump(mode="json"), "state": asdict(state),
                 "processes": len(generators)}
        write_text(tmp / STATE, json.dumps(saved, indent=1))


def finish(output: Path) -> None:
    """The best epoch's model becomes OUTPUT's model; the checkpoint goes with the same swap."""
    promote(best_dir(output), output)


# ---- random generators -------------------------------------------------------------

def rng_file(process: int) -> str:
    """The generator file of one process: rng.safetensors for the first (or only) one."""
    return RNG if process == 0 else RNG.replace(".", f".{process}.", 1)


def generator_states(rng: random.Random) -> dict:
    """This process's generators: torch's as tensors, python's, numpy's and ``rng``'s as
    JSON (picklable, to be gathered from every process into the main one)."""
    tensors = {"torch": torch.get_rng_state()}
    if torch.cuda.is_initialized():  # else no CUDA generator was used (and asking would start one)
        tensors |= {f"cuda.{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())}
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    metadata = {"python": json.dumps(random.getstate()), "epoch_order": json.dumps(rng.getstate()),
                "numpy": json.dumps([name, keys.tolist(), pos, has_gauss, gauss])}
    return {"tensors": tensors, "metadata": metadata}


def save_rng(path: Path, states: dict) -> None:
    """``generator_states``: the torch states as tensors, the rest as JSON metadata."""
    from safetensors.torch import save_file

    save_file({k: v.cpu() for k, v in states["tensors"].items()}, str(path), metadata=states["metadata"])


def restore_rng(path: Path, rng: random.Random) -> None:
    from safetensors import safe_open
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    with safe_open(str(path), "pt") as fh:
        metadata = fh.metadata()
    random.setstate(_python_state(metadata["python"]))
    rng.setstate(_python_state(metadata["epoch_order"]))
    name, keys, pos, has_gauss, gauss = json.loads(metadata["numpy"])
    np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(tensors["torch"])
    # A run resumed on another device has no CUDA states to restore, or more than it needs.
    for i in range(torch.cuda.device_count() if torch.cuda.is_available() else 0):
        if f"cuda.{i}" in tensors:
            torch.cuda.set_rng_state(tensors[f"cuda.{i}"], i)


def _python_state(raw: str) -> tuple:
    version, internal, gauss = json.loads(raw)  # JSON made the state's tuples lists
    return version, tuple(internal), gauss
