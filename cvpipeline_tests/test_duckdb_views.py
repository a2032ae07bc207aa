"""The analysts' views typed and exact on every client: SQLite, DuckDB attaching the SQLite file, PostgreSQL.

The sample warehouses are those of the session's `both` fixture (conftest.py): the sample run once on
SQLite and once on PostgreSQL. DuckDB loads its sqlite_scanner extension from the pinned package,
offline (cvpipeline.warehouse.duckdb_views).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
import yaml

from cvpipeline.catalog import CatalogError, load_catalog, parse_catalog
from cvpipeline.catalog.files import CONTRACTS_DIR
from cvpipeline.cli import main as cli_main
from cvpipeline.warehouse.duckdb_views import ATTACHED, connect, extension_path
from cvpipeline.warehouse.migrations import prepare
from cvpipeline.warehouse.schema import METADATA, table_for
from cvpipeline.warehouse.views import COLUMN_TYPES, VIEWS, refresh_views

# What PostgreSQL's information_schema says of each kind (data_type, numeric precision and scale).
PG_TYPES = {
    "text": ("text", None, None),
    "integer": ("integer", 32, 0),
    "real": ("double precision", 53, None),
    "date": ("date", None, None),
    "timestamp": ("timestamp without time zone", None, None),
    "money": ("numeric", 14, 2),
}
# Each view's money columns and the table column (exact text on SQLite) they come from.
AMOUNTS = {
    ("v_financements", "montant_agglo_eur"): ("fundings", "amount_agglo_eur"),
    ("v_financements", "montant_etat_eur"): ("fundings", "amount_state_eur"),
    ("v_financements", "autres_financements_eur"): ("fundings", "amount_other_eur"),
    ("v_postes_anct", "montant_eur"): ("funded_posts", "amount_eur"),
}


def sqlite_path(both: dict) -> Path:
    return Path(sa.make_url(both["sqlite"]).database)


@pytest.fixture(scope="module")
def duck(both: dict):
    con = connect(sqlite_path(both))
    yield con
    con.close()


@pytest.fixture(scope="module")
def analyst(both: dict):
    """The PostgreSQL warehouse as the read-only analyst role (its search_path: the analysts' schema)."""
    assert cli_main(["create-analyst-role", "analyste_types", "--warehouse-url", both["pg"]]) == 0
    engine = sa.create_engine(sa.make_url(both["pg"]).set(username="analyste_types"))
    yield engine
    engine.dispose()


def lite(both: dict, sql: str) -> list[tuple]:
    with sqlite3.connect(sqlite_path(both)) as con:
        return con.execute(sql).fetchall()


def pg(analyst: sa.Engine, sql: str) -> list[tuple]:
    with analyst.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql))]


def test_the_extension_comes_from_the_package_and_nothing_is_downloaded(duck) -> None:
    assert "duckdb_extension_sqlite_scanner" in str(extension_path()) and extension_path().is_file()
    settings = dict(
        duck.execute(
            "select name, value from duckdb_settings() "
            "where name in ('autoinstall_known_extensions', 'autoload_known_extensions')"
        ).fetchall()
    )
    assert settings == {"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"}
    loaded = duck.execute(
        "select loaded, install_mode from duckdb_extensions() where extension_name = 'sqlite_scanner'"
    ).fetchone()
    assert loaded[0] is True and loaded[1] != "REPOSITORY"


def test_every_view_column_has_its_declared_type_on_the_three_clients(both: dict, duck, analyst) -> None:
    for view in VIEWS:
        expected = [(name, kind) for name, kind, _, _ in view.columns]
        declared = [(r[1], r[2]) for r in lite(both, f"pragma table_info({view.name})")]
        assert declared == [(n, COLUMN_TYPES[k]["sqlite"]) for n, k in expected], view.name
        described = [(r[0], r[1]) for r in duck.execute(f"describe {view.name}").fetchall()]
        assert described == [(n, COLUMN_TYPES[k]["duckdb"]) for n, k in expected], view.name
        columns = pg(
            analyst,
            "select column_name, data_type, numeric_precision, numeric_scale from information_schema.columns "
            f"where table_schema = 'cvpipeline' and table_name = '{view.name}' order by ordinal_position",
        )
        assert columns == [(n, *PG_TYPES[k]) for n, k in expected], view.name


def test_a_bare_attach_reads_the_sqlite_views_typed_too(both: dict) -> None:
    """DuckDB's own reading of the SQLite views (ATTACH without the helper): typed, amounts as DOUBLE."""
    con = connect(sqlite_path(both))
    try:
        for view in VIEWS:
            described = [r[1] for r in con.execute(f"describe {ATTACHED}.{view.name}").fetchall()]
            expected = [
                "DOUBLE" if k == "money" else COLUMN_TYPES[k]["duckdb"] for _, k, _, _ in view.columns
            ]
            assert described == expected, view.name
        # The known fault: v_indicateurs read as text, sum(valeur) refused.
        assert con.execute(f"select sum(valeur) > 0 from {ATTACHED}.v_indicateurs").fetchone() == (True,)
    finally:
        con.close()


