"""The training stages, one module each, registered here — the only place that lists them.

A stage is a class with ``name``, ``config_class`` (a :class:`~raqo_core.training.stages.base.StageConfig`
subclass: its settings, checked in ``__post_init__``), ``ablation`` (the Table 4 row that leaves it out),
``modes`` (the rewriter modes it trains) and ``train(ctx, cfg, out) -> info``. A new stage is one module
plus one :func:`register_stage` line; the registration order is the order a recipe runs them in::

    register_stage("dpo", "mypackage.dpo_stage:DPOStage")   # then `stages: [ccd, qre, pro, dpo]` in a config
"""

from __future__ import annotations

from typing import Any

from raqo_core.registry import Registry

STAGES: Registry[Any] = Registry("training stage")


def register_stage(name: str, stage: Any) -> None:
    """Register ``name`` → a stage class (or ``"module:Class"``, imported on first use)."""
    STAGES.register(name, stage)


register_stage("ccd", "raqo_core.training.stages.ccd:CCDStage")
register_stage("qre", "raqo_core.training.stages.qre:QREStage")
register_stage("pro", "raqo_core.training.stages.pro:PROStage")


def stage_names() -> tuple[str, ...]:
    """Every registered stage, in the order a recipe runs them."""
    return STAGES.names()


def get_stage(name: str) -> Any:
    """The stage class registered as ``name``."""
    return STAGES.get(name)
