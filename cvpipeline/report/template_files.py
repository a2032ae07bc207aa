"""The shipped Word templates of the note, written from this file: the default one and Grand Chambéry's.

`python -m cvpipeline.report.template_files` writes cvpipeline/report/templates/note.docx (any contract)
and cvpipeline/catalog/contracts/CV262.note.docx (the sentences written for CV262's actions). A team
edits a copy in Word (docs/documents.md); these two stay generated so that a change here is reviewed.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.section import WD_ORIENT
from docx.shared import Cm, Pt, RGBColor

from cvpipeline.report.template import DEFAULT_TEMPLATE

BLUE = RGBColor(0x1F, 0x4E, 0x78)
CV262_TEMPLATE = Path(__file__).resolve().parents[1] / "catalog" / "contracts" / "CV262.note.docx"
# A fixed date for the zip entries and the document's properties: the same source, the same bytes.
FIXED = datetime(2024, 1, 1)


def _paragraph(
    document: DocumentObject, text: str, style: str | None = None, italic: bool = False, bold: bool = False
) -> None:
    paragraph = document.add_paragraph(style=style)
    run = paragraph.add_run(text)
    run.italic = italic or None
    run.bold = bold or None


def _tag(document: DocumentObject, tag: str) -> None:
    """A paragraph holding only a docxtpl paragraph tag ({%p … %}): the rendering removes it."""
    document.add_paragraph(f"{{%p {tag} %}}")


def _bullet(document: DocumentObject, text: str) -> None:
    _paragraph(document, text, "List Bullet")


def _start(title: str) -> DocumentObject:
    """An A4 document with the note's styles, its properties and its footer."""
    document = Document()
    section = document.sections[0]
    section.page_height, section.page_width = Cm(29.7), Cm(21.0)
    section.orientation = WD_ORIENT.PORTRAIT
    section.left_margin = section.right_margin = Cm(2.0)
    section.top_margin = section.bottom_margin = Cm(2.0)
    normal = document.styles["Normal"]
    normal.font.name = "Calibri"
    normal.font.size = Pt(11)
    for name in ("Title", "Heading 1", "Heading 2"):
        document.styles[name].font.color.rgb = BLUE
    properties = document.core_properties
    properties.title = title
    properties.author = properties.last_modified_by = "cvpipeline"
    properties.language = "fr-FR"
    properties.created = properties.modified = FIXED
    properties.revision = 1
    footer = section.footer.paragraphs[0]
    footer.add_run(
        "{{ contrat.libelle }} — note d'évaluation produite le {{ contrat.produite_le }} par cvpipeline"
    ).font.size = Pt(8)
    document.add_heading("Contrat de ville : évaluation", level=0)
    _paragraph(document, "{{ contrat.libelle }} — données {{ contrat.periode_donnees }}", italic=True)
    _paragraph(document, "Note produite le {{ contrat.produite_le }}.")
    document.add_heading("Le contrat de ville", level=1)
    return document


SOURCES_SENTENCE = (
    "Cette note rend compte de la mise en œuvre et des résultats du programme d'actions. Chaque chiffre "
    "est calculé à partir des fichiers de {{ donnees.nb_partenaires_avec_donnees }} partenaires sur "
    "{{ donnees.nb_partenaires }} ({{ contrat.periode_donnees }}) ; l'annexe dit quelles données ont été "
    "reçues, écartées ou manquent, et comment les indicateurs sont calculés."
)


def _contract_default(document: DocumentObject) -> None:
    _paragraph(
        document,
        "Le {{ contrat.libelle }}{% if contrat.territoire %}, sur le territoire de {{ contrat.territoire }},"
        "{% endif %} s'adresse aux habitants des quartiers prioritaires{% if contrat.quartiers %} "
        "({{ contrat.quartiers|liste }}){% endif %}. Il s'organise en {{ axes|length }} {{ contrat.nom_axes }}"
        " : {% for axe in axes %}{{ axe.libelle_minuscule }}{{ sep(loop) }}{% endfor %}.",
    )
    _paragraph(document, SOURCES_SENTENCE)
    _paragraph(document, "{{ methode.regle_arrondi }}", italic=True)