@pytest.mark.parametrize(("view", "column"), list(AMOUNTS))
def test_sums_of_money_are_exact_to_the_cent_on_the_three_clients(
    both: dict, duck, analyst, view: str, column: str
) -> None:
    table, amount = AMOUNTS[(view, column)]
    # The cents sum, exact, from the SQLite table's text ('586448.98' -> 58644898).
    cents = lite(
        both, f"select sum(cast(replace({amount}, '.', '') as integer)), count({amount}) from {table}"
    )[0]
    assert cents[1] > 0 and all(
        len(r[0].split(".")[1]) == 2
        for r in lite(both, f"select {amount} from {table} where {amount} is not null")
    )
    exact = Decimal(cents[0]) / 100
    by_contract = f"select code_contrat, sum({column}) from {view} group by 1 order by 1"
    assert duck.execute(f"select sum({column}) from {view}").fetchone()[0] == exact
    assert pg(analyst, f"select sum({column}) from {view}")[0][0] == exact
    assert round(lite(both, f"select sum({column}) from {view}")[0][0] * 100) == cents[0]
    duck_sums = duck.execute(by_contract).fetchall()
    assert duck_sums == pg(analyst, by_contract)
    assert [(c, round(s * 100)) for c, s in lite(both, by_contract)] == [
        (c, int(s * 100)) for c, s in duck_sums
    ]


def test_typed_aggregates_agree_on_every_view(both: dict, duck, analyst) -> None:
    """Per view: numbers summed, dates bounded, texts counted, alike on SQLite, DuckDB and PostgreSQL."""
    for view in VIEWS:
        for name, kind, _, _ in view.columns:
            if kind == "timestamp":  # when each run wrote its ledger: the two runs differ
                continue
            sql = {
                "text": f"select count(distinct {name}) from {view.name}",
                "integer": f"select sum({name}) from {view.name}",
                "real": f"select sum({name}) from {view.name}",
                "money": f"select sum({name}) from {view.name}",
                "date": f"select min({name}), max({name}) from {view.name}",
            }[kind]
            on_duck, on_pg = duck.execute(sql).fetchone(), pg(analyst, sql)[0]
            on_lite = lite(both, sql)[0]
            if kind == "date":
                assert all(v is None or isinstance(v, dt.date) for v in on_duck + on_pg), (view.name, name)
                on_duck = tuple(v.isoformat() if v else None for v in on_duck)
                on_pg = tuple(v.isoformat() if v else None for v in on_pg)
            if kind == "integer":
                assert all(isinstance(v, int) for v in on_duck + on_pg + on_lite if v is not None)
            if kind in ("real", "money") and on_pg[0] is not None:
                # Floating point sums (money: SQLite's own) agree to a billionth; exact money is tested above.
                on_duck, on_lite = float(on_duck[0]), float(on_lite[0])
                assert on_duck == pytest.approx(float(on_pg[0]), rel=1e-12) == on_lite, (view.name, name)
                continue
            assert on_duck == on_pg == on_lite, (view.name, name, on_lite, on_duck, on_pg)


def test_rates_compare_as_numbers_and_years_are_integers(both: dict, duck, analyst) -> None:
    below = "select count(*) from v_indicateurs where taux_realisation_pct < 80"
    assert duck.execute(below).fetchone()[0] == pg(analyst, below)[0][0] == lite(both, below)[0][0] > 0
    # 100 < 80 as text ('100' < '80') would count the rows at 100 %.
    assert (
        duck.execute("select count(*) from v_indicateurs where taux_realisation_pct >= 100").fetchone()[0]
        == (lite(both, "select count(*) from v_indicateurs where taux_realisation_pct >= 100")[0][0])
    )
    years = "select distinct annee from v_indicateurs where code_type_periode = 'year' order by 1"
    on_duck = [r[0] for r in duck.execute(years).fetchall()]
    assert on_duck == [r[0] for r in pg(analyst, years)] == [r[0] for r in lite(both, years)]
    assert on_duck and all(isinstance(y, int) and 2000 < y < 2100 for y in on_duck)
    first = "select min(debut) from v_indicateurs where code_type_periode = 'year'"
    assert duck.execute(first).fetchone()[0] == pg(analyst, first)[0][0] == dt.date(on_duck[0], 1, 1)


