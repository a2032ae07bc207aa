"""Word templates (.docx with Jinja tags, rendered by docxtpl): errors in one French line, blocks in place.

A template's unknown variable or malformed tag stops the rendering with one message naming it, before
any file is written. A block (a table, a chart) is a variable alone in its paragraph, replaced by what
python-docx builds there.
"""

from __future__ import annotations

import html
import re
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from docx.document import Document
from docxtpl import DocxTemplate
from jinja2 import Environment, StrictUndefined, TemplateError, TemplateSyntaxError, UndefinedError

from cvpipeline.settings import ConfigurationError

DEFAULT_TEMPLATE = Path(__file__).parent / "templates" / "note.docx"
DOC = "voir docs/documents.md"
MARKER = "[[bloc:{}]]"
_MARKER = re.compile(r"\[\[bloc:([\w.]+)\]\]")
_SYNTAX = [
    (
        re.compile(r"unexpected end of template.*closed is '(\w+)'", re.I | re.S),
        "balise {{% {0} %}} non fermée (il manque {{% end{0} %}})",
    ),
    (re.compile(r"unexpected end of template", re.I), "balise {% if %} ou {% for %} non fermée"),
    (re.compile(r"Encountered unknown tag '([^']+)'"), "balise inconnue « {0} »"),
    (re.compile(r"No filter named '([^']+)'"), "filtre inconnu « {0} »"),
    (re.compile(r"No test named '([^']+)'"), "test inconnu « {0} »"),
    (re.compile(r"unexpected '([^']+)'"), "caractère inattendu « {0} »"),
    (re.compile(r"unexpected char '([^']+)'"), "caractère inattendu « {0} »"),
    (re.compile(r"expected token '([^']+)', got '([^']+)'"), "« {1} » trouvé là où « {0} » était attendu"),
]


class NoteTemplateError(ConfigurationError):
    """A template cannot be rendered: the message (one line, in French) names the template and the cause."""


class Block:
    """A variable of the template that python-docx builds in place: a table or a chart."""

    def __init__(self, name: str, build: Callable[[Document], None]) -> None:
        self.name = name
        self.build = build

    def __str__(self) -> str:
        """The marker the rendering leaves where the block goes."""
        return MARKER.format(self.name)


class _Undefined(StrictUndefined):
    """An undefined variable: its message is the full name the template used (« actions.citeslab.foo »)."""

    @property
    def _undefined_message(self) -> str:
        name = str(self._undefined_name)
        where = getattr(self._undefined_obj, "_path", None)
        full = f"{where}.{name}" if isinstance(where, str) else name
        return f"variable inconnue « {full} »"


def environment(filters: Mapping[str, Callable[..., Any]], functions: Mapping[str, Any]) -> Environment:
    """The Jinja environment of templates: strict (an unknown name is an error), values escaped for XML."""
    env = Environment(undefined=_Undefined, autoescape=True)
    env.filters.update(filters)
    env.globals.update(functions)
    return env


def template_label(path: Path) -> str:
    """How messages name a template: its file name (the shipped default says so)."""
    return "gabarit par défaut de la note" if path == DEFAULT_TEMPLATE else f"gabarit de note {path.name}"


def _syntax_message(error: TemplateSyntaxError) -> str:
    detail = error.message or ""
    for pattern, french in _SYNTAX:
        found = pattern.search(detail)
        if found:
            cause = french.format(*found.groups())
            break
    else:
        cause = f"syntaxe incorrecte ({detail})"
    lines = (error.source or "").splitlines()
    text = ""
    if "end of template" not in detail and error.lineno and 0 < error.lineno <= len(lines):
        text = html.unescape(re.sub(r"<[^>]+>", "", lines[error.lineno - 1])).strip()
    where = f" dans le paragraphe « {text[:120]}{'…' if len(text) > 120 else ''} »" if text else ""
    return f"balise Jinja mal formée{where} : {cause}"


def render(
    path: Path,
    context: Mapping[str, Any],
    filters: Mapping[str, Callable[..., Any]],
    functions: Mapping[str, Any],
) -> DocxTemplate:
    """The rendered template (not saved): a NoteTemplateError in French if it cannot be rendered."""
    label = template_label(path)
    if not path.is_file():
        raise NoteTemplateError(f"{label} : fichier introuvable ({path}) ; {DOC}")
    if not zipfile.is_zipfile(path):
        raise NoteTemplateError(f"{label} : fichier illisible : un document Word .docx est attendu ; {DOC}")
    template = DocxTemplate(str(path))
    try:
        template.render(dict(context), environment(filters, functions))
    except TemplateSyntaxError as error:
        raise NoteTemplateError(f"{label} : {_syntax_message(error)} ; {DOC}") from None
    except UndefinedError as error:
        message = str(error) if str(error).startswith("variable inconnue") else f"variable inconnue ({error})"
        raise NoteTemplateError(f"{label} : {message} ; {DOC}") from None
    except TemplateError as error:
        raise NoteTemplateError(f"{label} : erreur dans le gabarit ({error}) ; {DOC}") from None
    except (KeyError, ValueError) as error:
        raise NoteTemplateError(f"{label} : fichier illisible ({type(error).__name__}) ; {DOC}") from None
    _place_blocks(template.docx, context, label)
    return template


def _blocks(context: Mapping[str, Any]) -> dict[str, Block]:
    """Every block of the context, by name."""
    found: dict[str, Block] = {}
    for value in context.values():
        for item in getattr(value, "_values", {}).values():
            if isinstance(item, Block):
                found[item.name] = item
    return found


def _place_blocks(document: Document, context: Mapping[str, Any], label: str) -> None:
    """Build each block where its marker is: the marker's paragraph gives way to the table or chart."""
    blocks = _blocks(context)
    body = document.element.body
    for paragraph in list(document.paragraphs):
        names = _MARKER.findall(paragraph.text)
        if not names:
            continue
        if _MARKER.sub("", paragraph.text).strip():
            raise NoteTemplateError(
                f"{label} : « {{{{ {names[0]} }}}} » doit être seul dans son paragraphe ; {DOC}"
            )
        for name in names:
            before = set(body.iterchildren())
            blocks[name].build(document)
            for element in [e for e in body.iterchildren() if e not in before]:
                paragraph._p.addprevious(element)
        paragraph._p.getparent().remove(paragraph._p)
    left = _MARKER.search(document.element.xml)
    if left:
        raise NoteTemplateError(
            f"{label} : « {{{{ {left.group(1)} }}}} » doit être seul dans un paragraphe du corps du document "
            f"(pas dans un tableau, un en-tête ni un pied de page) ; {DOC}"
        )
