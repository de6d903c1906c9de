"""Which process does what when ``raqo train`` runs under ``accelerate launch`` or ``torchrun``.

Each launched process runs the whole recipe. The transformers ``Trainer`` shards every stage's batches
across them (DDP); everything else is the main process's job:

- MPADE and PRO's policy rewrites run on the main process while the others wait (:func:`main_first`),
  then every process reads the files it wrote;
- only the main process writes shared files (adapters, ``stage.json``, summaries);
- a failure on the main process is re-raised on every process instead of leaving them at a barrier;
- log lines say which rank speaks (:func:`rank_log_format`).

Outside a launcher (no ``WORLD_SIZE`` or ``WORLD_SIZE=1``) every helper is a no-op.
"""

from __future__ import annotations

import atexit
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from raqo_core.errors import RAQOError

T = TypeVar("T")
logger = logging.getLogger(__name__)
# How long the other processes wait for the main process's MPADE / policy step (override: RAQO_DIST_TIMEOUT_S).
# A collective's default (30 min under gloo, 10 under NCCL) is shorter than MPADE on a large dataset.
DEFAULT_TIMEOUT_S = 6 * 3600


@dataclass(frozen=True)
class ProcessInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise RAQOError(f"environment variable {name}={raw!r} must be an integer (set by accelerate launch / torchrun)") from None


def process_info() -> ProcessInfo:
    """This process's rank, from the variables torchrun and accelerate launch set."""
    world = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    if world < 1 or not 0 <= rank < world:
        raise RAQOError(f"RANK={rank} and WORLD_SIZE={world} are inconsistent; expected 0 <= RANK < WORLD_SIZE")
    return ProcessInfo(rank, world, _env_int("LOCAL_RANK", rank))


def init_distributed() -> ProcessInfo:
    """Join the process group when launched with several processes (gloo on CPU, NCCL on GPUs), with a
    timeout long enough for the main process's MPADE; transformers' ``Trainer`` reuses the group."""
    info = process_info()
    if not info.distributed:
        return info
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        cuda = torch.cuda.is_available() and os.environ.get("ACCELERATE_USE_CPU", "").lower() not in ("1", "true")
        if cuda:
            torch.cuda.set_device(info.local_rank)
        timeout = timedelta(seconds=_env_int("RAQO_DIST_TIMEOUT_S", DEFAULT_TIMEOUT_S))
        dist.init_process_group(backend="nccl" if cuda else "gloo", rank=info.rank, world_size=info.world_size, timeout=timeout)
        atexit.register(_destroy_group)  # a group left to interpreter teardown can abort a process (SIGABRT in gloo)
        logger.info("joined the process group: rank %d of %d (%s)", info.rank, info.world_size, "nccl" if cuda else "gloo")
    return info


def _destroy_group() -> None:
    """Leave the process group this module created, before the interpreter tears down the backend's threads."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _group_ready() -> bool:
    try:
        import torch.distributed as dist
    except ImportError:  # pragma: no cover - torch is a training dependency
        return False
    return bool(dist.is_available() and dist.is_initialized())


def barrier() -> None:
    if process_info().distributed and _group_ready():
        import torch.distributed as dist

        dist.barrier()


def _broadcast(value: Any) -> Any:
    """The main process's ``value`` on every process (a collective: every process must call it)."""
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def on_main(fn: Callable[[], T], what: str) -> T | None:
    """Run ``fn`` on the main process while the others wait; the main process's result (or ``None`` on the
    others), after every process has passed the same point. A failure on the main process raises
    everywhere, naming ``what`` — the other processes never hang at the barrier."""
    info = process_info()
    if not (info.distributed and _group_ready()):
        return fn()
    result: T | None = None
    error = None
    logger.info("%s: %s", what, "running on rank 0" if info.is_main else "waiting for rank 0")
    if info.is_main:
        try:
            result = fn()
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}"
            _broadcast(error)
            raise
    error = _broadcast(error)
    if error is not None:
        raise RAQOError(f"{what} failed on the main process (rank 0): {error}")
    return result


def rank_log_format(base: str = "%(levelname)s %(name)s: %(message)s") -> str:
    """``base`` prefixed with ``[rank R/W]`` when several processes run."""
    info = process_info()
    return f"[rank {info.rank}/{info.world_size}] {base}" if info.distributed else base


def per_device_batch(batch_size: int, stage: str) -> int:
    """A stage's ``batch_size`` is examples per optimiser step across all processes; each process takes
    ``batch_size / world_size`` (so a 2-process run takes the same steps as a 1-process one)."""
    world = process_info().world_size
    if batch_size % world:
        raise RAQOError(
            f"stage {stage!r}: batch_size={batch_size} is not divisible by the {world} processes launched; "
            f"expected a multiple of {world} (it is the global batch, split across processes)"
        )
    return batch_size // world
