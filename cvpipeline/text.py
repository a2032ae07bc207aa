"""Text shared by every layer: French text folded for comparison, and names or values made safe to show.

`fold` compares (case, accents, punctuation); `display_name` and `display_text` show a file's name or
a value in a message, a document, a console line, a log or Dagster metadata without anything in it
being executed (a terminal's escape sequence) or refused (a workbook's or a Word document's XML).
"""

from __future__ import annotations

import os
import re
import unicodedata

# Letters that Unicode does not decompose into a base letter and an accent: without this table
# they would vanish ('Lætitia' -> 'ltitia'), and 'Lætitia' and 'LAETITIA' would be two people.
TRANSLITERATION = str.maketrans(
    {
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ı": "i",
        "ø": "o",
        "Ø": "O",
        "ß": "ss",
        "ẞ": "SS",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "ð": "d",
        "Ð": "D",
        "þ": "th",
        "Þ": "TH",
        "ħ": "h",
        "Ħ": "H",
        "ŧ": "t",
        "Ŧ": "T",
        "ŋ": "ng",
        "Ŋ": "NG",
        "ĸ": "k",
    }
)
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def fold(text: str) -> str:
    """Lower-case, transliterate, strip accents and collapse anything not a letter or digit to one space.

    The normalisation, in order: letters without a Unicode decomposition are transliterated
    (`TRANSLITERATION`: æ->ae, œ->oe, ı->i, ø->o, ß->ss, ł->l, đ->d, þ->th...); then NFKD
    compatibility decomposition, which splits accented letters (é -> e + accent) and ligatures
    (ﬁ -> fi); accents (combining marks) are dropped; the text is lower-cased; every run of
    characters other than a-z and 0-9 becomes one space, trimmed at both ends. So 'Lætitia' and
    'LAETITIA', 'Yıldız' and 'YILDIZ', 'Øyvind' and 'Oyvind' fold alike. Letters of other scripts
    (Greek, Cyrillic...) are not transliterated and are dropped.
    """
    decomposed = unicodedata.normalize("NFKD", str(text).translate(TRANSLITERATION))
    ascii_text = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return _NON_ALNUM.sub(" ", ascii_text).strip()


# Characters shown escaped beside the controls and the unassigned or surrogate code points: those
# that reorder or break the text around them (bidirectional marks and overrides, line separators).
_REORDERING = frozenset(
    "\u061c\u200e\u200f\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_UNSAFE_CATEGORIES = ("Cc", "Cs", "Cn")


def _escape(char: str) -> str:
    """One unsafe character as visible text: a byte that was not UTF-8 as \\xe9, a control as \\x1b."""
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8, as os.fsdecode keeps it
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x80:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _unsafe(char: str) -> bool:
    return char in _REORDERING or unicodedata.category(char) in _UNSAFE_CATEGORIES


def display_text(text: object, keep_lines: bool = False) -> str:
    """A text with its controls, stray bytes and reordering marks shown escaped (\\x1b, \\xe9, \\u202e).

    What is left can be printed on a terminal (no escape sequence is run), written in an xlsx cell
    or a Word paragraph (every character is XML-compatible) and stored in a database (no surrogate).
    With `keep_lines`, line feeds and tabs stay as they are (a message of several lines).
    """
    value = str(text)
    if value.isprintable():
        return value
    kept = "\n\t" if keep_lines else ""
    return "".join(_escape(c) if c not in kept and _unsafe(c) else c for c in value)


def display_name(name: str | bytes | os.PathLike[str]) -> str:
    """A file's name as every message, table and document shows it: `display_text`, backslashes doubled.

    The one spelling of a name the pipeline keeps (ledger, warehouse, documents): a name that is not
    UTF-8 (`été` in Latin-1 shows `\\xe9t\\xe9`) or holds a control character (`\\x1b[2J`) is
    shown, never run; a backslash is doubled so that two different names never show alike.
    """
    value = os.fsdecode(name)
    if "\\" not in value and value.isprintable():
        return value
    return "".join("\\\\" if c == "\\" else _escape(c) if _unsafe(c) else c for c in value)
