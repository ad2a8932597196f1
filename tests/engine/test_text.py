"""Tests of Vietnamese folding and accent-insensitive matching."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.engine.text import fold, matches


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Đăng ký khai sinh", "dang ky khai sinh"),
        ("đăng ký kết hôn", "dang ky ket hon"),
        ("ĐĂNG KÝ THƯỜNG TRÚ", "dang ky thuong tru"),
        ("Tư pháp – Hộ tịch", "tu phap – ho tich"),
        ("Đất đai", "dat dai"),
        ("Xây dựng", "xay dung"),
        ("Lao động – TBXH", "lao dong – tbxh"),
        ("Cấp giấy phép lái xe", "cap giay phep lai xe"),
        ("ơ ư ă â ê ô", "o u a a e o"),
        ("Ỷ Ỹ Ỵ ỳ ý", "y y y y y"),
        ("  nhiều   khoảng\ttrắng\n ", "nhieu khoang trang"),
        ("Ðăng ký", "dang ky"),  # Icelandic eth typed for Đ
        ("A012", "a012"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_fold_same_for_precomposed_and_decomposed() -> None:
    text = "Đăng ký khai sinh, chứng thực, hộ tịch, thường trú"
    nfc = unicodedata.normalize("NFC", text)
    nfd = unicodedata.normalize("NFD", text)
    assert nfc != nfd
    assert fold(nfc) == fold(nfd) == "dang ky khai sinh, chung thuc, ho tich, thuong tru"


def test_fold_of_d_with_combining_stroke() -> None:
    assert fold("d\u0335ăng") == "dang"


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("dang ky khai sinh", "Đăng ký khai sinh"),
        ("Đăng ký khai sinh", "Đăng ký khai sinh"),
        ("DANG KY", "Đăng ký khai sinh"),
        ("khai sinh dang ky", "Đăng ký khai sinh"),
        ("khai", "Đăng ký khai sinh"),
        ("dat dai", "Chuyển nhượng quyền sử dụng đất đai"),
        ("đất", "Chuyển nhượng quyền sử dụng dat"),
        ("  ho   tich ", "Tư pháp – Hộ tịch"),
        ("", "anything"),
        ("   ", "anything"),
        ("", ""),
    ],
)
def test_matches(query: str, text: str) -> None:
    assert matches(query, text)


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("ket hon", "Đăng ký khai sinh"),
        ("dang ky ket hon", "Đăng ký khai sinh"),
        ("dangky", "Đăng ký khai sinh"),
        ("x", ""),
    ],
)
def test_does_not_match(query: str, text: str) -> None:
    assert not matches(query, text)


@given(st.text())
def test_fold_is_idempotent_and_clean(text: str) -> None:
    folded = fold(text)
    assert fold(folded) == folded
    assert folded == folded.strip()
    assert "  " not in folded
    assert "đ" not in folded
    assert not any(unicodedata.combining(ch) for ch in folded)


@given(st.text())
def test_fold_ignores_normal_form(text: str) -> None:
    assert fold(unicodedata.normalize("NFC", text)) == fold(unicodedata.normalize("NFD", text))


@given(st.text(), st.text())
def test_text_matches_itself_and_its_parts(text: str, other: str) -> None:
    assert matches(text, text)
    assert matches(text, f"{other} {text} {other}")
    assert matches("", text)
