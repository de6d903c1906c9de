"""Converters from common image-caption formats into the RAQO manifest.

- Karpathy-split JSON (Flickr30K, MSCOCO): ``restval`` goes to ``train``; 5 captions per image kept.
- COCO captions JSON (``images`` + ``annotations``), one split per file.
- JSONL/CSV pairs: one row per (image, caption); rows of the same image are grouped.
- Hugging Face datasets with an image column and a caption column (hub id or a local
  ``save_to_disk`` folder); images are written as PNG files beside the manifest.

Image paths are stored relative to the output folder, so a dataset folder can be moved.
"""

from __future__ import annotations

import csv
import json
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

from raqo_core.data.manifest import SPLITS, Record, write_manifest
from raqo_core.errors import ManifestError, RAQOError
from raqo_core.io import read_jsonl

KARPATHY_SPLITS = {"train": "train", "restval": "train", "val": "val", "test": "test"}


def _rel(image: Path, out: Path) -> str:
    return Path(os.path.relpath(image.resolve(), out.resolve())).as_posix()


def _load_json(path: str | os.PathLike[str]) -> Any:
    p = Path(path)
    if not p.is_file():
        raise RAQOError(f"input file not found: {str(p)!r}")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RAQOError(f"{p}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc


def from_karpathy(
    path: str | os.PathLike[str], image_root: str | os.PathLike[str], out: str | os.PathLike[str], *, max_captions: int = 5
) -> Path:
    """Convert a Karpathy ``dataset_*.json`` (``images[].filename/filepath/split/sentences``)."""
    data = _load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise RAQOError(f"{path}: expected a Karpathy split JSON with an 'images' list")
    out_p, root = Path(out), Path(image_root)
    out_p.mkdir(parents=True, exist_ok=True)
    records = []
    for i, img in enumerate(data["images"]):
        where = f"{path}: images[{i}]"
        if "filename" not in img or "sentences" not in img or "split" not in img:
            raise ManifestError(f"{where}: expected fields filename, sentences, split")
        split = KARPATHY_SPLITS.get(img["split"])
        if split is None:
            raise ManifestError(f"{where}: unknown split {img['split']!r}; expected one of {sorted(KARPATHY_SPLITS)}")
        caps = [s.get("raw", " ".join(s.get("tokens", []))).strip() for s in img["sentences"]][:max_captions]
        caps = [c for c in caps if c]
        if not caps:
            raise ManifestError(f"{where} ({img['filename']!r}): no captions")
        image = root / img.get("filepath", "") / img["filename"]
        image_id = str(img.get("cocoid", img.get("imgid", Path(img["filename"]).stem)))
        records.append(Record(image_id, _rel(image, out_p), caps, split))
    return write_manifest(out_p, records)


def from_coco(path: str | os.PathLike[str], image_root: str | os.PathLike[str], out: str | os.PathLike[str], *, split: str) -> Path:
    """Convert a COCO captions JSON (``captions_val2017.json``) into one split."""
    if split not in SPLITS:
        raise RAQOError(f"unknown split {split!r}; expected one of {SPLITS}")
    data = _load_json(path)
    if not isinstance(data, dict) or "images" not in data or "annotations" not in data:
        raise RAQOError(f"{path}: expected COCO captions JSON with 'images' and 'annotations'")
    out_p, root = Path(out), Path(image_root)
    caps: dict[Any, list[str]] = {}
    for a in data["annotations"]:
        caps.setdefault(a["image_id"], []).append(str(a["caption"]).strip())
    records = []
    for img in data["images"]:
        c = [x for x in caps.get(img["id"], []) if x]
        if not c:
            raise ManifestError(f"{path}: image id {img['id']!r} ({img.get('file_name')!r}) has no captions")
        records.append(Record(str(img["id"]), _rel(root / img["file_name"], out_p), c, split))
    return write_manifest(out_p, records)


def from_pairs(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    image_root: str | os.PathLike[str] | None = None,
    image_column: str = "image",
    caption_column: str = "caption",
    split_column: str = "split",
    default_split: str = "test",
) -> Path:
    """Convert JSONL or CSV rows of (image, caption[, split]); rows of one image are grouped."""
    p = Path(path)
    if p.suffix.lower() == ".csv":
        if not p.is_file():
            raise RAQOError(f"input file not found: {str(p)!r}")
        with p.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    elif p.suffix.lower() in (".jsonl", ".json"):
        rows = read_jsonl(p)
    else:
        raise RAQOError(f"unsupported pairs file {str(p)!r}; expected a .csv or .jsonl file")
    out_p = Path(out)
    root = Path(image_root) if image_root else p.parent
    grouped: OrderedDict[str, tuple[str, list[str]]] = OrderedDict()
    for lineno, row in enumerate(rows, start=2 if p.suffix.lower() == ".csv" else 1):
        where = f"{p}:{lineno}"
        for col in (image_column, caption_column):
            if not row.get(col):
                raise ManifestError(f"{where}: missing or empty column {col!r}")
        split = row.get(split_column) or default_split
        if split not in SPLITS:
            raise ManifestError(f"{where}: unknown split {split!r}; expected one of {SPLITS}")
        img = str(row[image_column])
        entry = grouped.setdefault(img, (split, []))
        if entry[0] != split:
            raise ManifestError(f"{where}: image {img!r} appears in splits {entry[0]!r} and {split!r}")
        entry[1].append(str(row[caption_column]).strip())
    records = [Record(Path(img).stem, _rel(root / img, out_p), caps, split) for img, (split, caps) in grouped.items()]
    ids = [r.image_id for r in records]
    if len(set(ids)) != len(ids):  # same stem in different folders: fall back to the path
        records = [Record(img, r.image, r.captions, r.split) for img, r in zip(grouped, records, strict=True)]
    return write_manifest(out_p, records)


def from_hf(
    name_or_path: str,
    out: str | os.PathLike[str],
    *,
    image_column: str = "image",
    caption_column: str = "caption",
    hf_split: str | None = None,
    split: str = "test",
    limit: int | None = None,
    progress: bool = True,
) -> Path:
    """Convert a Hugging Face dataset (hub id, or a ``save_to_disk`` folder) with image + caption columns."""
    import datasets
    from tqdm.auto import tqdm

    if split not in SPLITS:
        raise RAQOError(f"unknown split {split!r}; expected one of {SPLITS}")
    if (
        Path(name_or_path).is_dir()
        and (Path(name_or_path) / "dataset_info.json").exists()
        or (Path(name_or_path) / "dataset_dict.json").exists()
    ):
        ds: Any = datasets.load_from_disk(name_or_path)
    else:
        ds = datasets.load_dataset(name_or_path, split=hf_split)
    if isinstance(ds, datasets.DatasetDict):
        if hf_split is None:
            raise RAQOError(f"{name_or_path!r} has splits {list(ds)}; pass hf_split to pick one")
        ds = ds[hf_split]
    for col in (image_column, caption_column):
        if col not in ds.column_names:
            raise RAQOError(f"{name_or_path!r} has no column {col!r}; columns: {ds.column_names}")
    out_p = Path(out)
    (out_p / "images").mkdir(parents=True, exist_ok=True)
    n = len(ds) if limit is None else min(limit, len(ds))
    records = []
    for i in tqdm(range(n), desc="converting HF dataset", disable=not progress):
        row = ds[i]
        caps = row[caption_column]
        caps = [caps] if isinstance(caps, str) else list(caps)
        caps = [str(c).strip() for c in caps if str(c).strip()]
        if not caps:
            raise ManifestError(f"{name_or_path!r} row {i}: empty caption column {caption_column!r}")
        img = row[image_column]
        if not hasattr(img, "save"):
            raise ManifestError(f"{name_or_path!r} row {i}: column {image_column!r} is not an image (got {type(img).__name__})")
        rel = f"images/{i:07d}.png"
        img.convert("RGB").save(out_p / rel)
        records.append(Record(f"{i:07d}", rel, caps, split))
    return write_manifest(out_p, records)
