"""Where a model runs: the device a user asks for, and the precision used there; for
training, the processes that share the work (Hugging Face accelerate, started by torchrun).

A run in several processes is data parallel: each process holds the whole model and
trains on its share of every batch, and DDP averages the gradients. ``newstag train
--processes N`` starts them with ``launch`` (torch.distributed.run, as ``torchrun
--standalone --nproc-per-node N -m newstag.cli train ...`` would); ``torchrun`` or
``accelerate launch`` started by hand do the same. Each process builds its
``accelerate.Accelerator`` with ``accelerator_for``.
"""
from __future__ import annotations

import os
from contextlib import contextmanager, nullcontext
from datetime import timedelta

import torch

# How long the other processes wait for the main one at a barrier: it scores the dev
# corpora and writes the checkpoint after each epoch, and at the end it refits the linker
# and calibrates (tagging every training article), far longer than torch's default of
# 10 (NCCL) or 30 (gloo) minutes on a large corpus. A process that dies is noticed by the
# launcher at once, not after this.
BARRIER_TIMEOUT = timedelta(hours=3)


class DeviceError(RuntimeError):
    """A device asked for that this machine does not have."""


class LaunchError(ValueError):
    """Processes that cannot train as asked (their number, the batch size, the GPUs), with what to do."""


class ProcessesFailed(Exception):
    """A launched run whose processes did not all finish; ``code`` is the exit status to end with."""

    def __init__(self, code: int, message: str = ""):
        super().__init__(message)
        self.code = code


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise DeviceError("--device cuda asked for, but torch sees no CUDA GPU")
    return torch.device(device)


