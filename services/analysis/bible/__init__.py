"""Bible passage finder for sermon transcripts (Portuguese and English, written and spoken).

Public interface::

    from services.analysis.bible import PassageMention, book_name, find_passages

    find_passages("Leia Romanos 8, versículos 28 a 30", language="pt")
    # [PassageMention(book_id='ROM', chapter=8, verse_start=28, verse_end=30,
    #                 reference='Romanos 8:28-30', start=5, end=34)]
"""

from services.analysis.bible.books import book_name
from services.analysis.bible.finder import PassageMention, find_passages, format_reference

__all__ = ["PassageMention", "book_name", "find_passages", "format_reference"]
