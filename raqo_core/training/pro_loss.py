"""The PRO listwise preference loss (Song et al., AAAI 2024), as its authors implemented it.

For a list of candidates sorted best-first with rewards ``r`` and policy scores ``s`` (the
length-normalised log-probability of each candidate's response tokens), for every rank ``k``::

    T_kj = r_k - r_j                  for each worse candidate j > k   (the reward gap)
    T_k  = max_j T_kj                 (the best candidate's own temperature)
    L_k  = -log( exp(s_k T_k) / (exp(s_k T_k) + sum_{j>k} exp(s_j T_kj)) )

summed over k, plus an SFT term: the summed token NLL of the best candidate, weighted by
``sft_weight * (n - 1)**2``. With n = 2 this reduces to ``-log σ((r0 - r1)(s0 - s1))``.

The RAQO paper's Eq. 3 prints one shared temperature per rank; we follow the original PRO,
where each worse candidate is scaled by its own reward gap and the positive by the largest.

Rewards are the retriever's text–image cosine similarities, whose gaps are ~0.01: scaled by
CLIP's logit scale (100, see :data:`DEFAULT_REWARD_SCALE`) the gaps are O(1) and carry gradient.
"""

from __future__ import annotations

from typing import Any

DEFAULT_REWARD_SCALE = 100.0


def pro_loss(mean_logps: Any, sum_logps: Any, rewards: Any, sft_weight: float = 0.05, mask: Any = None) -> Any:
    """PRO loss for a batch of ranked lists.

    Args:
        mean_logps: ``[batch, n]`` length-normalised log-probs of each candidate's response.
        sum_logps: ``[batch, n]`` summed log-probs (the SFT term uses column 0, the best candidate).
        rewards: ``[batch, n]`` rewards, sorted best-first (non-increasing along ``n``).
        sft_weight: weight of the SFT term (scaled by ``(n - 1)**2`` as in PRO).
        mask: optional ``[batch, n]`` bool, False for padding when lists have different lengths
            (padding must come after the real candidates).

    Returns:
        a scalar tensor (mean over the batch).
    """
    import torch

    if mean_logps.shape != rewards.shape or sum_logps.shape != rewards.shape or rewards.ndim != 2:
        raise ValueError(
            f"mean_logps {tuple(mean_logps.shape)}, sum_logps {tuple(sum_logps.shape)} and rewards "
            f"{tuple(rewards.shape)} must all be [batch, n]"
        )
    b, n = rewards.shape
    if n < 2:
        raise ValueError(f"PRO needs lists of at least 2 candidates, got n={n}")
    if mask is None:
        mask = torch.ones_like(rewards, dtype=torch.bool)
    mask = mask.bool()
    lengths = mask.sum(dim=1)
    if (lengths < 2).any():
        raise ValueError(f"every list needs at least 2 candidates; got lengths {lengths.tolist()}")
    r = torch.where(mask, rewards, torch.zeros_like(rewards))
    total = torch.zeros(b, dtype=mean_logps.dtype, device=mean_logps.device)
    for k in range(n - 1):
        neg_mask = mask[:, k + 1 :]
        valid = mask[:, k] & neg_mask.any(dim=1)
        if not valid.any():
            continue
        gaps = (r[:, k : k + 1] - r[:, k + 1 :]).clamp_min(0.0)  # T_kj, ≥ 0 for sorted lists
        gaps = torch.where(neg_mask, gaps, torch.zeros_like(gaps))
        pos_t = gaps.max(dim=1).values  # T_k
        pos = mean_logps[:, k] * pos_t
        neg = mean_logps[:, k + 1 :] * gaps
        neg = torch.where(neg_mask, neg, torch.full_like(neg, float("-inf")))
        logits = torch.cat([pos.unsqueeze(1), neg], dim=1)
        term = torch.logsumexp(logits, dim=1) - pos
        total = total + torch.where(valid, term, torch.zeros_like(term))
    sft = -sum_logps[:, 0] * ((lengths - 1).to(sum_logps.dtype) ** 2)
    return (total + sft_weight * sft).mean()
