"""Inline transcript parsing: txt, WebVTT, SubRip, and every class of bad input."""

from __future__ import annotations

import codecs

import pytest

from culto.errors import TranscriptError
from schemas.transcripts import Transcript
from services.transcripts import parse_transcript

# --- txt ------------------------------------------------------------------------------------------


def test_txt_lines_become_segments_without_times() -> None:
    t = parse_transcript("Deus é amor.\n\n  João   3:16 diz  \r\nAmém.\n", "txt")
    assert [s.text for s in t.segments] == ["Deus é amor.", "João 3:16 diz", "Amém."]
    assert all(s.start is None and s.end is None for s in t.segments)
    assert t.source == "inline"
    assert t.text == "Deus é amor. João 3:16 diz Amém."


def test_txt_keeps_angle_brackets_and_ampersands() -> None:
    t = parse_transcript("fé & esperança <3", "txt")
    assert t.text == "fé & esperança <3"


def test_txt_bytes_with_utf8_bom() -> None:
    t = parse_transcript(codecs.BOM_UTF8 + "Graça e paz".encode(), "txt")
    assert t.text == "Graça e paz"


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-32"])
def test_txt_utf16_and_utf32_with_bom(codec: str) -> None:
    data = "Oração".encode(codec)
    if codec == "utf-16-be":
        data = codecs.BOM_UTF16_BE + data
    assert parse_transcript(data, "txt").text == "Oração"


def test_txt_nfc_normalisation() -> None:
    decomposed = "Joa\u0303o"  # "João" with a combining tilde
    assert parse_transcript(decomposed, "txt").text == "João"


def test_txt_that_is_really_vtt_is_parsed_as_vtt() -> None:
    t = parse_transcript("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nOlá\n", "txt")
    assert t.segments[0].start == 1.0
    assert t.text == "Olá"


def test_txt_that_is_really_srt_is_parsed_as_srt() -> None:
    t = parse_transcript("1\n00:00:01,000 --> 00:00:02,000\nOlá\n", "txt")
    assert t.segments[0].start == 1.0 and t.text == "Olá"


def test_source_can_be_recorded() -> None:
    assert parse_transcript("x", "txt", source="file").source == "file"


# --- WebVTT ---------------------------------------------------------------------------------------

VTT = """WEBVTT - sermão de domingo
Kind: captions
Language: pt-BR

NOTE
Este arquivo foi gerado à mão.
00:00:00.000 --> 00:00:01.000 isto é só uma nota

STYLE
::cue { color: yellow; }

REGION
id:fred width:40%

intro
00:00:01.000 --> 00:00:04.500 align:start position:10% line:0
<v Pr. João>Boa noite, <i>igreja</i>!</v>

2
00:01:02.250 --> 00:01:05.000
<c.colorE5E5E5>Romanos</c><00:01:03.000><c> 8:28</c> diz &amp; ensina
que &lt;tudo&gt; coopera&nbsp;para o bem

01:00:00.000 --> 01:00:01.000
<ruby>amém<rt>a-mém</rt></ruby> <lang en>amen</lang> <b>fim</b> <u>!</u>
"""


def test_vtt_full_feature_file() -> None:
    t = parse_transcript(VTT, "vtt")
    assert t.language == "pt-BR"
    assert [(s.start, s.end) for s in t.segments] == [
        (1.0, 4.5),
        (62.25, 65.0),
        (3600.0, 3601.0),
    ]
    assert [s.text for s in t.segments] == [
        "Boa noite, igreja!",
        "Romanos 8:28 diz & ensina que <tudo> coopera para o bem",
        "amém amen fim !",
    ]


def test_vtt_minutes_only_timestamps_and_crlf() -> None:
    t = parse_transcript(b"WEBVTT\r\n\r\n01:02.5 --> 01:03.000\r\nFe\r\n", "vtt")
    assert t.segments[0].start == pytest.approx(62.5)


