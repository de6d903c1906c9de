"""ONNX Runtime vs torch throughput (fp32 and int8) and int8 Recall@1 loss on the embedded benchmark.

python -m benchmarks.onnx_vs_torch --out results/bench/onnx_vs_torch.json [--threads 2] [--models embedded,open_clip:ViT-B-32]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchmarks._common import timeit, write


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="results/bench/onnx_vs_torch.json")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", default="embedded,open_clip:ViT-B-32")
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    import numpy as np
    import torch
    from PIL import Image

    from raqo_core.evaluation.evaluate import EvalSetup, evaluate
    from raqo_core.paths import embedded_benchmark_dir
    from raqo_core.retriever.onnx_backend import OnnxCLIPRetriever
    from raqo_core.retriever.onnx_export import export_onnx
    from raqo_core.retriever.registry import load_retriever

    torch.set_num_threads(a.threads)
    res: dict = {"threads": a.threads, "device": a.device, "models": {}}
    for spec in a.models.split(","):
        src = load_retriever(spec, device=a.device)
        d = Path(tempfile.mkdtemp(prefix="raqo-onnx-"))
        manifest = export_onnx(load_retriever(spec), d, int8=True, fp16=a.device.startswith("cuda"))
        size = src.model.visual.image_size
        size = size if isinstance(size, int) else size[0]
        rng = np.random.default_rng(0)
        imgs = [Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)) for _ in range(32)]
        texts = [f"a large solid red circle left of a small outline blue square {i}" for i in range(32)]
        backends = {
            "torch": src,
            "ort_fp32": OnnxCLIPRetriever(d, device=a.device, intra_op_threads=a.threads),
            "ort_int8": OnnxCLIPRetriever(d, precision="int8", intra_op_threads=a.threads),
        }
        if a.device.startswith("cuda"):
            backends["ort_fp16"] = OnnxCLIPRetriever(d, device=a.device, precision="fp16")
        row: dict = {"parity": manifest["parity"], "providers": {k: getattr(v, "providers", ["torch"])[0] for k, v in backends.items()}}
        for bs in (1, 32):
            reps = 20 if bs == 1 else 5
            for name, r in backends.items():
                ti = timeit(lambda r=r, imgs=imgs, bs=bs: r.encode_images(imgs[:bs], batch_size=bs), reps)
                tt = timeit(lambda r=r, texts=texts, bs=bs: r.encode_texts(texts[:bs], batch_size=bs), reps)
                row.setdefault(f"batch_{bs}", {})[name] = {
                    "images_per_s": round(bs / (sum(ti) / len(ti)), 1),
                    "texts_per_s": round(bs / (sum(tt) / len(tt)), 1),
                }
            b = row[f"batch_{bs}"]
            for name in backends:
                if name != "torch":
                    b[name]["image_speedup_vs_torch"] = round(b[name]["images_per_s"] / b["torch"]["images_per_s"], 2)
                    b[name]["text_speedup_vs_torch"] = round(b[name]["texts_per_s"] / b["torch"]["texts_per_s"], 2)
        if spec == "embedded":
            data = embedded_benchmark_dir(0)
            r1 = {name: evaluate(data, r, EvalSetup(register="user", progress=False))["t2i"]["R@1"] for name, r in backends.items()}
            row["embedded_user_t2i_R@1"] = r1
            row["int8_R@1_loss_points"] = round(r1["torch"] - r1["ort_int8"], 2)
        res["models"][spec] = row
    res["targets"] = {"ort_fp32_batch1_speedup": 1.4, "int8_batch32_speedup": 2.0, "int8_R@1_loss_points_max": 0.5}
    write(a.out, res)


if __name__ == "__main__":
    main()