def _actions_default(document: DocumentObject) -> None:
    """The actions of each pillar or theme, a sentence of figures each."""
    document.add_heading("Les actions par {{ contrat.nom_axe }}", level=1)
    _tag(document, "for axe in axes if axe.actions")
    document.add_heading("{{ axe.libelle }}", level=2)
    _tag(document, "for a in axe.actions")
    _bullet(
        document,
        "{{ a.libelle }}{% if a.partenaire not in a.libelle %} ({{ a.partenaire }}){% endif %} : "
        "{% if a.personnes %}{{ a.personnes }} personnes"
        "{% if a.femmes or a.habitants_qpv %} ({% if a.femmes %}{{ a.femmes }} de femmes{% endif %}"
        "{% if a.femmes and a.habitants_qpv %}, {% endif %}"
        "{% if a.habitants_qpv %}{{ a.habitants_qpv }} d'habitants des quartiers prioritaires{% endif %})"
        "{% endif %}{% if a.activites %} ; {% endif %}{% endif %}"
        "{% if a.activites %}{{ a.activites }} activités"
        "{% if a.participants %} réunissant {{ a.participants }} participants déclarés{% endif %}"
        "{% if a.femmes_declarees or a.habitants_qpv_declares %}, dont "
        "{% if a.femmes_declarees %}{{ a.femmes_declarees }} de femmes{% endif %}"
        "{% if a.femmes_declarees and a.habitants_qpv_declares %} et {% endif %}"
        "{% if a.habitants_qpv_declares %}{{ a.habitants_qpv_declares }} d'habitants des quartiers "
        "prioritaires{% endif %} (effectifs déclarés par le partenaire, sur les activités qui les donnent)"
        "{% endif %}"
        "{% endif %}"
        "{% if not a.personnes and not a.activites %}"
        "{% if a.a_des_chiffres %}voir le tableau des chiffres{% else %}aucune donnée reçue{% endif %}"
        "{% endif %}.",
    )
    _tag(document, "endfor")
    _tag(document, "endfor")


def _contract_cv262(document: DocumentObject) -> None:
    _paragraph(
        document,
        "Le {{ contrat.libelle }}, co-piloté par l'État et l'agglomération en lien étroit avec les communes "
        "concernées, s'adresse aux habitants des quartiers prioritaires ({{ contrat.quartiers|join(', ') }})."
        " Il s'organise en {{ axes|length }} {{ contrat.nom_axes }} : {% for axe in axes %}"
        "{{ axe.libelle_minuscule }}{% if not loop.last %}, {% endif %}{% endfor %}. Il s'inscrit dans une "
        "logique de parcours de vie, de l'enfance à l'âge adulte, avec une volonté forte de renforcer les "
        "coopérations, publiques ou privées.",
    )
    _paragraph(document, SOURCES_SENTENCE)
    _paragraph(document, "{{ methode.regle_arrondi }}", italic=True)


# The actions CV262's sentences speak of; any other action of the contract gets a sentence of its figures.
CV262_WRITTEN = [
    "accompagnement_enfants",
    "education_medias",
    "relais_numeriques",
    "insertion_par_le_sport",
    "citeslab",
    "chantiers_jeunes",
    "permis_conduire",
    "ordi_pratique",
    "jardins_partages",
    "valeurs_republique_laicite",
]


