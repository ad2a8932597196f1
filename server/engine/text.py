"""Vietnamese text folding, so kiosk search ignores tones, case and spacing."""

from __future__ import annotations

import unicodedata

# NFD splits tones and vowel marks off their letters but keeps đ whole (it is a letter of its
# own, not d with a combining mark); ð (Icelandic eth) turns up in text typed on keyboards
# and fonts that lack Đ, so it is folded the same way.
_LETTERS = str.maketrans({"đ": "d", "ð": "d"})


def fold(text: str) -> str:
    """Lower-case, drop tones and marks, đ to d, collapse whitespace: "Đăng ký" -> "dang ky"."""
    # casefold before translating so Đ and Ð become đ and ð first.
    decomposed = unicodedata.normalize("NFD", text.casefold().translate(_LETTERS))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.split())


def matches(query: str, text: str) -> bool:
    """Whether every word of `query` occurs in `text`, both folded; an empty query matches all."""
    return has_words(fold(query).split(), fold(text))


def has_words(words: list[str], folded: str) -> bool:
    """Whether every one of these folded words occurs in an already folded text."""
    return all(word in folded for word in words)
