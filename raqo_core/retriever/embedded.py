"""The embedded retriever: a small open_clip model trained on the embedded benchmark.

No pretrained CLIP weights can be downloaded where RAQO is built and tested, so RAQO
ships a tiny open_clip model (``RAQO-Tiny-64``: 9.0M parameters, 64-px ViT with 8-px
patches, 40-token text context) trained by :func:`train_retriever` on the benchmark's
train split. The checkpoint lives in ``raqo_core/assets/embedded_retriever`` in
open_clip's folder layout, with ``recipe.json`` naming the command, seed and sha256.
It is loaded by exactly the code path a user's local checkpoint takes.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from raqo_core.errors import RAQOError

EMBEDDED_MODEL = "RAQO-Tiny-64"
ASSET_DIR = Path(__file__).resolve().parent.parent / "assets" / "embedded_retriever"


def embedded_checkpoint_dir() -> Path:
    """Where the shipped checkpoint lives; ``RAQO_EMBEDDED_RETRIEVER`` overrides it."""
    return Path(os.environ.get("RAQO_EMBEDDED_RETRIEVER", ASSET_DIR))


def load(body: str = "", *, device: str = "cpu", **kwargs: Any) -> Any:
    """The registry's ``embedded`` entry (the spec takes no arguments)."""
    if body:
        raise RAQOError(f"retriever spec 'embedded' takes no arguments, got 'embedded:{body}'")
    return load_embedded_retriever(device=device, **kwargs)


def load_embedded_retriever(device: str = "cpu", **kwargs: Any) -> Any:
    from raqo_core.io import sha256_file
    from raqo_core.retriever.open_clip_backend import OpenCLIPRetriever

    d = embedded_checkpoint_dir()
    weights = d / "open_clip_model.safetensors"
    if not weights.is_file():
        raise RAQOError(
            f"the embedded retriever checkpoint is missing at {str(d)!r}; "
            "rebuild it with `raqo retriever train --data DIR --out DIR` (see docs/embedded-benchmark.md)"
        )
    recipe_path = d / "recipe.json"
    if recipe_path.is_file():
        expected = json.loads(recipe_path.read_text()).get("sha256")
        if expected and sha256_file(weights) != expected:
            raise RAQOError(f"embedded retriever weights at {str(weights)!r} do not match recipe.json's sha256 {expected[:12]}…")
    r = OpenCLIPRetriever.from_local(d, device=device, **kwargs)
    r.spec = "embedded"
    return r


@dataclass
class RetrieverTrainConfig:
    """Contrastive training of an open_clip model on a manifest's train split."""

    model: str = field(default=EMBEDDED_MODEL, metadata={"help": "open_clip model name to train from scratch"})
    epochs: int = field(default=10, metadata={"help": "passes over the train images (one random caption each)"})
    batch_size: int = field(default=128, metadata={"help": "images per contrastive batch"})
    lr: float = field(default=1e-3, metadata={"help": "peak AdamW learning rate (cosine decay, linear warm-up)"})
    weight_decay: float = field(default=0.1, metadata={"help": "AdamW weight decay on matrices"})
    warmup_steps: int = field(default=50, metadata={"help": "linear warm-up steps"})
    seed: int = field(default=0, metadata={"help": "seed for init, caption sampling and shuffling"})
    threads: int = field(default=2, metadata={"help": "torch CPU threads"})
    fp16_export: bool = field(default=True, metadata={"help": "store the final weights in fp16"})

    def validate(self) -> None:
        if self.epochs < 1 or self.batch_size < 2 or self.lr <= 0:
            raise RAQOError(f"invalid RetrieverTrainConfig: epochs={self.epochs}, batch_size={self.batch_size}, lr={self.lr}")


def train_retriever(data: str | Path, out: str | Path, cfg: RetrieverTrainConfig | None = None, *, progress: bool = True) -> dict[str, Any]:
    """Train ``cfg.model`` with open_clip's ``ClipLoss`` and save it to ``out`` (open_clip layout)."""
    import numpy as np
    import open_clip
    import torch
    from open_clip.loss import ClipLoss
    from tqdm.auto import tqdm

    from raqo_core.data.images import open_rgb
    from raqo_core.data.manifest import load_manifest
    from raqo_core.io import atomic_write_json, sha256_file
    from raqo_core.retriever.open_clip_backend import register_model_configs, save_open_clip_folder

    cfg = cfg or RetrieverTrainConfig()
    cfg.validate()
    torch.set_num_threads(cfg.threads)
    register_model_configs()
    torch.manual_seed(cfg.seed)
    model, _, preprocess = open_clip.create_model_and_transforms(cfg.model, output_dict=True)
    tokenizer = open_clip.get_tokenizer(cfg.model)
    manifest = load_manifest(data)
    train = manifest.split("train")
    if not train:
        raise RAQOError(f"{data}: no train records to train a retriever on")
    # Pre-process every image once (the benchmark has no augmentation: positions matter).
    pixels = torch.stack(
        [preprocess(open_rgb(manifest.image_path(r))) for r in tqdm(train, desc="loading train images", disable=not progress)]
    )
    rng = random.Random(cfg.seed)
    steps_per_epoch = math.ceil(len(train) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)

    def lr_at(step: int) -> float:
        if step < cfg.warmup_steps:
            return cfg.lr * (step + 1) / cfg.warmup_steps
        t = (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps)
        return 0.5 * cfg.lr * (1 + math.cos(math.pi * t))

    loss_fn = ClipLoss()
    model.train()
    step = 0
    t0 = time.time()
    losses: list[float] = []
    bar = tqdm(total=total, desc="training retriever", disable=not progress, unit="step")
    for _epoch in range(cfg.epochs):
        order = list(range(len(train)))
        rng.shuffle(order)
        for a in range(0, len(order), cfg.batch_size):
            idx = order[a : a + cfg.batch_size]
            if len(idx) < 2:
                continue
            texts = [rng.choice(train[i].captions) for i in idx]
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            feats = model(pixels[idx], tokenizer(texts))
            loss = loss_fn(feats["image_features"], feats["text_features"], feats["logit_scale"])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                model.logit_scale.clamp_(0, math.log(100))
            losses.append(float(loss))
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
    bar.close()
    seconds = time.time() - t0
    model.eval()
    out_dir = Path(out)
    save_open_clip_folder(model, cfg.model, out_dir, fp16=cfg.fp16_export)
    recipe = {
        "command": f"raqo retriever train --data DATA --out {out_dir.name} --epochs {cfg.epochs} --seed {cfg.seed}",
        "config": asdict(cfg),
        "data": {"manifest": str(Path(data)), "n_train_images": len(train)},
        "train_seconds": round(seconds, 1),
        "final_loss": float(np.mean(losses[-20:])),
        "torch": torch.__version__,
        "open_clip": open_clip.__version__,
        "sha256": sha256_file(out_dir / "open_clip_model.safetensors"),
    }
    atomic_write_json(out_dir / "recipe.json", recipe)
    return recipe
