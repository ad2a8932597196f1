"""The Vietnamese announcement sentence of a call: numbers and counter names in words."""

from __future__ import annotations

import re
from string import Formatter

from server.engine.errors import InvalidRequest

DEFAULT_TEMPLATE = "Xin mời công dân có số thứ tự {number} đến {counter}"
DEFAULT_RECALL_TEMPLATE = "Xin nhắc lại, mời công dân có số thứ tự {number} đến {counter}"
PLACEHOLDERS = frozenset({"number", "counter"})
MAX_NUMBER = 999_999_999_999

DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")
# Scale words of each group of three digits, lowest first.
_SCALES = ("", "nghìn", "triệu", "tỷ")
# ASCII digits only: a ticket number is printed with them, and int() would also read others.
_DIGIT_RUN = re.compile(r"[0-9]+")
_TOKEN = re.compile(r"[0-9]+|[^0-9\s]+")


def number_words(n: int) -> str:
    """Read 0..999_999_999_999 in Vietnamese: 21 "hai mươi mốt", 105 "một trăm linh năm"."""
    if n < 0 or n > MAX_NUMBER:
        raise InvalidRequest(f"can only read numbers from 0 to {MAX_NUMBER}, got {n}")
    if n == 0:
        return DIGITS[0]
    groups = []
    while n:
        n, group = divmod(n, 1000)
        groups.append(group)
    words: list[str] = []
    for scale in reversed(range(len(groups))):
        group = groups[scale]
        if group == 0:
            # An empty group is silent: 1_000_005 is "một triệu không trăm linh năm".
            continue
        # Every group after the first is read with its hundreds, even "không trăm".
        words.extend(_group_words(group, inner=bool(words)))
        if _SCALES[scale]:
            words.append(_SCALES[scale])
    return " ".join(words)


def _group_words(group: int, *, inner: bool) -> list[str]:
    """Read one group of three digits (1..999); `inner` groups always say their hundreds."""
    hundreds, rest = divmod(group, 100)
    tens, units = divmod(rest, 10)
    words: list[str] = []
    if hundreds or inner:
        words += [DIGITS[hundreds], "trăm"]
    if tens == 0:
        if units:
            # A zero tens digit after the hundreds is read "linh": 105 "một trăm linh năm".
            words += ["linh", DIGITS[units]] if words else [DIGITS[units]]
        return words
    words += ["mười"] if tens == 1 else [DIGITS[tens], "mươi"]
    if units == 5:
        words.append("lăm")
    elif units == 1 and tens >= 2:
        words.append("mốt")
    elif units:
        words.append(DIGITS[units])
    return words


def digit_words(digits: str) -> str:
    """Read a string of digits one by one: "012" -> "không một hai"."""
    if not _DIGIT_RUN.fullmatch(digits):
        raise InvalidRequest(f"expected a string of digits 0-9, got {digits!r}")
    return " ".join(DIGITS[int(d)] for d in digits)


def spoken_number(number: str, *, whole: bool = False) -> str:
    """A ticket number in words: "A012" -> "A không một hai", or "A mười hai" when whole."""
    tokens = _TOKEN.findall(number)
    if not tokens:
        raise InvalidRequest("ticket number is empty")
    # Letters stay as printed: the voice reads them by their Vietnamese names (B: "bê").
    return " ".join(_read_digits(t, whole=whole) if _DIGIT_RUN.fullmatch(t) else t for t in tokens)


def _read_digits(digits: str, *, whole: bool) -> str:
    """Read a run of digits as a whole number or one by one."""
    return number_words(int(digits)) if whole else digit_words(digits)


def spoken_counter(name: str) -> str:
    """A counter's name in words, for mid-sentence: "Quầy số 12" -> "quầy số mười hai"."""
    spoken = " ".join(_DIGIT_RUN.sub(lambda m: f" {number_words(int(m.group()))} ", name).split())
    if not spoken:
        raise InvalidRequest("counter name is empty")
    first, _, rest = spoken.partition(" ")
    # The name sits mid-sentence, so "Quầy" becomes "quầy"; an all-caps word such as an
    # acronym ("UBND") keeps its case because lower-casing its first letter would garble it.
    if first[1:] == first[1:].lower():
        first = first[0].lower() + first[1:]
    return f"{first} {rest}" if rest else first


def check_template(template: str) -> None:
    """Raise InvalidRequest unless `template` uses only plain {number} and {counter}."""
    try:
        fields = list(Formatter().parse(template))
    except ValueError as exc:
        raise InvalidRequest(f"announcement template is malformed: {exc}") from exc
    for _literal, field, spec, conversion in fields:
        if field is None:
            continue
        # Only the bare names: attribute or index lookups ({number.x}) would reach into objects.
        if field not in PLACEHOLDERS:
            raise InvalidRequest(
                f"announcement template has unknown placeholder {{{field}}}; "
                "use {number} and {counter}"
            )
        if spec or conversion:
            raise InvalidRequest(
                f"announcement template placeholder {{{field}}} must be plain, without ! or :"
            )


def announcement(
    number: str,
    counter_name: str,
    *,
    recall: bool = False,
    whole: bool = False,
    template: str | None = None,
    recall_template: str | None = None,
) -> str:
    """The sentence spoken for a call (or a recall) of ticket `number` to `counter_name`."""
    # An empty template counts as unset, so clearing the setting restores the default wording.
    call_text = template or DEFAULT_TEMPLATE
    recall_text = recall_template or DEFAULT_RECALL_TEMPLATE
    # Both are checked so a bad recall wording shows up on the first call, not mid-queue.
    check_template(call_text)
    check_template(recall_text)
    chosen = recall_text if recall else call_text
    return chosen.format(
        number=spoken_number(number, whole=whole), counter=spoken_counter(counter_name)
    )
