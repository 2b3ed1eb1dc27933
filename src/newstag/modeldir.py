"""The model directory: what it holds, how it is written, and when it is refused.

    config.json          the ModelSpec (model.py): architecture, layers, counted prior, provenance
    model.safetensors    the tagger's weights
    tokenizer files      as the encoder's tokenizer saves them
    linker.safetensors   the learned linker, when the model has one
    manifest.json        written last: format version and every file above with its SHA-256;
                         later, the score maps fitted on dev (calibration.py), per backend
    checkpoint/          only while training is unfinished (checkpoint.py); never beside a manifest

Any tool that reads ``save_pretrained`` directories can open one. A directory is
written beside its destination and swapped in whole, so a crash never leaves half of
one; files the model does not own (metrics.jsonl, reports) are carried over. Training
writes the model into OUTPUT once, at its end, by promoting the best checkpoint's model
directory (``promote``). Loading checks the manifest first: a directory without one (a
write or a training run that never finished), with a missing or altered file, or from
a newer newstag is refused with a message that says what to do. Directories of format 1
(before the manifest) are migrated on load. Later additions (ONNX exports, calibration)
register their files here.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from .files import sha256_of, write_text

if TYPE_CHECKING:
    from .model import ModelSpec

MANIFEST = "manifest.json"
CONFIG = "config.json"
WEIGHTS = "model.safetensors"
LINKER = "linker.safetensors"
CHECKPOINT = "checkpoint"
METRICS = "metrics.jsonl"


class ModelDirError(ValueError):
    """A model directory that cannot be used, with what to do about it."""


def save_model(directory, model, tokenizer, linker=None) -> Path:
    """Write a model directory atomically: a crash mid-save leaves the old one intact."""
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    with staged(directory) as tmp:
        state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / WEIGHTS), metadata={"format": "pt"})
        write_text(tmp / CONFIG, model.spec.model_dump_json(indent=2))
        tokenizer.save_pretrained(str(tmp))
        if linker is not None:
            linker.save(tmp)
        model_files = sorted(p.name for p in tmp.iterdir())
        _carry_over_foreign_files(directory, tmp)
        write_manifest(tmp, model_files, model.spec.format_version)
    return directory


@contextmanager
def staged(directory: Path):
    """A temporary directory beside ``directory`` to fill, swapped in whole when the block
    ends and removed if it raises: a crash never leaves half a directory."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        yield tmp
        swap_in(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _carry_over_foreign_files(old: Path, new: Path) -> None:
    """Files of an older directory that no model wrote (metrics.jsonl, reports) stay."""
    if not old.is_dir():
        return
    owned = set(read_manifest(old).get("files", {})) if (old / MANIFEST).is_file() else set()
    for f in old.iterdir():
        if f.is_file() and f.name not in owned and f.name != MANIFEST and not (new / f.name).exists():
            shutil.copy2(f, new / f.name)


def promote(source, directory) -> Path:
    """Make the complete model directory ``source`` (a training checkpoint's best model)
    the model in ``directory``, in one swap.

    ``source``'s files are linked (or copied) beside ``directory`` together with
    ``directory``'s own files (metrics.jsonl, reports); the copy then replaces
    ``directory`` whole, so its manifest appears and everything else it held (the
    checkpoint) goes in the same rename."""
    from .model import FORMAT_VERSION

    source, directory = Path(source), Path(directory)
    verified(source, FORMAT_VERSION)  # never promote a damaged model over the run's only copy
    with staged(directory) as tmp:
        for f in source.iterdir():
            if f.is_file():
                link_or_copy(f, tmp / f.name)
        _carry_over_foreign_files(directory, tmp)
    return directory


def link_or_copy(source: Path, target: Path) -> None:
    """A hard link where the file system allows one (files here are replaced, never
    rewritten in place, so sharing them is safe), else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def retire(directory) -> None:
    """Remove the model of ``directory`` (manifest first, so it never looks complete
    without its files); its logs stay. For a training run that starts over a finished model."""
    directory = Path(directory)
    if not (directory / MANIFEST).is_file():
        return
    owned = read_manifest(directory)["files"]
    (directory / MANIFEST).unlink()
    for name in owned:
        (directory / name).unlink(missing_ok=True)


def swap_in(tmp: Path, directory: Path) -> None:
    """Replace ``directory`` with the directory ``tmp`` written beside it: two renames,
    and a kill between them is undone by ``recover_swap``."""
    # mkdtemp makes the directory private, and some writers their files: a shared model
    # must be readable by others.
    os.chmod(tmp, 0o755)
    for f in tmp.iterdir():
        os.chmod(f, 0o755 if f.is_dir() else 0o644)
    old = None
    if directory.exists():
        old = _old_copy(directory)
        shutil.rmtree(old, ignore_errors=True)
        os.replace(directory, old)
    os.replace(tmp, directory)
    if old:
        shutil.rmtree(old, ignore_errors=True)


def recover_swap(directory) -> None:
    """Undo a swap cut between its two renames (the old copy set aside, the new one not
    yet in place): the set-aside copy is the last complete state, so it comes back."""
    directory = Path(directory)
    if not directory.exists() and _old_copy(directory).is_dir():
        os.replace(_old_copy(directory), directory)


def _old_copy(directory: Path) -> Path:
    return directory.with_name(f".{directory.name}.old")


def write_manifest(directory: Path, files: list[str], format_version: int) -> None:
    from . import __version__

    manifest = {"format_version": format_version, "newstag_version": __version__,
                "files": {name: sha256_of(directory / name) for name in sorted(files)}}
    write_text(directory / MANIFEST, json.dumps(manifest, indent=2) + "\n")


def write_calibration(directory, maps: dict, fitted_on: list[str], backend: str = "torch") -> None:
    """Store a backend's score maps (calibration.py) in the manifest; the files it lists are unchanged."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    manifest.setdefault("calibration", {})[backend] = {"maps": maps, "fitted_on": fitted_on}
    write_text(directory / MANIFEST, json.dumps(manifest, indent=2) + "\n")


def read_calibration(directory, backend: str = "torch") -> dict:
    """A backend's score maps from the manifest; {} for a model never calibrated."""
    directory = Path(directory)
    if not (directory / MANIFEST).is_file():
        return {}
    return read_manifest(directory).get("calibration", {}).get(backend, {}).get("maps", {})


def read_manifest(directory: Path) -> dict:
    path = directory / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelDirError(f"{path}: unreadable ({exc}); retrain the model or restore the directory") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise ModelDirError(f"{path}: not a newstag manifest; retrain the model or restore the directory")
    return manifest


def verified(directory, current_version: int) -> dict:
    """The config of a usable model directory, after checking it whole; else ModelDirError."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelDirError(f"{directory}: no such model directory")
    config_path = directory / CONFIG
    if not (directory / MANIFEST).is_file():
        # A checkpoint, or a run's log without a model: a run killed before it finished.
        if (directory / CHECKPOINT).is_dir() or ((directory / METRICS).is_file() and not config_path.is_file()):
            raise ModelDirError(f"{directory}: training did not finish: resume it with "
                                f"`newstag train --config ... --output {directory} --resume`")
        if not config_path.is_file():
            raise ModelDirError(f"{directory}: not a newstag model directory (no {CONFIG})")
        config = _read_json(config_path)
        if config.get("format_version", 0) <= 1:
            return config  # written before manifests existed: migrated by the loader
        raise ModelDirError(f"{directory}: incomplete (no {MANIFEST}: its writing never finished); "
                            "train it again or restore it")
    manifest = read_manifest(directory)
    if manifest.get("format_version", 0) > current_version:
        raise ModelDirError(f"{directory}: written by a newer newstag ({manifest.get('newstag_version')}, "
                            f"format {manifest.get('format_version')}); upgrade newstag")
    for name, digest in manifest["files"].items():
        path = directory / name
        if not path.is_file():
            raise ModelDirError(f"{path}: missing from the model directory; restore it or train again")
        if sha256_of(path) != digest:
            raise ModelDirError(f"{path}: altered or corrupted (its SHA-256 differs from {MANIFEST}); "
                                "restore it or train again")
    return _read_json(config_path)


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelDirError(f"{path}: unreadable ({exc})") from None
    if not isinstance(data, dict):
        raise ModelDirError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data


def load_spec(directory) -> tuple[ModelSpec, bool]:
    """(spec, is format 1) of a model directory, checked whole (manifest, hashes, config)."""
    from pydantic import ValidationError

    from .model import FORMAT_VERSION, ModelSpec

    directory = Path(directory)
    config = verified(directory, FORMAT_VERSION)
    if config.get("architecture") != "NewstagModel":
        raise ModelDirError(f"{directory / CONFIG}: not a newstag model (architecture={config.get('architecture')!r})")
    migrate = config.get("format_version", 0) <= 1
    try:
        spec = ModelSpec.model_validate(migrate_config_v1(config) if migrate else config)
    except (ValidationError, KeyError, TypeError) as exc:
        raise ModelDirError(f"{directory / CONFIG}: does not describe a newstag model ({exc}); train it again") from None
    if spec.shapes != ModelSpec.model_fields["shapes"].default:
        raise ModelDirError(f"{directory / CONFIG}: word-shape scheme differs from this newstag's; train it again")
    return spec, migrate


def load_model(directory, model_class):
    """(model, tokenizer) from a model directory, checked and, if of format 1, migrated."""
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    directory = Path(directory)
    spec, migrate = load_spec(directory)
    model = model_class(spec)
    try:
        state = load_file(str(directory / WEIGHTS))
    except Exception as exc:  # safetensors raises its own error types for a damaged file
        raise ModelDirError(f"{directory / WEIGHTS}: unreadable ({exc}); restore it or train again") from None
    if migrate:
        state = migrate_weights_v1(state)
    missing, unexpected = model.load_state_dict(state, strict=False)
    # Position ids are buffers some encoders do not save; anything else is an error.
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise ModelDirError(f"{directory / WEIGHTS}: weights do not match {CONFIG} "
                            f"(missing {missing[:5]}, unexpected {unexpected[:5]}); train it again")
    model.eval()
    return model, AutoTokenizer.from_pretrained(str(directory))


def load_decoder(directory, decoder_class):
    """(decoder, tokenizer) from a model directory without building its network: what a
    backend that runs an exported graph needs (the spec, the CRF transitions)."""
    from safetensors import safe_open
    from transformers import AutoTokenizer

    directory = Path(directory)
    spec, _ = load_spec(directory)
    transitions = {}
    if spec.model.crf:
        try:
            with safe_open(str(directory / WEIGHTS), framework="numpy") as weights:
                transitions = {layer: weights.get_tensor(f"crfs.{layer}.transitions") for layer in spec.annotated_layers}
        except Exception as exc:  # safetensors raises its own error types for a damaged file
            raise ModelDirError(f"{directory / WEIGHTS}: unreadable ({exc}); restore it or train again") from None
    return decoder_class(spec, transitions), AutoTokenizer.from_pretrained(str(directory))


# ---- format 1 (newstag 0.1 before the manifest): flat settings, one attribute per head ----

def migrate_config_v1(old: dict) -> dict:
    """A format-1 config.json as a ModelSpec's fields."""
    encoder_config = dict(old["encoder_config"], model_type=old["encoder_model_type"])
    model = {key: old[key] for key in ("entity_labels", "shape_dim", "dropout", "max_length", "stride")}
    model |= {"encoder": {}, "transition_weight": old.get("transition_weight", 0.0), "crf": old.get("crf", False),
              "context_lstm": old.get("context_lstm", 0), "linker": old.get("linker", "rule")}
    transitions = old.get("transitions") or {}
    provenance = {k: old[k] for k in ("run_name", "best_epoch", "averaged_epochs", "dev") if k in old}
    return {"model": model, "encoder_config": encoder_config, "shapes": old.get("shapes"),
            "annotated_layers": old.get("layers", ["entities", "quotes"]),
            "transitions": {"entities": transitions.get("entity"), "quotes": transitions.get("quote")},
            "training": provenance}


V1_WEIGHT_NAMES = {"entity_head.": "heads.entities.", "quote_head.": "heads.quotes.",
                   "entity_crf": "crfs.entities.transitions", "quote_crf": "crfs.quotes.transitions"}


def migrate_weights_v1(state: dict) -> dict:
    out = {}
    for name, tensor in state.items():
        for old, new in V1_WEIGHT_NAMES.items():
            if name.startswith(old):
                name = new + name[len(old):]
                break
        out[name] = tensor
    return out
