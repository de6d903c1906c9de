"""The dataset manifest: one JSONL record per image, shared by every RAQO tool.

```
{"image_id": "000123", "image": "images/000123.png", "captions": ["..."], "split": "train"}
```

``image`` is relative to the manifest's folder, and must stay inside it, or inside an image root the dataset
declares in ``image_roots.json`` beside the manifest (``{"image_roots": ["../flickr30k-images"]}``, written by the
converters when the images live elsewhere). So a manifest cannot make RAQO read (or, with a chat agent, upload)
files outside the dataset; ``load_manifest(..., confine_images=False)`` or ``RAQO_ALLOW_ANY_IMAGE_PATH=1`` opts out.
A record may carry extra caption
*registers* under ``"registers"`` (e.g. ``{"user": [...], "transfer": [...]}``); the
embedded benchmark uses them for user-style queries. ``captions`` is the default
register, also reachable as ``"plain"``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raqo_core.errors import ManifestError
from raqo_core.io import atomic_write_jsonl, read_jsonl

SPLITS = ("train", "val", "test")
DEFAULT_REGISTERS = ("captions", "plain")
MANIFEST_NAME = "manifest.jsonl"


@dataclass(frozen=True)
class Record:
    """One image with its captions."""

    image_id: str
    image: str
    captions: list[str]
    split: str
    registers: dict[str, list[str]] = field(default_factory=dict)

    def texts(self, register: str = "captions") -> list[str]:
        """The captions of ``register`` (``captions``/``plain`` = the default captions)."""
        if register in DEFAULT_REGISTERS:
            return self.captions
        try:
            return self.registers[register]
        except KeyError:
            raise ManifestError(
                f"record {self.image_id!r} has no caption register {register!r}; "
                f"available: {sorted(set(DEFAULT_REGISTERS) | set(self.registers))}"
            ) from None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "image_id": self.image_id,
            "image": self.image,
            "captions": list(self.captions),
            "split": self.split,
        }
        if self.registers:
            out["registers"] = {k: list(v) for k, v in self.registers.items()}
        return out


def _check_captions(where: str, field_name: str, caps: Any) -> list[str]:
    if not isinstance(caps, list) or not caps:
        raise ManifestError(f"{where}: field {field_name!r} must be a non-empty list of strings, got {caps!r}")
    for c in caps:
        if not isinstance(c, str) or not c.strip():
            raise ManifestError(f"{where}: field {field_name!r} holds an empty or non-string caption {c!r}")
    return [c.strip() for c in caps]


def record_from_json(obj: dict[str, Any], where: str) -> Record:
    """Validate one raw record (schema only; image files are checked by :func:`load_manifest`)."""
    for key in ("image_id", "image", "captions", "split"):
        if key not in obj:
            raise ManifestError(f"{where}: missing field {key!r}; expected keys image_id, image, captions, split")
    image_id = obj["image_id"]
    if not isinstance(image_id, str | int) or str(image_id).strip() == "":
        raise ManifestError(f"{where}: field 'image_id' must be a non-empty string, got {image_id!r}")
    image = obj["image"]
    if not isinstance(image, str) or not image:
        raise ManifestError(f"{where} (image_id={image_id!r}): field 'image' must be a relative path, got {image!r}")
    split = obj["split"]
    if split not in SPLITS:
        raise ManifestError(f"{where} (image_id={image_id!r}): unknown split {split!r}; expected one of {SPLITS}")
    captions = _check_captions(f"{where} (image_id={image_id!r})", "captions", obj["captions"])
    registers_raw = obj.get("registers") or {}
    if not isinstance(registers_raw, dict):
        raise ManifestError(f"{where} (image_id={image_id!r}): field 'registers' must be an object")
    registers = {str(k): _check_captions(f"{where} (image_id={image_id!r})", f"registers.{k}", v) for k, v in registers_raw.items()}
    return Record(str(image_id), image, captions, split, registers)


@dataclass
class Manifest:
    """Records plus the folder their image paths are relative to."""

    root: Path
    records: list[Record]

    def __len__(self) -> int:
        return len(self.records)

    def split(self, name: str) -> list[Record]:
        if name not in SPLITS:
            raise ManifestError(f"unknown split {name!r}; expected one of {SPLITS}")
        return [r for r in self.records if r.split == name]

    def image_path(self, rec: Record) -> Path:
        return self.root / rec.image

    def registers(self) -> list[str]:
        names = set(DEFAULT_REGISTERS)
        for r in self.records:
            names.update(r.registers)
        return sorted(names)


ROOTS_NAME = "image_roots.json"


def _inside(p: Path, root: Path) -> bool:
    return p == root or root in p.parents


def declared_roots(folder: Path) -> list[Path]:
    """The dataset folder and the image roots its ``image_roots.json`` declares (resolved)."""
    roots = [folder.resolve()]
    side = folder / ROOTS_NAME
    if side.is_file():
        import json

        try:
            raw = json.loads(side.read_text())["image_roots"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ManifestError(f'{side}: expected {{"image_roots": ["relative/folder", …]}} ({type(exc).__name__}: {exc})') from None
        if not isinstance(raw, list) or not all(isinstance(r, str) for r in raw):
            raise ManifestError(f"{side}: 'image_roots' must be a list of folder paths, got {raw!r}")
        roots += [(folder / r).resolve() for r in raw]
    return roots


def resolve_manifest_path(path: str | os.PathLike[str]) -> Path:
    """Accept a manifest file or a dataset folder holding ``manifest.jsonl``."""
    p = Path(path)
    if p.is_dir():
        p = p / MANIFEST_NAME
    if not p.is_file():
        raise ManifestError(f"no dataset manifest at {str(path)!r}; expected a folder holding {MANIFEST_NAME} or a .jsonl file")
    return p


def load_manifest(path: str | os.PathLike[str], *, check_images: bool | str = "exists", confine_images: bool | None = None) -> Manifest:
    """Load and validate a manifest.

    check_images: ``"exists"`` (default) checks every image file exists; ``"decode"`` also
    opens each one with PIL (slow, catches corrupt files); ``False`` skips the check.
    confine_images: image paths must resolve inside the dataset folder or its declared image roots (default:
    on, unless ``RAQO_ALLOW_ANY_IMAGE_PATH=1``). Errors name the line, the record's ``image_id`` and the bad field.
    """
    mpath = resolve_manifest_path(path)
    root = mpath.parent
    if confine_images is None:
        confine_images = os.environ.get("RAQO_ALLOW_ANY_IMAGE_PATH", "") not in ("1", "true", "yes")
    allowed = declared_roots(root) if confine_images else []
    records: list[Record] = []
    seen: dict[str, int] = {}
    for lineno, raw in enumerate(read_jsonl(mpath), start=1):
        where = f"{mpath}:{lineno}"
        rec = record_from_json(raw, where)
        if rec.image_id in seen:
            raise ManifestError(f"{where}: duplicate image_id {rec.image_id!r} (first seen on record {seen[rec.image_id]})")
        seen[rec.image_id] = lineno
        if allowed and not any(_inside((root / rec.image).resolve(), r) for r in allowed):
            raise ManifestError(
                f"{where} (image_id={rec.image_id!r}): image path {rec.image!r} resolves outside the dataset folder {str(root)!r} "
                f"and the image roots it declares in {ROOTS_NAME}; declare the folder there, or set RAQO_ALLOW_ANY_IMAGE_PATH=1"
            )
        if check_images:
            img = root / rec.image
            if not img.is_file():
                raise ManifestError(f"{where} (image_id={rec.image_id!r}): field 'image' points at a missing file {str(img)!r}")
            if check_images == "decode":
                from raqo_core.data.images import open_rgb

                open_rgb(img, what=f"{where} (image_id={rec.image_id!r}) field 'image'")
        records.append(rec)
    if not records:
        raise ManifestError(f"{mpath}: the manifest holds no records")
    return Manifest(root, records)


def write_manifest(path: str | os.PathLike[str], records: Iterable[Record]) -> Path:
    """Write records atomically; ``path`` may be a folder (``manifest.jsonl`` inside). Images outside that folder
    get their common folder declared in ``image_roots.json``, so :func:`load_manifest` accepts them."""
    from raqo_core.io import atomic_write_json

    p = Path(path)
    if p.suffix != ".jsonl":
        p = p / MANIFEST_NAME
    recs = list(records)
    folder = p.parent.resolve()
    outside = [(folder / r.image).resolve().parent for r in recs if not _inside((folder / r.image).resolve(), folder)]
    side = p.parent / ROOTS_NAME
    if outside:
        common = Path(os.path.commonpath([str(o) for o in outside]))
        atomic_write_json(side, {"image_roots": [os.path.relpath(common, folder)]})
    else:
        side.unlink(missing_ok=True)
    return atomic_write_jsonl(p, (r.to_json() for r in recs))


def queries_and_targets(records: Sequence[Record], register: str = "captions") -> tuple[list[str], list[int]]:
    """T2I queries: every caption of ``register`` with the index of its image in ``records``."""
    texts: list[str] = []
    targets: list[int] = []
    for i, r in enumerate(records):
        for t in r.texts(register):
            texts.append(t)
            targets.append(i)
    return texts, targets
