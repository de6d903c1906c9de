"""Progressive preference alignment: CCD-SFT → QRE-SFT → PRO (heavy imports are lazy)."""

from raqo_core.training.pro_loss import DEFAULT_REWARD_SCALE, pro_loss

__all__ = ["DEFAULT_REWARD_SCALE", "pro_loss"]
