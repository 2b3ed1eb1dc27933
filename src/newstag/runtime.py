"""Where a model runs: the device a user asks for, and the precision used there."""
from __future__ import annotations

from contextlib import nullcontext

import torch


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda asked for, but torch sees no CUDA GPU")
    return torch.device(device)


def autocast_for(device: torch.device, precision: str = "auto"):
    """bf16 autocast on CUDA by default (fp16 when asked for); full precision on CPU."""
    if device.type == "cuda" and precision in ("auto", "bf16"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    if device.type == "cuda" and precision == "fp16":
        return torch.autocast("cuda", dtype=torch.float16)
    return nullcontext()
