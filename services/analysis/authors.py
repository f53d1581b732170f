"""Who may be quoted: the table of known authors, and the names that are never authors.

:data:`KNOWN_AUTHORS` are matched in any case (automatic captions are lower case) and shown in
the table's spelling; :data:`NON_AUTHORS` are first words that never start an author
(biblical figures and books, God, pronouns and forms of address).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from services.analysis.text import phrase_list, word_set

__all__ = ["KNOWN_AUTHORS", "NON_AUTHORS", "misheard_known"]

KNOWN_AUTHORS: Final = phrase_list(
    """
    Santo Agostinho
    Agostinho de Hipona
    Agostinho
    Saint Augustine
    Augustine
    C. S. Lewis
    C.S. Lewis
    CS Lewis
    Charles Spurgeon
    Spurgeon
    Martinho Lutero
    Lutero
    Martin Luther King
    Martin Luther
    João Calvino
    Calvino
    John Calvin
    Calvin
    John Wesley
    Wesley
    A. W. Tozer
    Tozer
    Dietrich Bonhoeffer
    Bonhoeffer
    D. L. Moody
    Moody
    Billy Graham
    Madre Teresa de Calcutá
    Madre Teresa
    Mother Teresa
    Blaise Pascal
    Pascal
    Kierkegaard
    G. K. Chesterton
    Chesterton
    Tim Keller
    Timothy Keller
    Oswald Chambers
    E. M. Bounds
    Andrew Murray
    Max Lucado
    Francis Schaeffer
    Henri Nouwen
    Elisabeth Elliot
    Amy Carmichael
    George Whitefield
    Smith Wigglesworth
    Leonard Ravenhill
    J. I. Packer
    Philip Yancey
    Eugene Peterson
    John Piper
    John Stott
    Jonathan Edwards
    Corrie ten Boom
    Hudson Taylor
    William Carey
    Jim Elliot
    George Müller
    Hernandes Dias Lopes
    Augustus Nicodemus
    Paul Washer
    Martyn Lloyd-Jones
    Lloyd-Jones
    Watchman Nee
    Tertuliano
    Tertullian
    Francisco de Assis
    Tomás de Aquino
    Thomas Aquinas
    R. C. Sproul
    Ravi Zacharias
    Charles Finney
    Caio Fábio
    John Bunyan
    Matthew Henry
    Francis Chan
    Paul Tripp
    Richard Baxter
    John Owen
    Thomas Watson
    John Newton
    Fanny Crosby
    Brennan Manning
    Jim Cymbala
    Rick Warren
    Charles Stanley
    Adrian Rogers
    Warren Wiersbe
    John MacArthur
    Tony Evans
    N. T. Wright
    Dallas Willard
    Richard Foster
    Russell Shedd
    Ariovaldo Ramos
    Ricardo Gondim
    Ed René Kivitz
    Luiz Sayão
    Hernandes Lopes
    Teresa de Ávila
    Tomás de Kempis
    Thomas à Kempis
    Richard Wurmbrand
    Irmão André
    Brother Andrew
    William Booth
    David Livingstone
    Charles Wesley
    Isaac Watts
    A. B. Simpson
    Abraham Kuyper
    Karl Barth
    João Crisóstomo
    John Chrysostom
    Atanásio
    Athanasius
    Jerônimo
    Dostoiévski
    Dostoevsky
    Tolstói
    Tolstoy
    J. R. R. Tolkien
    Tolkien
    Nelson Mandela
    Winston Churchill
    Abraham Lincoln
    Albert Einstein
    Victor Hugo
    Søren Kierkegaard
    C. H. Spurgeon
    Dwight Moody
    Lewis Smedes
    Jerry Bridges
    Randy Alcorn
    Timothy Keller
    Agostinho de Hipona
    Madre Teresa
    """
)

# First words (folded) that can never start an author: biblical figures and books, God,
# pronouns and forms of address. Full names beginning with one ("John Wesley") survive
# because only single-word or wholly-excluded authors are rejected.
NON_AUTHORS: Final = word_set(
    """
    deus jesus cristo senhor espirito santo biblia escritura escrituras palavra evangelho
    paulo pedro joao tiago judas mateus marcos lucas moises davi salomao isaias jeremias
    ezequiel daniel oseias joel amos obadias jonas miqueias naum habacuque sofonias ageu
    zacarias malaquias abraao isaque jaco jose josue samuel elias eliseu neemias esdras ester
    rute jo noe adao eva maria marta lazaro timoteo tito filemom estevao barnabe nicodemos
    pilatos herodes salmista apostolo profeta pregador rei sao saint sr sra
    god christ lord spirit holy bible scripture word gospel paul peter john james jude matthew
    mark luke moses david solomon isaiah jeremiah ezekiel hosea obadiah jonah micah nahum
    habakkuk zephaniah haggai zechariah malachi abraham isaac jacob joseph joshua elijah
    elisha nehemiah ezra esther ruth job noah adam eve mary martha lazarus timothy titus
    philemon stephen barnabas pilate herod psalmist apostle prophet king
    ele ela eles elas voce voces eu nos alguem ninguem irmao irmaos irma irmas igreja amados
    amado amigo amigos pessoal galera mae pai filho filha pastor pastora bispo
    he she they we i you someone somebody everyone anyone church brother brothers sister
    sisters friends friend mom dad mother father son daughter people
    """
)


def _one_edit_apart(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` differ by one substitution, insertion or deletion."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    if len(a) > len(b):
        a, b = b, a
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            rest = a[i + 1 :] if len(a) == len(b) else a[i:]
            return rest == b[i + 1 :]
    return True


def misheard_known(words: list[str], known: Mapping[str, tuple[str, ...]]) -> str | None:
    """The known author a recogniser misheard by one letter in the surname ("Philip Yansey").

    Args:
        words: the name's folded words.
        known: folded first words of known authors -> their folded full names.

    Returns:
        The known name (folded, as a key into the caller's table) or None. The first names
        must agree exactly and the surname have five letters or more, so "Paul Tripp" is never
        taken for someone else.
    """
    if len(words) < 2:
        return None
    for name in known.get(words[0], ()):
        theirs = name.split()
        same_first = len(theirs) == len(words) and theirs[:-1] == words[:-1]
        if same_first and len(theirs[-1]) >= 5 and _one_edit_apart(words[-1], theirs[-1]):
            return name
    return None