def autocast_for(device: torch.device, precision: str = "auto"):
    """bf16 autocast on CUDA by default (fp16 when asked for); full precision on CPU."""
    if device.type == "cuda" and precision in ("auto", "bf16"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    if device.type == "cuda" and precision == "fp16":
        return torch.autocast("cuda", dtype=torch.float16)
    return nullcontext()


def mixed_precision(device: torch.device, precision: str = "auto") -> str:
    """accelerate's name for the precision ``autocast_for`` gives training on ``device``."""
    if device.type != "cuda":
        return "no"
    return {"auto": "bf16", "bf16": "bf16", "fp16": "fp16", "fp32": "no"}[precision]


def cores() -> int:
    """The CPU cores this process may run on (its affinity mask, as taskset or a cgroup cpuset set it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def threads_per_process(num_threads: int | None, processes: int) -> int | None:
    """``training.num_threads`` if set; with several processes their share of the cores
    (C // N, at least 1); one process keeps torch's default (None)."""
    if num_threads:
        return num_threads
    return max(1, cores() // processes) if processes > 1 else None


def launched() -> bool:
    """Whether a launcher started this process (torchrun and accelerate's multi-process
    launch set LOCAL_RANK; ``accelerate launch`` always sets ACCELERATE_USE_CPU): it is then
    one of the run's processes, however many the launcher started, and starts none itself."""
    return "LOCAL_RANK" in os.environ or "ACCELERATE_USE_CPU" in os.environ


def in_process_group() -> bool:
    """Whether this process is one of several a launcher started together (torchrun's
    environment: LOCAL_RANK, WORLD_SIZE), which accelerate joins into a process group.
    ``accelerate launch --cpu`` starts a single process without it."""
    return "LOCAL_RANK" in os.environ or int(os.environ.get("WORLD_SIZE", "1")) > 1


def is_main_process() -> bool:
    """Whether this is the process that speaks for a launched run (rank 0), or the only one."""
    return os.environ.get("RANK", "0") == "0"


def check_batch(processes: int, batch_size: int, grad_accumulation: int) -> None:
    """LaunchError unless ``processes`` × ``grad_accumulation`` micro-batches split each
    step's ``batch_size`` windows evenly."""
    parts = processes * grad_accumulation
    if batch_size % parts:
        split = f"{processes} process{'es' if processes > 1 else ''}"
        if grad_accumulation > 1:
            split += f" × {grad_accumulation} accumulation steps"
        raise LaunchError(f"training.batch_size {batch_size} cannot be split evenly over {split}: it is the whole "
                          f"step's batch, so make it a multiple of {parts} (--set training.batch_size=...)")


def check_gpus(processes: int, device: torch.device) -> None:
    """LaunchError unless ``processes`` on ``device`` (CUDA) have a GPU each."""
    if device.type == "cuda" and processes > torch.cuda.device_count():
        raise LaunchError(f"{processes} processes on CUDA need a GPU each; torch sees {torch.cuda.device_count()} "
                          "(train in fewer processes, or on CPU with --device cpu)")


def accelerator_for(training, find_unused_parameters: bool = False):
    """This process's ``accelerate.Accelerator`` for a run's ``training`` config: the device
    (the config's; on CUDA in a process group, a GPU per process), bf16 (or fp16) autocast on
    CUDA as ``training.precision`` says, ``training.grad_accumulation`` micro-batches per
    optimizer step, and for processes started together the process group (gloo on CPU,
    NCCL on CUDA).
    ``find_unused_parameters``: DDP is to expect parameters a step may leave unused.

    The batch is split, not multiplied: ``training.batch_size`` windows make one optimizer
    step however many processes share them (``split_batches``, so a prepared schedule
    steps once per optimizer step)."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, GradientState
    from accelerate.utils import (DataLoaderConfiguration, DistributedDataParallelKwargs, GradientAccumulationPlugin,
                                  InitProcessGroupKwargs)

    device = pick_device(training.device)
    handlers = [DistributedDataParallelKwargs(find_unused_parameters=find_unused_parameters)]
    if in_process_group():
        check_gpus(int(os.environ.get("LOCAL_WORLD_SIZE", "1")), device)
        handlers.append(InitProcessGroupKwargs(backend="gloo" if device.type == "cpu" else "nccl",
                                               timeout=BARRIER_TIMEOUT))
    else:
        # accelerate keeps one state per Python process; a single-process run sets it up
        # afresh, so that a run on CUDA may follow one on CPU in the same process (tests,
        # notebooks, benchmarks/accuracy.py).
        AcceleratorState._reset_state(reset_partial_state=True)
        GradientState._reset_state()
    accumulation = GradientAccumulationPlugin(num_steps=training.grad_accumulation, adjust_scheduler=False,
                                              sync_with_dataloader=False)
    return Accelerator(cpu=device.type == "cpu", mixed_precision=mixed_precision(device, training.precision),
                       gradient_accumulation_plugin=accumulation,
                       dataloader_config=DataLoaderConfiguration(split_batches=True), kwargs_handlers=handlers)


@contextmanager
def environment(**values: str):
    """os.environ with ``values`` set inside the block (what launched processes inherit)."""
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def launch(processes: int, arguments: list[str], threads: int) -> None:
    """Run ``python -m newstag.cli ARGUMENTS`` in ``processes`` processes on this machine
    with torchrun (``torch.distributed.run``, standalone: its rendezvous on a free local
    port), each with ``threads`` OpenMP threads; returns when all have finished.

    ProcessesFailed when one did not: its exit status (128 + the signal for one that was
    killed); a message unless the failure was a usage or set-up error (status 2), which
    the main process has already reported."""
    import logging
    import signal

    from torch.distributed import run as torchrun
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    args = torchrun.parse_args(["--standalone", f"--nproc-per-node={processes}", "--max-restarts=0",
                                "-m", "newstag.cli", *arguments])
    # The elastic agent logs each failure it sees and how it stopped the other processes;
    # the processes say what went wrong, and ProcessesFailed says which one.
    logging.disable(logging.ERROR)
    try:
        with environment(OMP_NUM_THREADS=str(threads)):
            torchrun.run(args)
    except SignalException as exc:  # the launcher itself was stopped (SIGTERM): it stopped the processes first
        raise ProcessesFailed(128 + int(exc.sigval), f"training stopped by {signal.Signals(exc.sigval).name}") from None
    except ChildFailedError as exc:
        rank, failure = exc.get_first_failure()
        if failure.exitcode < 0:
            name = signal.Signals(-failure.exitcode).name
            raise ProcessesFailed(128 - failure.exitcode,
                                  f"training process {rank} of {processes} was killed by {name}") from None
        raise ProcessesFailed(failure.exitcode, "" if failure.exitcode == 2 else
                              f"training process {rank} of {processes} failed (exit status {failure.exitcode}); "
                              "its error is above") from None
    finally:
        logging.disable(logging.NOTSET)
