"""The note rendered from Word templates: the default one for any contract, CV262's, a team's own."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import dagster as dg
import pytest
import yaml
from docx import Document

from cvpipeline.catalog import CONTRACTS_DIR, CatalogError, load_catalog
from cvpipeline.cli import main
from cvpipeline.defs import build_defs
from cvpipeline.defs.resources import PipelineSettings
from cvpipeline.report.data import load_report_data
from cvpipeline.report.note import note_template, write_note
from cvpipeline.report.template import DEFAULT_TEMPLATE, NoteTemplateError
from cvpipeline.report.template_files import CV262_TEMPLATE, SHIPPED, docx_bytes
from cvpipeline.settings import SUITES_DIR_ENV
from cvpipeline.warehouse.engine import make_engine
from cvpipeline_tests.test_onboarding import NEW_SOURCE, SOURCE, SUITE
from cvpipeline_tests.test_report import SEED_PHRASES, note_text
from cvpipeline_tests.two_contracts import CATALOGS, loaded_contracts


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    with loaded_contracts(tmp_path_factory.mktemp("templates")) as loaded:
        engine = make_engine(f"sqlite:///{loaded['db']}")
        yield {**loaded, "data": {code: load_report_data(engine, c) for code, c in CATALOGS.items()}}


def chart_count(path: Path) -> int:
    package = Document(str(path)).part.package
    return len([p for p in package.iter_parts() if str(p.partname).startswith("/word/charts/")])


def headings(path: Path) -> list[str]:
    return [p.text for p in Document(str(path)).paragraphs if p.style.name.startswith("Heading")]


def assert_rendered(text: str) -> None:
    """No Jinja tag nor block marker is left in a rendered note."""
    for left in ("{{", "}}", "{%", "%}", "[[bloc:"):
        assert left not in text, left


def test_the_shipped_templates_are_current() -> None:
    for path, build in SHIPPED.items():
        assert path.read_bytes() == docx_bytes(build()), "python -m cvpipeline.report.template_files"
    assert CATALOGS["CV262"].note_template == CV262_TEMPLATE
    assert note_template(CATALOGS["CN07302M"]) == DEFAULT_TEMPLATE


@pytest.mark.parametrize("code", ["CV262", "CN07302M"])
def test_the_default_template_reads_well_for_both_shipped_contracts(
    loaded: dict, tmp_path: Path, code: str
) -> None:
    data = loaded["data"][code]
    path = write_note(data, tmp_path / "note.docx", DEFAULT_TEMPLATE)
    text = note_text(path)
    assert_rendered(text)
    catalog = CATALOGS[code]
    assert catalog.contract_label in text
    noun = "thème" if code == "CN07302M" else "pilier"
    assert f"Les actions par {noun}" in text
    # Every action has its sentence, with its figure from the warehouse.
    for action in catalog.actions:
        people = data.action(action, "beneficiaries")
        assert any(
            line.startswith(catalog.actions[action].label)
            and (people is None or f"{int(people)} personnes" in line)
            for line in text.splitlines()
        ), action
    assert "Développer des actions innovantes" not in text
    assert chart_count(path) == 2
    assert headings(path)[-3:] == ["Données reçues", "Méthode", "Dictionnaire des indicateurs"]
    if code == "CV262":
        assert "Ma chance moi aussi) : 94 personnes" in text
        assert "De 2016 à 2018, une centaine de projets ont été financés" in text


def test_cv262_note_keeps_the_seed_sentences_from_its_template(loaded: dict, tmp_path: Path) -> None:
    path = write_note(loaded["data"]["CV262"], tmp_path / "note.docx")
    text = note_text(path)
    assert_rendered(text)
    for phrase in SEED_PHRASES:
        assert phrase in text, phrase
    assert (
        "le terrain était fréquenté par environ 40 jeunes à fin 2016, environ 60 jeunes à fin 2017 et "
        in text
    )
    assert "Les actions par pilier" not in text
    assert chart_count(path) == 2


def team_template(path: Path, first: str, second: str) -> Path:
    """A team's template made in Word (here with python-docx): its own sentence, its own order."""
    document = Document()
    document.add_heading(first, level=1)
    if first == "Méthode":
        document.add_paragraph("{%p for regle in methode.regles %}")
        document.add_paragraph("{{ regle }}", style="List Bullet")
        document.add_paragraph("{%p endfor %}")
        document.add_heading(second, level=1)
    document.add_paragraph(
        "Notre équipe a suivi {{ actions|length }} actions du {{ contrat.libelle }} ; CitésLab a accompagné "
        "{{ actions.citeslab.personnes }} personnes ({{ actions.citeslab.habitants_qpv }} d'habitants des QPV)."
    )
    document.add_paragraph("{{ tableaux.actions }}")
    document.add_paragraph("Territoire : {{ contrat.territoire }}, {{ axes|length }} {{ contrat.nom_axes }}.")
    document.save(str(path))
    return path


