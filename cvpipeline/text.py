"""French text folded for comparison (case, accents, punctuation): shared by the catalog and the readers."""

from __future__ import annotations

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