def test_fundings_name_their_quartiers(both: dict, duck, analyst) -> None:
    names = {(c, q): n for c, q, n in lite(both, "select contract_code, qpv_id, name from ref_qpv")}
    rows = lite(both, "select code_contrat, quartiers, noms_quartiers from v_financements")
    assert any("," in (r[1] or "") for r in rows)
    for code, ids, shown in rows:
        expected = {names[(code, i)] for i in (ids or "").split(",") if i}
        assert set((shown or "").split(", ")) - {""} == expected, (ids, shown)
    sql = "select quartiers, noms_quartiers from v_financements order by 1"
    canonical = sorted({(q, ", ".join(sorted((n or "").split(", ")))) for q, n in lite(both, sql)})
    for rows in (duck.execute(sql).fetchall(), pg(analyst, sql)):
        assert sorted({(q, ", ".join(sorted((n or "").split(", ")))) for q, n in rows}) == canonical


def test_the_contract_label_and_period_come_from_the_catalog(both: dict, duck, analyst) -> None:
    catalog = load_catalog()
    start, end = catalog.period
    assert catalog.contract_label.endswith(f"({start}-{end})")
    for view in ("v_postes_anct", "v_indicateurs", "v_financements"):
        sql = f"select distinct contrat from {view} where code_contrat = 'CV262'"
        assert lite(both, sql) == [(catalog.contract_label,)], view
        assert duck.execute(sql).fetchall() == pg(analyst, sql) == [(catalog.contract_label,)], view
    # The ANCT's own name stays in its reference table.
    assert lite(both, "select label from ref_contracts where contract_code = 'CV262'") == [
        ("CA Chambéry Métropole",)
    ]


def test_a_label_writing_another_period_than_the_catalog_is_refused() -> None:
    raw = yaml.safe_load((CONTRACTS_DIR / "CV262.yaml").read_text(encoding="utf-8"))
    start, end = raw["period"]["start"], raw["period"]["end"]
    with pytest.raises(CatalogError, match=f"« {start}-{end - 1} »"):
        parse_catalog({**raw, "contract_label": f"{raw['contract_label']} ({start}-{end - 1})"})
    same = parse_catalog({**raw, "contract_label": f"{raw['contract_label']} ({start}-{end})"})
    assert same.contract_label == load_catalog().contract_label


def _legacy_amounts(url: str) -> sa.Engine:
    """A warehouse whose funded_posts amounts are FLOAT, as an earlier version wrote them."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        prepare(conn)
        posts = table_for(conn.dialect.name, "funded_posts")
        target = conn.dialect.identifier_preparer.format_table(posts)
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text(f"ALTER TABLE {target} ALTER COLUMN amount_eur TYPE DOUBLE PRECISION"))
        else:
            conn.execute(sa.text("DROP TABLE funded_posts"))
            columns = ", ".join(
                f"{c.name} {'FLOAT' if c.name == 'amount_eur' else c.type.compile(conn.dialect)}"
                for c in METADATA.tables["funded_posts"].columns
            )
            conn.execute(sa.text(f"CREATE TABLE funded_posts ({columns})"))
        conn.execute(
            sa.text(
                f"INSERT INTO {target} (post_row_id, source_id, post_kind, post_id, year, amount_eur, "
                "contract_code) VALUES ('r1', 'anct_postes', 'fonjep', 'P1', 2023, 586448.98, 'CV262'), "
                "('r2', 'anct_postes', 'fonjep', 'P2', 2023, 0.1, 'CV262'), "
                "('r3', 'anct_postes', 'fonjep', 'P3', 2023, 0.2, 'CV262')"
            )
        )
    return engine


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_an_earlier_warehouse_gets_exact_amounts(dialect: str, tmp_path: Path, postgres_url: str) -> None:
    from cvpipeline.warehouse import migrations

    url = f"sqlite:///{tmp_path / 'old.db'}" if dialect == "sqlite" else postgres_url
    engine = _legacy_amounts(url)
    migrations._CURRENT_SCHEMAS.clear()
    refresh_views(engine, "CV262", pd.DataFrame(columns=["contract_code", "kind", "code", "label"]))
    posts = table_for(dialect, "funded_posts")
    with engine.connect() as conn:
        amounts = conn.execute(sa.select(posts.c.amount_eur).order_by(posts.c.post_row_id)).scalars().all()
        total = conn.execute(
            sa.text(
                f"select sum(montant_eur) from {'cvpipeline.' if dialect != 'sqlite' else ''}v_postes_anct"
            )
        ).scalar()
    assert amounts == [Decimal("586448.98"), Decimal("0.10"), Decimal("0.20")]
    assert round(float(total) * 100) == 58644928
    if dialect == "sqlite":
        assert lite(
            {"sqlite": url}, "select amount_eur, typeof(amount_eur) from funded_posts where post_id = 'P2'"
        ) == [("0.10", "text")]
    engine.dispose()