def test_a_team_template_changes_a_sentence_and_the_order(loaded: dict, tmp_path: Path) -> None:
    template = team_template(tmp_path / "equipe.docx", "Méthode", "Nos actions")
    path = write_note(loaded["data"]["CV262"], tmp_path / "out" / "note.docx", template)
    text = note_text(path)
    assert_rendered(text)
    assert headings(path) == ["Méthode", "Nos actions"]
    assert (
        "Notre équipe a suivi 10 actions du Contrat de ville de Grand Chambéry (2015-2023) ; CitésLab a "
        "accompagné 118 personnes (37,4 % d'habitants des QPV)." in text
    )
    assert "Territoire : Chambéry Métropole, 4 piliers." in text
    assert text.index("Périodes :") < text.index("Notre équipe")
    # The table is built where the template put its variable: between the two sentences.
    document = Document(str(path))
    body = [child.tag.rsplit("}", 1)[1] for child in document.element.body.iterchildren()]
    assert "tbl" in body
    assert "Développer des actions innovantes" not in text


def test_the_catalog_points_a_contract_to_its_template(loaded: dict, tmp_path: Path) -> None:
    raw = yaml.safe_load((CONTRACTS_DIR / "CV262.yaml").read_text(encoding="utf-8"))
    raw["note_template"] = "gabarits/equipe.docx"
    contract = tmp_path / "contrat.yaml"
    contract.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CatalogError, match=r"note_template : fichier introuvable « gabarits/equipe.docx »"):
        load_catalog(contract)
    (tmp_path / "gabarits").mkdir()
    team_template(tmp_path / "gabarits" / "equipe.docx", "Nos actions", "")
    catalog = load_catalog(contract)
    assert catalog.note_template == tmp_path / "gabarits" / "equipe.docx"
    note = write_note(loaded["data"]["CV262"], tmp_path / "note.docx", catalog.note_template)
    assert headings(note) == ["Nos actions"]
    # A copy of a shipped contract file elsewhere keeps its shipped template.
    raw["note_template"] = "CV262.note.docx"
    contract.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    assert load_catalog(contract).note_template == CV262_TEMPLATE


def broken_template(path: Path, text: str) -> Path:
    document = Document()
    document.add_paragraph("Avant")
    document.add_paragraph(text)
    document.save(str(path))
    return path


@pytest.mark.parametrize(
    "tag, message",
    [
        ("{{ contrat.libele }}", "variable inconnue « contrat.libele »"),
        (
            "{{ actions.citeslab.personnes_suivies }}",
            "variable inconnue « actions.citeslab.personnes_suivies »",
        ),
        (
            "{% for a in actions %}{{ a.budget }}{% endfor %}",
            "variable inconnue « actions.permis_conduire.budget »",
        ),
        ("{{ montant_total }}", "variable inconnue « montant_total »"),
        ("{{ contrat.libelle }", "balise Jinja mal formée dans le paragraphe « {{ contrat.libelle } »"),
        ("{% if contrat.code %}oui", "balise {% if %} non fermée (il manque {% endif %})"),
    ],
)
def test_a_template_error_is_one_french_line_and_no_file(
    loaded: dict, tmp_path: Path, tag: str, message: str
) -> None:
    template = broken_template(tmp_path / "equipe.docx", tag)
    out = tmp_path / "out"
    with pytest.raises(NoteTemplateError) as raised:
        write_note(loaded["data"]["CV262"], out / "note.docx", template)
    text = str(raised.value)
    assert message in text and text.startswith("gabarit de note equipe.docx : ")
    assert "\n" not in text and "Traceback" not in text and "docs/documents.md" in text
    assert not out.exists()


