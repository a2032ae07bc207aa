"""Names shared by the Dagster definitions: checks, assets, tags, partitions and the run batches."""

from collections.abc import Mapping

import dagster as dg

from cvpipeline.catalog import Catalog

OWNER = "team:politique_de_la_ville"
# The run tags that name a run's partitions: one, or the two ends of a range.
PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
PARTITION_TAGS = (PARTITION_TAG, RANGE_START_TAG, RANGE_END_TAG)
FULL_REFRESH_JOB = "cvpipeline_full_refresh"

# A run covers one contract, or a range of contracts (a backfill, `python -m cvpipeline run`): at most
# this many per run, so that a national refresh pays Dagster's bookkeeping once per batch of contracts,
# not once per contract. Each asset handles its run's contracts one after the other (defs/results.py
# combines their results: Dagster records the materialisation for each contract's partition).
CONTRACTS_PER_RUN = 50
CONTRACT_BATCHES = dg.BackfillPolicy.multi_run(max_partitions_per_run=CONTRACTS_PER_RUN)

# The checks of every source asset (stable names: the UI, the tests and the docs use them).
FILES_READABLE = "fichiers_lisibles"
ROWS_VALID = "lignes_valides"
HAS_LOADABLE_FILE = "fichier_chargeable"
COLUMNS_PRESENT = "colonnes_presentes"
SHEETS_UNREAD = "feuilles_non_lues"
RESIDENCE_KNOWN = "residence_connue"

TARGETS_ASSET = "evaluation_targets"
TARGETS_VALID = "objectifs_valides"
METRICS_ASSET = "evaluation_metrics"


# Every run that writes the warehouse carries this tag (a dagster.yaml can limit their concurrency with
# concurrency.runs.tag_concurrency_limits); the warehouse serialises two writers of one source anyway.
WAREHOUSE_TAG = "cvpipeline/entrepot"
WAREHOUSE_TAG_VALUE = "ecriture"
SOURCE_TAG = "cvpipeline/source"


def contract_partitions(catalogs: Mapping[str, Catalog]) -> dg.StaticPartitionsDefinition:
    """One partition per contract of the catalogs: a contract's runs touch only its own rows."""
    return dg.StaticPartitionsDefinition(sorted(catalogs))
