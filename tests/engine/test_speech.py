"""Tests of the Vietnamese reading of numbers and the announcement sentence."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.engine.errors import InvalidRequest
from server.engine.speech import (
    DEFAULT_RECALL_TEMPLATE,
    DEFAULT_TEMPLATE,
    MAX_NUMBER,
    announcement,
    check_template,
    digit_words,
    number_words,
    spoken_counter,
    spoken_number,
)

VIETNAMESE_NUMBER_WORDS = {
    "không", "một", "mốt", "hai", "ba", "bốn", "năm", "lăm", "sáu", "bảy", "tám", "chín",
    "mười", "mươi", "trăm", "linh", "nghìn", "triệu", "tỷ",
}  # fmt: skip


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "không"),
        (1, "một"),
        (4, "bốn"),
        (5, "năm"),
        (9, "chín"),
        (10, "mười"),
        (11, "mười một"),
        (14, "mười bốn"),
        (15, "mười lăm"),
        (19, "mười chín"),
        (20, "hai mươi"),
        (21, "hai mươi mốt"),
        (24, "hai mươi bốn"),
        (25, "hai mươi lăm"),
        (31, "ba mươi mốt"),
        (55, "năm mươi lăm"),
        (99, "chín mươi chín"),
        (100, "một trăm"),
        (101, "một trăm linh một"),
        (104, "một trăm linh bốn"),
        (105, "một trăm linh năm"),
        (110, "một trăm mười"),
        (111, "một trăm mười một"),
        (115, "một trăm mười lăm"),
        (121, "một trăm hai mươi mốt"),
        (205, "hai trăm linh năm"),
        (999, "chín trăm chín mươi chín"),
        (1000, "một nghìn"),
        (1001, "một nghìn không trăm linh một"),
        (1005, "một nghìn không trăm linh năm"),
        (1010, "một nghìn không trăm mười"),
        (1015, "một nghìn không trăm mười lăm"),
        (1021, "một nghìn không trăm hai mươi mốt"),
        (1100, "một nghìn một trăm"),
        (1234, "một nghìn hai trăm ba mươi bốn"),
        (2025, "hai nghìn không trăm hai mươi lăm"),
        (10_000, "mười nghìn"),
        (15_000, "mười lăm nghìn"),
        (21_000, "hai mươi mốt nghìn"),
        (105_000, "một trăm linh năm nghìn"),
        (1_000_000, "một triệu"),
        (1_000_005, "một triệu không trăm linh năm"),
        (1_001_000, "một triệu không trăm linh một nghìn"),
        (1_200_000, "một triệu hai trăm nghìn"),
        (2_000_000_000, "hai tỷ"),
        (2_000_000_001, "hai tỷ không trăm linh một"),
        (3_005_000_000, "ba tỷ không trăm linh năm triệu"),
        (
            MAX_NUMBER,
            "chín trăm chín mươi chín tỷ chín trăm chín mươi chín triệu "
            "chín trăm chín mươi chín nghìn chín trăm chín mươi chín",
        ),
    ],
)
def test_number_words(n: int, words: str) -> None:
    assert number_words(n) == words


@pytest.mark.parametrize("n", [-1, -100, MAX_NUMBER + 1])
def test_number_words_out_of_range(n: int) -> None:
    with pytest.raises(InvalidRequest):
        number_words(n)


@given(st.integers(0, MAX_NUMBER))
def test_number_words_only_vietnamese_words(n: int) -> None:
    words = number_words(n).split()
    assert words
    assert set(words) <= VIETNAMESE_NUMBER_WORDS
    assert "  " not in number_words(n)
    # Zero is only spoken alone or as "không trăm" of an inner group.
    for i, word in enumerate(words):
        if word == "không" and n:
            assert words[i + 1] == "trăm"


@given(st.integers(1, MAX_NUMBER))
def test_number_words_distinct_neighbours(n: int) -> None:
    assert number_words(n) != number_words(n - 1)


@pytest.mark.parametrize(
    ("digits", "words"),
    [
        ("012", "không một hai"),
        ("0", "không"),
        ("5", "năm"),
        ("1234567890", "một hai ba bốn năm sáu bảy tám chín không"),
    ],
)
def test_digit_words(digits: str, words: str) -> None:
    assert digit_words(digits) == words


@pytest.mark.parametrize("bad", ["", "12a", " 12", "１２", "-1"])
def test_digit_words_refuses_non_digits(bad: str) -> None:
    with pytest.raises(InvalidRequest):
        digit_words(bad)


@pytest.mark.parametrize(
    ("number", "whole", "words"),
    [
        ("A012", False, "A không một hai"),
        ("A012", True, "A mười hai"),
        ("B007", False, "B không không bảy"),
        ("B007", True, "B bảy"),
        ("C100", True, "C một trăm"),
        ("A000", True, "A không"),
        ("AB12", False, "AB một hai"),
        ("A 012", False, "A không một hai"),
        ("12A3", False, "một hai A ba"),
        ("Đ015", True, "Đ mười lăm"),
        ("042", False, "không bốn hai"),
    ],
)
def test_spoken_number(number: str, whole: bool, words: str) -> None:
    assert spoken_number(number, whole=whole) == words


@pytest.mark.parametrize("bad", ["", "   "])
def test_spoken_number_refuses_empty(bad: str) -> None:
    with pytest.raises(InvalidRequest):
        spoken_number(bad)


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("Quầy số 12", "quầy số mười hai"),
        ("Quầy 5", "quầy năm"),
        ("Quầy số 5", "quầy số năm"),
        ("Quầy số 05", "quầy số năm"),
        ("Quầy số 21", "quầy số hai mươi mốt"),
        ("Quầy số 15", "quầy số mười lăm"),
        ("Quầy12", "quầy mười hai"),
        ("quầy số 3", "quầy số ba"),
        ("Phòng 2 - Quầy 10", "phòng hai - Quầy mười"),
        ("  Quầy   số 4 ", "quầy số bốn"),
        ("UBND quầy 1", "UBND quầy một"),
        ("Đ", "đ"),
        ("7", "bảy"),
    ],
)
def test_spoken_counter(name: str, words: str) -> None:
    assert spoken_counter(name) == words


@pytest.mark.parametrize("bad", ["", "  "])
def test_spoken_counter_refuses_empty(bad: str) -> None:
    with pytest.raises(InvalidRequest):
        spoken_counter(bad)


def test_default_templates() -> None:
    assert DEFAULT_TEMPLATE == "Xin mời công dân có số thứ tự {number} đến {counter}"
    assert DEFAULT_RECALL_TEMPLATE == (
        "Xin nhắc lại, mời công dân có số thứ tự {number} đến {counter}"
    )


def test_announcement_examples() -> None:
    assert announcement("A012", "Quầy số 5") == (
        "Xin mời công dân có số thứ tự A không một hai đến quầy số năm"
    )
    assert announcement("B007", "Quầy số 12").endswith("đến quầy số mười hai")
    assert announcement("A012", "Quầy số 12") == (
        "Xin mời công dân có số thứ tự A không một hai đến quầy số mười hai"
    )


def test_announcement_recall_and_whole() -> None:
    assert announcement("A012", "Quầy số 5", recall=True) == (
        "Xin nhắc lại, mời công dân có số thứ tự A không một hai đến quầy số năm"
    )
    assert announcement("A012", "Quầy số 5", whole=True) == (
        "Xin mời công dân có số thứ tự A mười hai đến quầy số năm"
    )


def test_announcement_custom_templates() -> None:
    call, recall = "Số {number}, mời đến {counter}.", "Nhắc: {number}"
    # Digits one by one: 21 is "hai một" here, never "hai mươi mốt".
    assert announcement("C021", "Quầy 3", template=call, recall_template=recall) == (
        "Số C không hai một, mời đến quầy ba."
    )
    assert (
        announcement("C021", "Quầy 3", recall=True, template=call, recall_template=recall)
        == "Nhắc: C không hai một"
    )
    # The recall template is used only for recalls, and an empty one means the default.
    assert announcement("C021", "Quầy 3", recall=True, recall_template="").startswith("Xin nhắc")
    assert announcement("C021", "Quầy 3", template="{counter} {{mời}} {number}") == (
        "quầy ba {mời} C không hai một"
    )


@pytest.mark.parametrize(
    "template",
    [
        "Mời {so} đến {counter}",
        "Mời {} đến {counter}",
        "Mời {0} đến {counter}",
        "Mời {number.__class__} đến {counter}",
        "Mời {number[0]} đến {counter}",
        "Mời {number!r} đến {counter}",
        "Mời {number:>10} đến {counter}",
        "Mời {number đến {counter}",
        "Mời number} đến",
    ],
)
def test_bad_templates_raise(template: str) -> None:
    with pytest.raises(InvalidRequest):
        check_template(template)
    with pytest.raises(InvalidRequest):
        announcement("A012", "Quầy 5", template=template)
    with pytest.raises(InvalidRequest):
        announcement("A012", "Quầy 5", recall=True, recall_template=template)


def test_unknown_placeholder_message_names_it() -> None:
    with pytest.raises(InvalidRequest, match=r"\{so\}"):
        announcement("A012", "Quầy 5", template="Mời {so} đến {counter}")


@given(st.from_regex(r"[A-Z]{1,2}[0-9]{1,6}", fullmatch=True), st.integers(1, 99))
def test_announcement_always_in_words(number: str, counter: int) -> None:
    for whole in (False, True):
        sentence = announcement(number, f"Quầy số {counter}", whole=whole)
        assert not any(ch.isdigit() for ch in sentence)
        assert sentence.startswith("Xin mời công dân có số thứ tự ")
        assert sentence.endswith(f"đến quầy số {number_words(counter)}")