def _actions_cv262(document: DocumentObject) -> None:
    """The sentences written for Grand Chambéry's actions, each with its figures."""
    document.add_heading("Développer des actions innovantes", level=1)
    _tag(document, "if financements.annees")
    _paragraph(
        document,
        "Le contrat de ville vise à favoriser le développement d'actions nouvelles innovantes et "
        "l'amélioration de celles existantes. Ainsi, {{ financements.projets_par_an|approx('projets') }} "
        "sont soutenus chaque année ({{ financements.premiere_annee }}-{{ financements.derniere_annee }}), "
        "dont {{ financements.projets_agglo_par_an|approx }} par l'agglomération grâce à "
        "{% if financements.credits_agglo_constants %}un budget annuel politique de la ville de "
        "{{ financements.credits_agglo_par_an }}{% else %}un budget politique de la ville de "
        "{{ financements.credits_agglo_par_an }} par an en moyenne (de {{ financements.credits_agglo_min }} "
        "à {{ financements.credits_agglo_max }}){% endif %}.",
    )
    _tag(document, "endif")
    _tag(document, "if actions.accompagnement_enfants.personnes")
    _bullet(
        document,
        "déploiement de l'association « Ma chance moi aussi », avec {{ actions.accompagnement_enfants.personnes }}"
        " enfants suivis en {{ actions.accompagnement_enfants.duree }},",
    )
    _tag(document, "endif")
    _tag(document, "if actions.education_medias.participants or actions.relais_numeriques.personnes")
    _bullet(
        document,
        "développement du plan de développement des usages du numérique, avec "
        "{{ actions.education_medias.participants }} personnes impliquées sur la partie éducation aux médias,"
        " {{ actions.relais_numeriques.personnes }} personnes relais formées dans les quartiers en politique "
        "de la ville sur l'accompagnement des pratiques numériques des familles et de la jeunesse,",
    )
    _tag(document, "endif")
    _tag(document, "if actions.insertion_par_le_sport.annees|selectattr('inscrits')|list")
    _bullet(
        document,
        "déploiement de l'association Sport dans la ville, spécialisée dans l'accompagnement des jeunes issus "
        "des quartiers prioritaires pour les rendre acteurs de leur parcours professionnel : "
        "{{ actions.insertion_par_le_sport.personnes }} jeunes inscrits sur la période ; le terrain était "
        "fréquenté par {% for y in actions.insertion_par_le_sport.annees if y.inscrits %}"
        "{{ y.inscrits|environ('jeunes') }} à fin {{ y.annee }}{{ sep(loop) }}{% endfor %},",
    )
    _tag(document, "endif")
    _tag(document, "if actions.citeslab.personnes")
    _bullet(
        document,
        "mise en place de CitésLab ({{ actions.citeslab.partenaire }}) pour le développement de "
        "l'entreprenariat, avec {{ actions.citeslab.personnes }} personnes accompagnées, dont "
        "{{ actions.citeslab.habitants_qpv }} d'habitants des quartiers en politique de la ville, et "
        "{{ actions.citeslab.types.rencontre_acteur }} acteurs rencontrés,",
    )
    _tag(document, "endif")

    document.add_heading("Travailler main dans la main avec les associations", level=1)
    _paragraph(
        document,
        "En parallèle, un travail de terrain toujours plus important est mené avec le tissu associatif local :",
    )
    _tag(document, f"set autres = actions|rejectattr('code', 'in', {CV262_WRITTEN!r})|list")
    _tag(document, "if actions.chantiers_jeunes.personnes")
    _bullet(
        document,
        "{{ actions.chantiers_jeunes.personnes }} jeunes impliqués dans {{ actions.chantiers_jeunes.activites }}"
        " chantiers jeunes en partenariat avec les centres sociaux du territoire (chantiers éco-citoyens, jobs "
        "d'été, etc.),",
    )
    _tag(document, "endif")
    _tag(document, "if actions.permis_conduire.journees")
    _bullet(
        document,
        "{{ actions.permis_conduire.journees }} journées de formation à la préparation du permis de conduire "
        "proposées par {{ actions.permis_conduire.partenaire }} à {{ actions.permis_conduire.personnes }} "
        "salariés en insertion professionnelle,",
    )
    _tag(document, "endif")
    _tag(document, "if actions.ordi_pratique.personnes")
    _bullet(
        document,
        "mise en place d'ordi-pratique, opération de reconditionnement d'ordinateurs au profit de personnes en "
        "situation de fracture numérique mêlant formation et mise en place d'un ordinateur recyclé "
        "({{ actions.ordi_pratique.partenaire }}). {{ actions.ordi_pratique.personnes }} personnes ont été "
        "formées et {{ actions.ordi_pratique.types.atelier }} ateliers menés,",
    )
    _tag(document, "endif")
    _tag(document, "if actions.jardins_partages.types.jardin_partage or actions.jardins_partages.activites")
    _bullet(
        document,
        "{{ actions.jardins_partages.types.jardin_partage }} jardins partagés, "
        "{{ actions.jardins_partages.types.lieu_cultive }} lieux cultivés, "
        "{{ actions.jardins_partages.participants }} habitants impliqués grâce à un collectif d'acteurs et "
        "{{ actions.jardins_partages.acteurs_terrain }} acteurs de terrain,",
    )
    _tag(document, "endif")
    _tag(document, "if actions.valeurs_republique_laicite.activites")
    _bullet(
        document,
        "{{ actions.valeurs_republique_laicite.types.formation }} sessions de formation et "
        "{{ actions.valeurs_republique_laicite.types.sensibilisation }} sessions de sensibilisation aux valeurs "
        "de la République et à la laïcité assurées par l'État auprès des partenaires du contrat de ville, "
        "notamment associatifs{% if autres %},{% else %}.{% endif %}",
    )
    _tag(document, "endif")
    _tag(document, "for a in autres")
    _bullet(
        document,
        "{{ a.libelle }} : {% if a.personnes %}{{ a.personnes }} personnes{% endif %}"
        "{% if a.personnes and a.activites %} et {% endif %}"
        "{% if a.activites %}{{ a.activites }} activités{% endif %}"
        "{% if not a.personnes and not a.activites %}aucune donnée reçue{% endif %}"
        "{{ '.' if loop.last else ',' }}",
    )
    _tag(document, "endfor")


