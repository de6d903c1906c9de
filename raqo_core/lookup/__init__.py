"""Retriever-grounded look-up: replace the words a retriever does not know by words it does (see :mod:`.lookup`)."""

from raqo_core.lookup.lookup import ConceptLookup, Hint, LookupConfig, embedded_lookup_dir
from raqo_core.lookup.sources import SOURCE_REGISTRY, Candidate, LexiconSource, WordNetSource
from raqo_core.lookup.vocabulary import RetrieverVocabulary

__all__ = [
    "SOURCE_REGISTRY",
    "Candidate",
    "ConceptLookup",
    "Hint",
    "LexiconSource",
    "LookupConfig",
    "RetrieverVocabulary",
    "WordNetSource",
    "embedded_lookup_dir",
]