def test_vtt_end_before_start_is_clamped() -> None:
    t = parse_transcript("WEBVTT\n\n00:00:05.000 --> 00:00:04.000\nFé\n", "vtt")
    assert t.segments[0].start == t.segments[0].end == 5.0


def test_vtt_youtube_auto_captions_are_deduplicated() -> None:
    vtt = (
        "WEBVTT\nKind: captions\nLanguage: pt\n\n"
        "00:00:00.000 --> 00:00:02.350 align:start position:0%\n \n"
        "Deus<00:00:00.480><c> é</c><00:00:00.960><c> amor</c>\n\n"
        "00:00:02.350 --> 00:00:02.360 align:start position:0%\nDeus é amor\n \n\n"
        "00:00:02.360 --> 00:00:05.000 align:start position:0%\nDeus é amor\n"
        "João<00:00:03.000><c> capítulo</c><00:00:03.500><c> três</c>\n\n"
        "00:00:05.000 --> 00:00:05.010 align:start position:0%\nJoão capítulo três\n \n\n"
        "00:00:05.010 --> 00:00:08.000 align:start position:0%\nJoão capítulo três\n"
        "versículo<00:00:06.000><c> dezesseis</c>\n\n"
    )
    t = parse_transcript(vtt, "vtt")
    assert t.language == "pt"
    assert t.text == "Deus é amor João capítulo três versículo dezesseis"
    assert [s.start for s in t.segments] == [0.0, 2.36, 5.01]
    assert t.segments[-1].end == 8.0


def test_vtt_no_header_is_malformed() -> None:
    with pytest.raises(TranscriptError) as info:
        parse_transcript("00:00:01.000 --> 00:00:02.000\nOlá\n", "vtt")
    assert info.value.code == "malformed_vtt"
    assert "line 1" in info.value.message and "WEBVTT" in info.value.message


def test_vtt_bad_timestamp_names_the_line() -> None:
    with pytest.raises(TranscriptError) as info:
        parse_transcript(
            "WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.000\nOk\n\n00:0x:01 --> 2\nNo\n", "vtt"
        )
    assert info.value.code == "malformed_vtt"
    assert info.value.message.startswith("line 7: bad timestamp '00:0x:01'")
    assert info.value.details == {"line": 7}


def test_vtt_missing_end_timestamp() -> None:
    with pytest.raises(TranscriptError, match="line 3: bad timestamp") as info:
        parse_transcript("WEBVTT\n\n00:00:01.000 -->\nOlá\n", "vtt")
    assert info.value.code == "malformed_vtt"


def test_vtt_without_cues_is_malformed() -> None:
    with pytest.raises(TranscriptError, match="no cues") as info:
        parse_transcript("WEBVTT\n\nNOTE só uma nota\n", "vtt")
    assert info.value.code == "malformed_vtt"


def test_vtt_text_without_timing_is_malformed() -> None:
    with pytest.raises(TranscriptError, match="line 3: expected a cue timing line") as info:
        parse_transcript("WEBVTT\n\nisto não é uma legenda\nnem isto\n", "vtt")
    assert info.value.code == "malformed_vtt"


def test_vtt_header_glued_to_first_cue() -> None:
    with pytest.raises(TranscriptError, match="line 2: a blank line must separate") as info:
        parse_transcript("WEBVTT\n00:00:01.000 --> 00:00:02.000\nOlá\n", "vtt")
    assert info.value.code == "malformed_vtt"


def test_vtt_with_only_markup_is_empty() -> None:
    with pytest.raises(TranscriptError) as info:
        parse_transcript("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<c></c>\n", "vtt")
    assert info.value.code == "empty_transcript"


# --- SubRip ---------------------------------------------------------------------------------------

SRT = """1
00:00:01,000 --> 00:00:03,500
{\\an8}<i>Boa noite,</i> igreja!

2
00:00:04,000 --> 00:00:06,000 X1:100 X2:200 Y1:10 Y2:20
<font color="#ffff00">Salmo 23</font>
<b>O Senhor é o meu pastor</b>

3
01:02:03,004 --> 01:02:04,000
Amém &amp; aleluia

"""


