"""The preacher's name, from the title, then the description, then the transcript opening.

:func:`~services.analysis.speaker.finder.find_speaker` reads titled, capitalised names; a host
handing over the pulpit (:mod:`~services.analysis.speaker.handover`) names the preacher, and
automatic captions without capitals are weighed by
:mod:`~services.analysis.speaker.caseless`.
"""

from services.analysis.speaker.finder import OPENING_WORDS, find_speaker

__all__ = ["OPENING_WORDS", "find_speaker"]
