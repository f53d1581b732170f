"""The initial prompt that primes Whisper with the names of the books of the Bible.

Whisper conditions each window on a prompt of earlier text. Given the books' names (and one
reference written the way the passage finder reads best), it spells "Tessalonicenses",
"Habacuque" or "Filipenses" as written instead of as heard, and writes chapter and verse as
digits ("Romanos 8:28") more often than as words. ``benchmarks/eval_audio.py`` measures what
this does to the passages found from audio (README, "Speech recognition").
"""

from __future__ import annotations

from typing import Final

_PT: Final = (
    "Leitura bíblica: Gênesis, Êxodo, Levítico, Números, Deuteronômio, Josué, Juízes, Rute, "
    "Samuel, Reis, Crônicas, Esdras, Neemias, Ester, Jó, Salmos, Provérbios, Eclesiastes, "
    "Cânticos, Isaías, Jeremias, Lamentações, Ezequiel, Daniel, Oseias, Joel, Amós, Obadias, "
    "Jonas, Miqueias, Naum, Habacuque, Sofonias, Ageu, Zacarias, Malaquias, Mateus, Marcos, "
    "Lucas, João, Atos, Romanos, Coríntios, Gálatas, Efésios, Filipenses, Colossenses, "
    "Tessalonicenses, Timóteo, Tito, Filemom, Hebreus, Tiago, Pedro, Judas, Apocalipse. "
    "Romanos 8:28."
)
_EN: Final = (
    "Scripture reading: Genesis, Exodus, Leviticus, Numbers, Deuteronomy, Joshua, Judges, "
    "Ruth, Samuel, Kings, Chronicles, Ezra, Nehemiah, Esther, Job, Psalms, Proverbs, "
    "Ecclesiastes, Song of Songs, Isaiah, Jeremiah, Lamentations, Ezekiel, Daniel, Hosea, "
    "Joel, Amos, Obadiah, Jonah, Micah, Nahum, Habakkuk, Zephaniah, Haggai, Zechariah, "
    "Malachi, Matthew, Mark, Luke, John, Acts, Romans, Corinthians, Galatians, Ephesians, "
    "Philippians, Colossians, Thessalonians, Timothy, Titus, Philemon, Hebrews, James, Peter, "
    "Jude, Revelation. Romans 8:28."
)


def bible_prompt(language: str | None) -> str | None:
    """The book-names prompt for ``language`` (``pt``/``en``, any region), None for others.

    An unknown language (detected later by Whisper) gets no prompt: a prompt in the wrong
    language pulls the transcript towards it.
    """
    code = (language or "").strip().lower().replace("_", "-").split("-")[0]
    return {"pt": _PT, "en": _EN}.get(code)