def test_srt_full_feature_file() -> None:
    t = parse_transcript(SRT.encode(), "srt")
    assert [s.text for s in t.segments] == [
        "Boa noite, igreja!",
        "Salmo 23 O Senhor é o meu pastor",
        "Amém & aleluia",
    ]
    assert [(s.start, s.end) for s in t.segments] == [
        (1.0, 3.5),
        (4.0, 6.0),
        (3723.004, 3724.0),
    ]
    assert t.language is None


def test_srt_tolerates_dot_millis_missing_index_and_blank_line_in_text() -> None:
    srt = (
        "00:00:01.000 --> 00:00:02.000\nPrimeira\n\nainda a primeira\n\n"
        "2\n00:00:03,000 --> 00:00:04,000\nSegunda\n"
    )
    t = parse_transcript(srt, "srt")
    assert [s.text for s in t.segments] == ["Primeira ainda a primeira", "Segunda"]


def test_srt_rolling_captions_are_deduplicated() -> None:
    srt = (
        "1\n00:00:00,000 --> 00:00:02,000\nDeus\n\n"
        "2\n00:00:02,000 --> 00:00:03,000\nDeus é\n\n"
        "3\n00:00:03,000 --> 00:00:04,000\nDeus é amor\n\n"
        "4\n00:00:04,000 --> 00:00:06,000\nDeus é amor\nJoão três\n\n"
        "5\n00:00:06,000 --> 00:00:08,000\nJoão três\ndezesseis\n\n"
    )
    t = parse_transcript(srt, "srt")
    assert t.text == "Deus é amor João três dezesseis"
    assert [(s.start, s.end) for s in t.segments] == [(0.0, 4.0), (4.0, 6.0), (6.0, 8.0)]


def test_srt_ordinary_repeats_are_kept() -> None:
    srt = (
        "1\n00:00:01,000 --> 00:00:02,000\nAmém.\n\n"
        "2\n00:00:02,000 --> 00:00:03,000\nAmém.\n\n"
        "3\n00:00:03,000 --> 00:00:04,000\nVamos orar.\n\n"
        "4\n00:00:04,000 --> 00:00:05,000\nPai nosso.\n\n"
        "5\n00:00:05,000 --> 00:00:06,000\nQue estás no céu.\n\n"
        "6\n00:00:06,000 --> 00:00:07,000\nSantificado.\n\n"
        "7\n00:00:07,000 --> 00:00:08,000\nSeja o teu nome.\n\n"
    )
    t = parse_transcript(srt, "srt")
    assert t.text.startswith("Amém. Amém. Vamos orar.")
    assert len(t.segments) == 7


def test_srt_bad_timestamp_names_the_line() -> None:
    with pytest.raises(TranscriptError) as info:
        parse_transcript(
            "1\n00:00:01,000 --> 00:00:02,000\nOk\n\n2\n00:00:99,000 --> 00:01:00,000\nNo\n", "srt"
        )
    assert info.value.code == "malformed_srt"
    assert info.value.message.startswith("line 6: bad timestamp '00:00:99,000'")


def test_srt_garbage_is_malformed() -> None:
    with pytest.raises(TranscriptError, match="line 1: expected a subtitle number") as info:
        parse_transcript("isto é texto\ncomum\n", "srt")
    assert info.value.code == "malformed_srt"


# --- bad input, every format ----------------------------------------------------------------------