def _figures(document: DocumentObject, funding_sentence: bool) -> None:
    """The table and chart of the actions' figures, and the funding."""
    document.add_heading("Les chiffres de chaque action", level=1)
    _paragraph(
        document,
        "Sur toute la période ; « n.d. » : l'indicateur ne s'applique pas à l'action (par exemple des "
        "personnes pour une action qui ne compte que des participants déclarés).",
    )
    _paragraph(document, "{{ tableaux.actions }}")
    _paragraph(document, "{{ graphiques.personnes }}")
    document.add_heading("Les financements", level=2)
    _tag(document, "if financements.annees")
    if funding_sentence:
        _paragraph(
            document,
            "{% if financements.premiere_annee == financements.derniere_annee %}En "
            "{{ financements.premiere_annee }}{% else %}De {{ financements.premiere_annee }} à "
            "{{ financements.derniere_annee }}{% endif %}, {{ financements.projets_par_an|approx('projets') }} "
            "ont été financés chaque année en moyenne, dont {{ financements.projets_agglo_par_an|approx }} par "
            "l'agglomération, qui y a consacré {{ financements.credits_agglo_par_an }} par an en moyenne.",
        )
    _paragraph(document, "{{ tableaux.financements }}")
    _paragraph(document, "{{ graphiques.credits }}")
    _tag(document, "else")
    _paragraph(document, "Aucun financement n'a été transmis pour ce contrat (fichier de programmation).")
    _tag(document, "endif")


def _objectives(document: DocumentObject) -> None:
    document.add_heading("Objectifs et résultats", level=1)
    _tag(document, "if objectifs.lignes")
    _tag(document, "if objectifs.illustratifs")
    _paragraph(
        document,
        "Les objectifs ci-dessous sont illustratifs : ils accompagnent les données d'essai pour montrer la "
        "comparaison, et ne sont pas ceux du contrat.",
        bold=True,
    )
    _tag(document, "endif")
    _paragraph(document, "{{ tableaux.objectifs }}")
    _tag(document, "else")
    _paragraph(document, "Aucun objectif n'a été fixé pour ce contrat (dossier targets/ vide).")
    _tag(document, "endif")


