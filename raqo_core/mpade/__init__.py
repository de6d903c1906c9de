"""MPADE: mine a retriever's preferences from its own recall feedback (heavy imports are lazy)."""

from raqo_core.mpade.agents import AgentRequest, ChatMLLMAgent, OfflineAgent, Proposal
from raqo_core.mpade.config import MPADEConfig
from raqo_core.mpade.engine import run_mpade

__all__ = ["AgentRequest", "ChatMLLMAgent", "MPADEConfig", "OfflineAgent", "Proposal", "run_mpade"]