FORMATS = ["txt", "vtt", "srt"]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("data", [b"", "", "   \n\t\r\n ", codecs.BOM_UTF8 + b"  \n"])
def test_empty(fmt: str, data: bytes | str) -> None:
    with pytest.raises(TranscriptError) as info:
        parse_transcript(data, fmt)  # type: ignore[arg-type]
    assert info.value.code == "empty_transcript"
    assert info.value.message == "transcript is empty"


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"WEBVTT\n\n\x00\x01\x02",
        bytes(range(256)) * 4,
        "texto\x00com NUL",
        b"\x01\x02\x03\x04\x05\x06\x07\x08abc",
        b"\x1b\x1c\x1d\x1e\x1f\xff\xfe\xfd",
    ],
)
def test_binary(fmt: str, data: bytes | str) -> None:
    with pytest.raises(TranscriptError) as info:
        parse_transcript(data, fmt)  # type: ignore[arg-type]
    assert info.value.code == "binary_transcript"
    assert "binary" in info.value.message


@pytest.mark.parametrize("fmt", FORMATS)
def test_not_utf8(fmt: str) -> None:
    latin1 = "Jo\u00e3o cap\u00edtulo tr\u00eas, vers\u00edculo dezesseis".encode("latin-1")
    with pytest.raises(TranscriptError) as info:
        parse_transcript(latin1, fmt)  # type: ignore[arg-type]
    assert info.value.code == "transcript_not_utf8"
    assert info.value.message == (
        "transcript is not valid UTF-8 (byte 0xe3 at offset 2); save it as UTF-8 and try again"
    )


def test_lone_surrogate_text_is_not_utf8() -> None:
    with pytest.raises(TranscriptError) as info:
        parse_transcript("abc\ud800", "txt")
    assert info.value.code == "transcript_not_utf8"


def test_bad_utf16_after_bom() -> None:
    with pytest.raises(TranscriptError) as info:
        parse_transcript(codecs.BOM_UTF16_LE + b"\x00\xd8a\x00", "txt")
    assert info.value.code == "transcript_not_utf8"
    assert "UTF-16-LE" in info.value.message


def test_stray_control_characters_are_dropped() -> None:
    text = "Deus é amor" * 20 + "\x07" + "\x1b"
    assert "\x07" not in parse_transcript(text, "txt").text


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("as_text", [False, True])
def test_too_large(fmt: str, as_text: bool) -> None:
    data: bytes | str = "a" * 2049 if as_text else b"a" * 2049
    with pytest.raises(TranscriptError) as info:
        parse_transcript(data, fmt, max_bytes=2048)  # type: ignore[arg-type]
    assert info.value.code == "transcript_too_large"
    assert info.value.message == (
        "transcript is too large (2.0 KiB); the limit is 2 KiB"
        " (2048 bytes, CULTO_MAX_TRANSCRIPT_BYTES)"
    )


def test_too_large_counts_utf8_bytes_of_text() -> None:
    with pytest.raises(TranscriptError) as info:
        parse_transcript("ã" * 600, "txt", max_bytes=1000)  # 1200 bytes
    assert info.value.code == "transcript_too_large"
    assert parse_transcript("ã" * 500, "txt", max_bytes=1000).text == "ã" * 500


def test_default_limit_is_5_mib() -> None:
    with pytest.raises(
        TranscriptError, match=r"the limit is 5 MiB \(5242880 bytes, CULTO_MAX_TRANSCRIPT_BYTES\)"
    ):
        parse_transcript(b"a" * (5 * 1024 * 1024 + 1), "txt")


def test_unsupported_format() -> None:
    with pytest.raises(TranscriptError) as info:
        parse_transcript("x", "docx")  # type: ignore[arg-type]
    assert info.value.code == "unsupported_format"


@pytest.mark.parametrize("fmt", FORMATS)
def test_errors_are_one_line(fmt: str) -> None:
    for bad in (b"", b"\x00", b"\xff\xfe\xfd abc \xe3", b"a" * 100):
        with pytest.raises(TranscriptError) as info:
            parse_transcript(bad, fmt, max_bytes=50)  # type: ignore[arg-type]
        assert "\n" not in info.value.message
        assert info.value.to_dict()["code"] == info.value.code


def test_result_is_a_transcript_model_that_round_trips() -> None:
    t = parse_transcript(SRT, "srt")
    assert Transcript.model_validate_json(t.model_dump_json()) == t
