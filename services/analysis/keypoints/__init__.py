"""Extractive key points: the sentences a summary shows.

:func:`~services.analysis.keypoints.selection.select_key_points` ranks sentences with TextRank,
weighed by the preacher's own signposts (:mod:`~services.analysis.keypoints.cues`), and always
keeps the sermon's thesis, points and application (:mod:`~services.analysis.keypoints.roles`).
"""

from services.analysis.keypoints.selection import is_boilerplate, select_key_points, target_count

__all__ = ["is_boilerplate", "select_key_points", "target_count"]
