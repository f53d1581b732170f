"""The host handing the pulpit to the preacher: "hoje quem traz a palavra é o pastor …".

A service is often opened by someone other than the preacher: a host, an elder, the senior
pastor welcoming a guest. The host introduces themself first ("eu sou o pastor Marcos"), then
names who will preach. That *handover* names the speaker, so it outranks any self-introduction
before it. Recognised (on folded text, so captions and written text alike):

* ``quem (vai) traz(er)/ministra(r)/prega(r) a palavra (hoje) é o pastor X``;
* ``a palavra (de hoje) será trazida/ministrada/pregada pelo pastor X``;
* ``(passo|entrego) a palavra (ao|para o) pastor X``, ``convido o pastor X (para|pra) (pregar|
  trazer a palavra|ministrar)``;
* ``nosso preletor/pregador/convidado (de hoje) é o pastor X``;
* ``(please) welcome our guest speaker/preacher (this morning), Dr. X``, ``our speaker this
  morning is Pastor X``, ``bringing the word/message (today) is X``, ``preaching for us today
  is X``.

Titles here include academic ones (``Dr.``, ``doutor``, ``professor``), which a guest preacher
is often introduced by and which elsewhere in an opening do not make a preacher. A handover to
a later date ("no próximo domingo", "next week") names a future preacher and is skipped.
"""

from __future__ import annotations

import re
from typing import Final

from services.analysis.text import fold_same_length

TITLE: Final = (
    r"(?P<title>pastora|pastor|pra|pr|bispa|bispo|bishop|reverenda|reverendo|reverend|rev"
    r"|apostola|apostolo|apostle|missionaria|missionario|missionary|evangelista|evangelist"
    r"|padre|presbitera|presbitero|elder|pregador[a]?|preacher|doutora|doutor|dra|dr|doctor"
    r"|professora|professor|prof)\.?"
)
_NAME: Final = r"(?P<name>[a-z][a-z'\-]*(?:\s+[a-z][a-z'\-]*){0,5})"
_TODAY: Final = (
    r"(?:\s+(?:hoje|nesta|nessa|esta|essa|this|today|tonight|pra\s+nos|para\s+nos|for\s+us"
    r"|a\s+noite|a\s+manha|noite|manha|morning|evening|aqui|here))*"
)
_ARTICLE: Final = r"(?:(?:o|a|the|our|nosso|nossa)\s+)?"
_DEAR: Final = r"(?:(?:querid[oa]|amad[oa]|dear|beloved|irmao|irma)\s+)?"
_HANDOVER_RE: Final = re.compile(
    r"\b(?:"
    # quem traz a palavra hoje é o pastor X
    r"quem\s+(?:vai\s+)?(?:traz|trazer|trara|ministra|ministrar|ministrara|prega|pregar|pregara"
    r"|compartilha|compartilhar|entrega|entregar)\s+(?:a|essa|esta|uma)\s+(?:palavra|mensagem)"
    rf"{_TODAY}\s+(?:e|sera|vai\s+ser)\s+"
    # a palavra será trazida pelo pastor X
    r"|(?:palavra|mensagem)(?:\s+de\s+hoje)?\s+(?:sera|vai\s+ser|e|esta\s+sendo)\s+"
    r"(?:trazida|ministrada|pregada|compartilhada|entregue)\s+(?:pel[oa]|por)\s+"
    # passo a palavra ao pastor X / convido o pastor X pra pregar
    r"|(?:passo|entrego|passar|entregar)\s+a\s+palavra\s+(?:ao|a|para\s+o|para\s+a|pro|pra)\s+"
    # nosso preletor de hoje é o pastor X
    r"|(?:preletor|preletora|pregador|pregadora|convidado|convidada|palestrante)"
    rf"(?:\s+de\s+hoje)?{_TODAY}\s+(?:e|sera)\s+"
    # welcome our guest speaker Dr. X / our speaker this morning is Pastor X
    r"|(?:guest\s+)?(?:speaker|preacher)" + _TODAY + r"\s*,?\s*(?:is\s+|will\s+be\s+)?"
    r"|(?:bringing|sharing|preaching)\s+(?:us\s+)?(?:the\s+(?:word|message)\s+)?"
    + _TODAY
    + r"\s+(?:is|will\s+be)\s+"
    r")"
    rf"{_ARTICLE}{_DEAR}{TITLE}\s*{_NAME}"
)
_INVITE_RE: Final = re.compile(
    rf"\b(?:convido|chamo|convidamos|chamamos)\s+{_ARTICLE}{_DEAR}{TITLE}\s*{_NAME}"
    r"[^.!?]{0,40}?\b(?:pra|para)\s+(?:pregar|ministrar|trazer\s+a\s+palavra)"
)
_LATER_RE: Final = re.compile(
    r"\b(?:proxim[oa]|semana\s+que\s+vem|mes\s+que\s+vem|next|coming)\b[^.!?]{0,40}$"
)


def handovers(opening: str) -> list[re.Match[str]]:
    """Handover matches in ``opening`` (folded, same offsets), in order, future ones skipped.

    Each match has the groups ``title`` and ``name`` (folded; the caller reads the name from
    the original text at the same offsets).
    """
    folded = fold_same_length(opening)
    found = [*_HANDOVER_RE.finditer(folded), *_INVITE_RE.finditer(folded)]
    kept = [m for m in found if not _LATER_RE.search(folded, max(0, m.start() - 50), m.start())]
    return sorted(kept, key=lambda m: m.start())
