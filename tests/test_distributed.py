"""Rank-aware orchestration (raqo_core.training.distributed): environment parsing, the global batch split,
log prefixes, and on_main on a real two-process gloo group (the failure path included)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from raqo_core.errors import RAQOError
from raqo_core.training import distributed as D


def test_process_info_reads_the_launcher_environment(monkeypatch):
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(k, raising=False)
    assert D.process_info() == D.ProcessInfo(0, 1, 0) and D.process_info().is_main and not D.process_info().distributed
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    info = D.process_info()
    assert (info.rank, info.world_size, info.local_rank, info.is_main, info.distributed) == (3, 4, 1, False, True)
    assert D.rank_log_format("%(message)s") == "[rank 3/4] %(message)s"
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(RAQOError, match="RANK=4 and WORLD_SIZE=4 are inconsistent"):
        D.process_info()
    monkeypatch.setenv("RANK", "x")
    with pytest.raises(RAQOError, match="RANK='x' must be an integer"):
        D.process_info()


def test_the_batch_is_global_and_split_across_processes(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    assert D.per_device_batch(8, "ccd") == 4
    with pytest.raises(RAQOError, match="stage 'pro': batch_size=3 is not divisible by the 2 processes launched; expected a multiple of 2"):
        D.per_device_batch(3, "pro")
    from transformers import TrainingArguments

    from raqo_core.training.stages.base import StageConfig, trainer_args

    args = trainer_args(__import__("pathlib").Path("/tmp/x"), StageConfig(batch_size=8), 0, TrainingArguments)
    assert args["per_device_train_batch_size"] == 4 and args["ddp_find_unused_parameters"] is False
    # fp32 training: TRL's SFTConfig would otherwise default to bf16 autocast, which CPUs emulate slowly
    assert args["bf16"] is False and args["fp16"] is False
    monkeypatch.delenv("WORLD_SIZE")
    assert D.per_device_batch(3, "pro") == 3


def test_on_main_outside_a_launcher_just_runs(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert D.on_main(lambda: 41 + 1, "x") == 42
    D.barrier()  # a no-op


WORKER = textwrap.dedent(
    """
    import json, os, sys
    from pathlib import Path
    from raqo_core.errors import RAQOError
    from raqo_core.training import distributed as D

    out = Path(sys.argv[1])
    D.init_distributed()
    rank = D.process_info().rank

    def write():
        with open(out / "log.txt", "a") as fh:  # appended by whoever runs it: once means rank 0 only
            fh.write(f"written by {D.process_info().rank}\\n")
        return "result"

    got = D.on_main(write, "writing")
    lines = (out / "log.txt").read_text().splitlines()  # every process sees the file after on_main returns
    try:
        D.on_main(lambda: 1 / 0, "a step that fails")
        failure = None
    except ZeroDivisionError as exc:
        failure = f"ZeroDivisionError on rank 0: {exc}"
    except RAQOError as exc:
        failure = str(exc)
    (out / f"rank{rank}.json").write_text(json.dumps({"got": got, "lines": lines, "failure": failure}))
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_on_main_runs_once_and_a_rank0_failure_reaches_every_process(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port()), "WORLD_SIZE": "2", "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen([sys.executable, str(script), str(tmp_path)], env={**env, "RANK": str(r), "LOCAL_RANK": str(r)}) for r in range(2)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2))
    assert r0["lines"] == r1["lines"] == ["written by 0"]  # written once, by rank 0, visible to rank 1
    assert (r0["got"], r1["got"]) == ("result", None)
    assert r0["failure"] == "ZeroDivisionError on rank 0: division by zero"  # rank 0 re-raises its own error
    assert r1["failure"] == "a step that fails failed on the main process (rank 0): ZeroDivisionError: division by zero"