def _annex(document: DocumentObject) -> None:
    """The data received, set aside or missing, the method and the dictionary of indicators."""
    document.add_page_break()
    document.add_heading("Annexe : qualité des données et méthode", level=1)
    document.add_heading("Données reçues", level=2)
    _paragraph(document, "{{ tableaux.donnees }}")
    _paragraph(
        document,
        "Partenaires sans données : {% if donnees.sans_donnees %}{{ donnees.sans_donnees|join(', ') }}"
        "{% else %}aucun.{% endif %}",
    )
    _tag(document, "if donnees.fichiers_rejetes")
    _paragraph(
        document, "Fichiers rejetés (non lus ; la version précédente, s'il y en a une, reste en place) :"
    )
    _tag(document, "for f in donnees.fichiers_rejetes")
    _bullet(document, "{{ f.partenaire }} — {{ f.motif }}")
    _tag(document, "endfor")
    _tag(document, "else")
    _paragraph(document, "Aucun fichier n'a été rejeté.")
    _tag(document, "endif")
    _tag(document, "if donnees.retours")
    _paragraph(
        document,
        "Fichiers de retour aux partenaires (dossier {{ donnees.dossier_retours }}/ à côté de cette note), à "
        "leur envoyer tels quels : chacun liste les fichiers reçus du partenaire et ce qu'il doit y corriger, "
        "sans aucune donnée personnelle.",
    )
    _tag(document, "for r in donnees.retours")
    _bullet(document, "{{ r.partenaire }} — {{ r.fichier }} : {{ r.resume }}")
    _tag(document, "endfor")
    _tag(document, "else")
    _paragraph(
        document,
        "Aucun fichier de retour aux partenaires : aucun n'a de fichier rejeté, de ligne écartée, de quartier "
        "non reconnu ni de colonne facultative absente.",
    )
    _tag(document, "endif")
    _paragraph(
        document,
        "Une ligne écartée ne compte dans aucun indicateur : son motif (date impossible, code inconnu, "
        "doublon…) est transmis au partenaire pour correction.",
    )
    document.add_heading("Méthode", level=2)
    _tag(document, "for regle in methode.regles")
    _bullet(document, "{{ regle }}")
    _tag(document, "endfor")
    _bullet(
        document,
        "Parcours : seules les sources qui identifient les personnes par nom, prénom et date de naissance "
        "complète peuvent être rapprochées ({{ methode.sources_rapprochables }}).",
    )
    _bullet(document, "{{ methode.regle_arrondi }}")
    _bullet(
        document,
        "Les personnes sont pseudonymisées dès la lecture des fichiers : aucun nom ni date de naissance "
        "complète n'est conservé ; cette note ne contient que des chiffres agrégés.",
    )
    document.add_heading("Dictionnaire des indicateurs", level=2)
    _tag(document, "for entree in methode.dictionnaire")
    paragraph = document.add_paragraph(style="List Bullet")
    paragraph.add_run("{{ entree.libelle }} : ").bold = True
    paragraph.add_run("{{ entree.detail }}")
    _tag(document, "endfor")


def _template(
    title: str, contract: Callable[[DocumentObject], None], actions: Callable[[DocumentObject], None]
) -> DocumentObject:
    document = _start(title)
    contract(document)
    actions(document)
    _figures(document, funding_sentence=actions is _actions_default)
    _objectives(document)
    _annex(document)
    return document


def default_template() -> DocumentObject:
    """The default template: reads well for any contract and any actions."""
    return _template("Gabarit de la note d'évaluation", _contract_default, _actions_default)


def cv262_template() -> DocumentObject:
    """Grand Chambéry's template (CV262): the sentences written for its actions and partners."""
    return _template("Gabarit de la note d'évaluation (CV262)", _contract_cv262, _actions_cv262)


def docx_bytes(document: DocumentObject) -> bytes:
    """The document saved with fixed zip dates: the same template gives the same bytes."""
    saved = io.BytesIO()
    document.save(saved)
    out = io.BytesIO()
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            entry = zipfile.ZipInfo(item.filename, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(entry, source.read(item.filename))
    return out.getvalue()


SHIPPED: dict[Path, Callable[[], DocumentObject]] = {
    DEFAULT_TEMPLATE: default_template,
    CV262_TEMPLATE: cv262_template,
}


def main() -> int:
    """Write the shipped templates."""
    for path, build in SHIPPED.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(docx_bytes(build()))
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
