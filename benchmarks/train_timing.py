"""Time one `raqo train` preset end to end, stage by stage, on the device torch finds (a GPU if any).

    python -m benchmarks.train_timing --config training/configs/embedded.yaml \
        [--mpade runs/embedded/mpade] [--run-dir /tmp/raqo-train] [--out FILE]

The run always starts from nothing but (optionally) MPADE's outputs, so every stage is trained and
timed: ``--run-dir`` must not hold an earlier run of the preset. ``--mpade`` reuses mined D_CCR/D_QRE/
D_PRO (the preset's own MPADE settings are still checked against them), which is what
``raqo train`` does when they exist. The JSON names the GPU, the library versions, each stage's
seconds, steps and loss, the policy-rewrite time inside PRO, and the final adapter's weight hash.
Default output: ``results/bench/train_<preset>_<cuda|cpu>.json``.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from benchmarks._common import write


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for name in ("torch", "transformers", "peft", "trl", "accelerate", "datasets", "open_clip_torch"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "missing"
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True, help="training/configs/<preset>.yaml")
    ap.add_argument("--mpade", default=None, help="reuse MPADE outputs from this folder (copied into the run)")
    ap.add_argument("--run-dir", default="/tmp/raqo-train-timing", help="where the run is written (must not hold it yet)")
    ap.add_argument("--out", default=None, help="JSON path (default results/bench/train_<preset>_<device>.json)")
    args = ap.parse_args()

    import torch

    from raqo_core.errors import RAQOError
    from raqo_core.io import sha256_file
    from raqo_core.training.pipeline import TrainConfig, run_training

    cfg = TrainConfig.from_yaml(args.config)
    run = Path(args.run_dir) / cfg.name
    if run.exists():
        raise RAQOError(f"{str(run)!r} already exists: timing needs a fresh run folder (pass another --run-dir)")
    if args.mpade:
        src = Path(args.mpade)
        if not (src / "meta.json").is_file():
            raise RAQOError(f"--mpade {str(src)!r} holds no MPADE outputs (meta.json missing)")
        shutil.copytree(src, run / "mpade")
    cuda = torch.cuda.is_available()
    device = {
        "kind": "cuda" if cuda else "cpu",
        "name": torch.cuda.get_device_name(0) if cuda else "cpu",
        "torch_threads": torch.get_num_threads(),
    }
    t0 = time.perf_counter()
    summary = run_training(cfg, out=args.run_dir)
    total = time.perf_counter() - t0
    stages = {
        name: {
            "seconds": s["seconds"],
            "examples": s["examples"],
            **s["metrics"],
            **({"policy_rewrites_seconds": s["policy_candidates"]["seconds"]} if "policy_candidates" in s else {}),
        }
        for name, s in summary["stages"].items()
    }
    adapter = Path(summary["adapter"])
    result = {
        "preset": cfg.name,
        "config": args.config,
        "mpade_reused": bool(args.mpade),
        "device": device,
        "versions": _versions(),
        "stages": stages,
        "stages_seconds": round(sum(s["seconds"] for s in stages.values()), 1),
        "wall_seconds": round(total, 1),
        "adapter_sha256": sha256_file(adapter / "adapter_model.safetensors"),
        "adapter": str(adapter),
    }
    write(args.out or f"results/bench/train_{cfg.name}_{device['kind']}.json", result)


if __name__ == "__main__":
    main()
