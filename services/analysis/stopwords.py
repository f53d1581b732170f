"""Built-in Portuguese and English stop-word lists (accent-folded, lowercase).

The lists are written out here rather than downloaded (the analyser must work offline and
deterministically). They cover function words plus the filler of spoken sermons ("né",
"tá", "gente", "okay") so that keyword and key-point scoring is not dominated by them.
Every entry is accent-folded because all matching happens on folded tokens.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from schemas.summary import Language
from services.analysis.text import word_set

_PT = """
a à ao aos as às até com como contra da das de dela dele deles delas do dos e é ela elas ele
eles em entre era eram essa essas esse esses esta estas este estes eu foi foram há isso isto
já la lá lhe lhes mais mas me mesmo meu meus minha minhas muito muitos muita muitas na nas
não nem no nos nós o os ou para pela pelas pelo pelos por porque pois quando que quem se sem
ser seu seus sua suas só também te tem têm ter teu teus tua tuas um uma umas uns você vocês
vos à aquela aquelas aquele aqueles aquilo cada onde qual quais quanto quanta quantos quantas
sobre sob depois antes ainda agora aqui ali assim então entao bem tão tanto tanta tantos tantas
está estão estava estavam estou estamos estive esteve estivemos estiveram seja sejam sou somos
são fui fomos vai vão vou vamos ia iam tinha tinham tenho temos tive teve tivemos tiveram
faz fazer feito fez fazem pode podem posso podemos poderia deve devem nosso nossa nossos nossas
dessa desse desta deste disso disto daquele daquela dali daqui num numa nuns numas pra pro
pras pros né ne tá ta tô to aí ai daí dai lo los las seria seriam será serão sido sendo
hoje ontem amanhã sempre nunca também tambem outro outra outros outras todo toda todos todas
algum alguma alguns algumas nenhum nenhuma qualquer tudo nada coisa coisas gente vez vezes
dia dias ano anos cá sim olha veja vejam viu sabe sabem diz disse dizer falar falou quero
quer querem queria porém porem contudo entretanto logo enquanto embora apenas mesma mesmos
mesmas lhe certo certa certos certas tipo aquilo ok okay hein ah oh ó uai
"""

_EN = """
a about above after again against all am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further
had has have having he her here hers herself him himself his how i if in into is it its itself
just me more most my myself no nor not now of off on once only or other our ours ourselves out
over own same she should so some such than that the their theirs them themselves then there
these they this those through to too under until up very was we were what when where which
while who whom why will with would you your yours yourself yourselves also yet let us get got
go going gonna wanna one ones thing things really right okay ok oh well yeah say says said
know like just even much many every still may might must shall lot lots today way ever never
always something anything everything nothing someone somebody anyone everyone come came make
made want see look there's it's that's don't can't won't i'm you're we're they're i've
"""


PT_STOPWORDS: Final = word_set(_PT, folded=True)
EN_STOPWORDS: Final = word_set(_EN, folded=True)

STOPWORDS: Final = MappingProxyType({"pt": PT_STOPWORDS, "en": EN_STOPWORDS})


def stopwords_for(language: Language) -> frozenset[str]:
    """Return the folded stop-word set for ``language``."""
    return STOPWORDS[language]
