"""Attributed quotations: who said what ("como disse Agostinho, ...", "as C. S. Lewis wrote").

:func:`~services.analysis.citations.finder.find_citations` reads the punctuated, capitalised
shapes and combines them with those of automatic captions: speech tags and quotations without
capitals or punctuation (:mod:`~services.analysis.citations.caseless`) and a quotation tagged
by a pronoun after its author was named (:mod:`~services.analysis.citations.tagged`).
"""

from services.analysis.citations.finder import Citation, find_citations

__all__ = ["Citation", "find_citations"]
