"""The French names of the rules that set a row aside: what `quarantine.rule` says instead of a GX class name.

A rule's name is a stable code in French (lower case, words joined by `_`, as the national sources'
`doublon_poste` or `contrat_absent`): people filter on it in the quarantine and read it in the
Dagster run. A suite's expectation may name its own rule (`meta.rule`); otherwise its Great
Expectations type gives it. The rules the pipeline adds to every suite have names of their own.
"""

from __future__ import annotations

from typing import Any

from cvpipeline.catalog.suites import RULE_CODE
from cvpipeline.text import fold

# The rule of an expectation written in a suite, by its Great Expectations type.
RULES_BY_EXPECTATION = {
    "expect_column_values_to_not_be_null": "valeur_manquante",
    "expect_column_values_to_be_between": "hors_limites",
    "expect_column_values_to_be_in_set": "valeur_non_admise",
    "expect_column_values_to_not_be_in_set": "valeur_interdite",
    "expect_column_values_to_match_regex": "format_incorrect",
    "expect_column_values_to_not_match_regex": "format_incorrect",
    "expect_column_value_lengths_to_be_between": "longueur_incorrecte",
    "expect_column_values_to_be_unique": "valeur_en_double",
    "expect_compound_columns_to_be_unique": "enregistrement_en_double",
    "expect_select_column_values_to_be_unique_within_record": "valeur_en_double",
    "expect_column_pair_values_a_to_be_greater_than_b": "valeurs_incoherentes",
    "expect_column_pair_values_to_be_equal": "valeurs_incoherentes",
    "expect_multicolumn_sum_to_equal": "valeurs_incoherentes",
}
# An expectation of a type the table above does not name.
OTHER_RULE = "controle_non_satisfait"
# The rules every table gets (validate/expectations.py `load_suite_definition`).
UNREADABLE = "valeur_illisible"
NONEXISTENT_DATE = "date_inexistante"
DUPLICATE = "doublon"
TOTAL_ROW = "ligne_de_total"
UNKNOWN_ACTIVITY_TYPE = "type_activite_inconnu"
# Pillar or theme: `<noun>_inconnu` with the contract's word (pilier_inconnu, theme_inconnu).
UNKNOWN_ENTRY_SUFFIX = "_inconnu"


def rule_of(expectation: dict[str, Any]) -> str:
    """The French rule code of an expectation: its `meta.rule`, else its type's (`RULES_BY_EXPECTATION`)."""
    given = (expectation.get("meta") or {}).get("rule")
    if isinstance(given, str) and RULE_CODE.fullmatch(given):
        return given
    return RULES_BY_EXPECTATION.get(str(expectation.get("type", "")), OTHER_RULE)


def unknown_entry_rule(noun: str) -> str:
    """The rule of a pillar or theme label that names no entry of the contract's nomenclature."""
    return fold(noun).replace(" ", "_") + UNKNOWN_ENTRY_SUFFIX
