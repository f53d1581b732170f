"""Sermon analysis: a transcript in, a full :class:`~schemas.summary.SummaryDTO` out.

``analyze`` is the one entry point the worker's analyse stage and ``culto analyze`` call.
Bible passages come from :mod:`services.analysis.bible`; themes, key points, citations,
speaker and language are computed by the sibling modules of this package.
"""

from services.analysis.analyzer import analyze

__all__ = ["analyze"]