def test_the_note_command_says_the_template_error_in_french(
    loaded: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    raw = yaml.safe_load((CONTRACTS_DIR / "CV262.yaml").read_text(encoding="utf-8"))
    raw["note_template"] = "equipe.docx"
    (tmp_path / "contrat.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    broken_template(tmp_path / "equipe.docx", "Le {{ contrat.nom }} en chiffres")
    monkeypatch.setenv("CVPIPELINE_CATALOG", str(tmp_path / "contrat.yaml"))
    out = tmp_path / "out"
    code = main(["note", "--data-dir", str(loaded["data_dir"]), "--warehouse-url",
                 f"sqlite:///{loaded['db']}", "--out", str(out)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == [
        "cvpipeline : gabarit de note equipe.docx : variable inconnue « contrat.nom » ; voir docs/documents.md"
    ]
    assert not out.exists()


NEW_CONTRACT = "CV900"
NEW_ACTION = "animations_pied_immeuble"
NEW_SAMPLE = (
    "Date;Résidence;Quartier;Nombre d'habitants\n"
    "12/03/2024;Résidence Les Combes;Hauts-de-Chambéry;18\n"
    "04/05/2024;Résidence du Biollay;Biollay-Bellevue;25\n"
    "21/06/2025;Résidence Bellevue;Biollay-Bellevue;-3\n"
)


@pytest.fixture
def new_contract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """A contract not in the sample (as docs/onboarding.md adds one): one partner of its own, loaded."""
    raw = yaml.safe_load((CONTRACTS_DIR / "CN07302M.yaml").read_text(encoding="utf-8"))
    raw.update(
        contract_code=NEW_CONTRACT,
        contract_label="Contrat de ville d'essai « Quartiers en action » (2024-2030)",
        actions={
            NEW_ACTION: {
                "label": "Animations en pied d'immeuble",
                "theme": "cadre_de_vie_transitions",
                "source": SOURCE,
            }
        },
        sources={SOURCE: NEW_SOURCE},
    )
    raw.pop("layouts", None)
    contract = tmp_path / "config" / "contrat.yaml"
    contract.parent.mkdir()
    contract.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    suites = tmp_path / "config" / "suites"
    (suites / SOURCE).mkdir(parents=True)
    (suites / SOURCE / "animations.json").write_text(json.dumps(SUITE, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setenv(SUITES_DIR_ENV, str(suites))
    data = tmp_path / "data"
    (data / "incoming" / NEW_CONTRACT / SOURCE).mkdir(parents=True)
    (data / "incoming" / NEW_CONTRACT / SOURCE / "animations_2024.csv").write_text(
        NEW_SAMPLE, encoding="utf-8"
    )
    catalog = load_catalog(contract, suites)
    db = data / "warehouse.db"
    result = dg.materialize(
        list(build_defs(catalog).assets or []),
        selection=dg.AssetSelection.groups("sources", "warehouse", "metrics"),
        resources={"settings": PipelineSettings(data_dir=str(data), warehouse_url=f"sqlite:///{db}")},
        instance=dg.DagsterInstance.ephemeral(),
        partition_key=NEW_CONTRACT,
        raise_on_error=False,
    )
    assert result.success
    return {"catalog": catalog, "data": load_report_data(make_engine(f"sqlite:///{db}"), catalog)}


def test_the_default_template_renders_a_contract_not_in_the_sample(
    new_contract: dict, tmp_path: Path
) -> None:
    catalog = new_contract["catalog"]
    assert note_template(catalog) == DEFAULT_TEMPLATE
    path = write_note(new_contract["data"], tmp_path / "note.docx")
    text = note_text(path)
    assert_rendered(text)
    assert "Contrat de ville d'essai « Quartiers en action » (2024-2030)" in text
    assert "Les actions par thème" in text and "Cadre de vie, sociabilité et transitions" in text
    # Two animations kept (the negative count set aside), 43 residents declared.
    assert (
        "Animations en pied d'immeuble (Chambéry Alpes Habitat) : 2 activités réunissant 43 participants"
        in text
    )
    assert "Aucun financement n'a été transmis" in text
    assert "Aucun objectif n'a été fixé" in text
    assert "Chambéry Alpes Habitat — retours/" in text
    assert chart_count(path) == 0  # no one counted, no funding: no chart rather than an empty one


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) absent")
def test_the_note_converts_to_pdf_with_libreoffice(loaded: dict, tmp_path: Path) -> None:
    path = write_note(loaded["data"]["CN07302M"], tmp_path / "note.docx")
    profile = tmp_path / "profile"
    subprocess.run(
        ["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "pdf",
         "--outdir", str(tmp_path), str(path)],
        check=True, capture_output=True, timeout=240,
    )  # fmt: skip
    pdf = tmp_path / "note.pdf"
    assert pdf.is_file() and pdf.stat().st_size > 10_000
    content = pdf.read_bytes()
    assert content.startswith(b"%PDF") and b"/Font" in content
    try:
        from pypdf import PdfReader
    except ImportError:  # pypdf is not a dependency: the size and fonts above say the PDF has text
        return
    text = "".join(page.extract_text() for page in PdfReader(str(pdf)).pages)
    assert "Engagements Quartiers 2030" in text
