"""Images/s and texts/s at batch 1 and 32: the embedded retriever and ViT-B-32 (random weights).

python -m benchmarks.encode_throughput --out results/bench/encode_throughput.json [--threads 2]
"""

from __future__ import annotations

import argparse

from benchmarks._common import timeit, write


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="results/bench/encode_throughput.json")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--models", default="embedded,open_clip:ViT-B-32")
    a = ap.parse_args()
    import numpy as np
    import torch
    from PIL import Image

    from raqo_core.retriever.registry import load_retriever

    torch.set_num_threads(a.threads)
    res: dict = {"device": a.device, "models": {}}
    for spec in a.models.split(","):
        r = load_retriever(spec, device=a.device)
        size = r.model.visual.image_size
        size = size if isinstance(size, int) else size[0]
        rng = np.random.default_rng(0)
        imgs = [Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)) for _ in range(32)]
        texts = [f"a large solid red circle left of a small outline blue square number {i}" for i in range(32)]
        row = {}
        for bs in (1, 32):
            reps = 20 if bs == 1 else 5
            ti = timeit(lambda r=r, imgs=imgs, bs=bs: r.encode_images(imgs[:bs], batch_size=bs), reps)
            tt = timeit(lambda r=r, texts=texts, bs=bs: r.encode_texts(texts[:bs], batch_size=bs), reps)
            row[f"batch_{bs}"] = {"images_per_s": round(bs / (sum(ti) / len(ti)), 1), "texts_per_s": round(bs / (sum(tt) / len(tt)), 1)}
        res["models"][spec] = row
    write(a.out, res)


if __name__ == "__main__":
    main()
