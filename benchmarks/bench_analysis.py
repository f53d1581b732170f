"""Benchmark: analyse a 60-minute Portuguese sermon (~9,000 words) in under one second.

The transcript is built deterministically from the PT fixture sermon plus the paragraphs
below, with Bible references, citations and a speaker introduction rotated through the text,
then cut into caption-sized segments (12 words every 4.8 s, ~150 words per minute, so 9,000
words span an hour). ``analyze`` is timed over several runs and compared with two baselines
measured in the same process on the same text:

* ``split``: ``[w.lower() for w in text.split()]`` — the cheapest possible pass;
* ``passages``: the Bible-passage finder alone (``find_passages``).

Usage::

    .venv/bin/python benchmarks/bench_analysis.py [--runs 15] [--words 9000] [--caseless]

``--caseless`` lower-cases the transcript and strips its punctuation, as automatic captions
are, which exercises the caption-only paths (speaker, citations, restored capitals).

The process exits 1 if the median exceeds the one-second budget.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from schemas.transcripts import Transcript, TranscriptSegment  # noqa: E402
from services.analysis import analyze  # noqa: E402
from services.analysis.bible import find_passages  # noqa: E402

BUDGET_SECONDS = 1.0
WORDS_PER_SEGMENT = 12
SECONDS_PER_SEGMENT = 4.8

EXTRA_PARAGRAPHS = (
    "Quando olhamos para a história de José, vemos um jovem traído pelos próprios irmãos. "
    "Ele foi vendido como escravo, acusado injustamente e esquecido na prisão. "
    "Mesmo assim, a Bíblia diz que o Senhor era com José, e tudo o que ele fazia prosperava.",
    "Em Gênesis 50:20 José diz aos irmãos: vocês planejaram o mal contra mim, mas Deus o "
    "tornou em bem. Essa é a fé que enxerga a mão de Deus por trás das circunstâncias.",
    "Talvez você esteja na prisão de José hoje, esperando uma resposta que não chega. "
    "Quero te lembrar que o tempo de Deus não é o nosso tempo, e que ele não se atrasa.",
    "O salmista escreve no Salmo 23 que, ainda que eu ande pelo vale da sombra da morte, "
    "não temerei mal nenhum, porque tu estás comigo.",
    "Repare que o Salmo não promete ausência de vales; promete a presença do Pastor no vale. "
    "A nossa esperança não está na ausência de problemas, mas na presença de Deus.",
    "Como disse Martinho Lutero, a fé é uma confiança viva e ousada na graça de Deus. "
    "Essa confiança nos leva a orar com ousadia e a servir com alegria.",
    "Na carta aos Filipenses, capítulo 4, versículos 6 e 7, Paulo nos manda não andar ansiosos "
    "por coisa alguma, mas apresentar tudo a Deus em oração, com ações de graças.",
    "E a paz de Deus, que excede todo entendimento, guardará o nosso coração e a nossa mente "
    "em Cristo Jesus. A oração não é o último recurso; é o primeiro passo.",
    "Pense na família que ora junta. Pais que oram pelos filhos e filhos que aprendem a orar "
    "com os pais constroem um lar firme sobre a rocha.",
    "Jesus contou a parábola dos dois fundamentos em Mateus 7:24-27. A casa construída sobre a "
    "rocha caiu? Não caiu, porque estava firmada na Palavra que foi praticada.",
    "Ouvir a Palavra não é suficiente; é preciso praticar. Muitos sabem versículos de cor, "
    "mas não perdoam o irmão, não honram os pais e não cuidam dos necessitados.",
    "O perdão é uma decisão antes de ser um sentimento. Em Colossenses 3:13 somos chamados a "
    "perdoar assim como o Senhor nos perdoou.",
    "Spurgeon disse que quem não consegue perdoar destrói a ponte sobre a qual ele mesmo "
    "precisa passar. Que palavra forte para a nossa geração!",
    "A graça de Deus é suficiente para você hoje, como o Senhor disse a Paulo em Segunda "
    "Coríntios 12:9: a minha graça te basta, porque o meu poder se aperfeiçoa na fraqueza.",
    "Não existe pecado grande demais para a graça, nem pecador longe demais para o amor do "
    "Pai. A cruz de Cristo é a prova definitiva desse amor.",
    "Em Romanos 8:28 aprendemos que todas as coisas cooperam para o bem daqueles que amam a "
    "Deus, daqueles que são chamados segundo o seu propósito.",
    "Isso não quer dizer que todas as coisas são boas, mas que Deus é bom em todas as coisas, "
    "e que ele escreve certo por linhas que nós não entendemos.",
    "A salvação é obra de Deus do começo ao fim. Ele nos escolheu, nos chamou, nos justificou "
    "e um dia vai nos glorificar na sua presença.",
    "Quantas vezes a gente tenta comprar o favor de Deus com boas obras? A graça não se compra; "
    "a graça se recebe de mãos abertas e coração humilde.",
    "A Igreja primitiva perseverava na doutrina dos apóstolos, na comunhão, no partir do pão e "
    "nas orações, como lemos em Atos 2:42.",
    "Comunhão não é apenas estar no mesmo prédio no domingo; é carregar os fardos uns dos "
    "outros durante a semana, chorar com os que choram e alegrar-se com os que se alegram.",
    "Como dizia Dietrich Bonhoeffer, a graça barata é a inimiga mortal da nossa igreja. "
    "A graça verdadeira custou a vida do Filho de Deus.",
    "Davi pecou gravemente, mas quando foi confrontado pelo profeta Natã, ele se arrependeu, "
    "e o Salmo 51 é o seu clamor por um coração puro.",
    "Cria em mim, ó Deus, um coração puro e renova dentro de mim um espírito inabalável. "
    "Essa deveria ser a oração diária de cada um de nós.",
    "A esperança cristã não é um otimismo ingênuo. Ela está ancorada na ressurreição de Jesus, "
    "o fato mais bem documentado da fé cristã.",
    "Se Cristo não ressuscitou, é vã a nossa fé, diz Paulo em Primeira Coríntios 15:17. "
    "Mas Cristo ressuscitou, e por isso a nossa esperança está viva.",
)


def build_transcript(
    target_words: int, seed: int = 20251105, *, caseless: bool = False
) -> Transcript:
    """Build a deterministic sermon of about ``target_words`` words, cut into captions."""
    fixture = ROOT / "tests" / "data" / "sermons" / "pt_fe_que_vence.txt"
    lines = fixture.read_text(encoding="utf-8").splitlines()
    opening, body, closing = lines[:5], lines[5:-3], lines[-3:]
    pool = [*body, *EXTRA_PARAGRAPHS]
    rng = random.Random(seed)
    parts = list(opening)
    count = sum(len(p.split()) for p in parts) + sum(len(p.split()) for p in closing)
    while count < target_words:
        block = pool[:]
        rng.shuffle(block)
        for paragraph in block:
            parts.append(paragraph)
            count += len(paragraph.split())
            if count >= target_words:
                break
    parts.extend(closing)
    joined = " ".join(parts)
    if caseless:
        joined = "".join(ch for ch in joined.lower() if ch.isalnum() or ch.isspace() or ch == "-")
    words = joined.split()
    segments = [
        TranscriptSegment(
            start=round(i * SECONDS_PER_SEGMENT, 2),
            end=round((i + 1) * SECONDS_PER_SEGMENT, 2),
            text=" ".join(words[j : j + WORDS_PER_SEGMENT]),
        )
        for i, j in enumerate(range(0, len(words), WORDS_PER_SEGMENT))
    ]
    return Transcript(source="file", language="pt-BR", segments=segments)


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    """Run ``fn`` once to warm up, then ``runs`` times; return the durations in seconds."""
    fn()
    durations = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        durations.append(time.perf_counter() - start)
    return durations


def p95(values: list[float]) -> float:
    """The 95th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--words", type=int, default=9000)
    parser.add_argument("--caseless", action="store_true", help="lower case, no punctuation")
    args = parser.parse_args()

    transcript = build_transcript(args.words, caseless=args.caseless)
    text = transcript.text
    summary = analyze(transcript)
    minutes = (transcript.segments[-1].end or 0.0) / 60
    print(
        f"transcript: {summary.word_count} words, {len(transcript.segments)} segments, "
        f"{minutes:.1f} min; passages={len(summary.passages)} "
        f"citations={len(summary.citations)} key_points={len(summary.key_points)} "
        f"themes={summary.themes} speaker={summary.speaker!r}"
    )

    analyse_times = timed(lambda: analyze(transcript), args.runs)
    split_times = timed(lambda: [w.lower() for w in text.split()], args.runs)
    finder_times = timed(lambda: find_passages(text, "pt"), args.runs)

    rows = (("analyze", analyse_times), ("split", split_times), ("passages", finder_times))
    for name, values in rows:
        print(
            f"{name:9s} median={statistics.median(values) * 1000:8.2f} ms  "
            f"p95={p95(values) * 1000:8.2f} ms  runs={len(values)}"
        )
    median = statistics.median(analyse_times)
    print(f"ratio analyze/split    = {median / statistics.median(split_times):.1f}")
    print(f"ratio analyze/passages = {median / statistics.median(finder_times):.2f}")
    print(
        f"ratio analyze/budget   = {median / BUDGET_SECONDS:.3f}  (budget {BUDGET_SECONDS:.0f} s)"
    )
    return 0 if median < BUDGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
