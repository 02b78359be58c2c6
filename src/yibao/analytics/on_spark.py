"""The same post-event SQL on Spark (local mode here; a cluster's master URL at national scale)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pyspark.sql import SparkSession

from yibao.analytics.layout import PARTITIONED
from yibao.analytics.sql import DIALECTS, findings_query, staging, views
from yibao.analytics.tables import SOURCES, columns, files
from yibao.domain.supervision.rules import Rule

DIALECT = DIALECTS["spark"]
DRIVER_MEMORY_ENV = "YIBAO_SPARK_DRIVER_MEMORY"
"""The local driver's memory, e.g. 4g (default 2g); a cluster's executors are sized by the cluster."""
PARTITIONS_ENV = "YIBAO_SPARK_SHUFFLE_PARTITIONS"
"""Partitions after a shuffle (default 32): a few thousand claims, as in the tests, run faster on 2."""
_TYPES = {
    "string": "STRING", "int32": "INT", "int64": "BIGINT", "double": "DOUBLE", "bool": "BOOLEAN",
    "date32[day]": "DATE", "timestamp[us]": "TIMESTAMP_NTZ",
}  # fmt: skip


def session(master: str = "local[2]") -> SparkSession:
    """The process's Spark session (made once: startup takes seconds)."""
    spark = (
        SparkSession.builder.master(master)
        .appName("yibao-post-event")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # the JVM is launched here: 1 GB runs out on many broadcasts; 10 million claims want 4 GB
        .config("spark.driver.memory", os.environ.get(DRIVER_MEMORY_ENV, "2g"))
        # enough partitions that one task's aggregation fits at 10 million claims; adaptive execution
        # merges the small ones again on small data
        .config("spark.sql.shuffle.partitions", os.environ.get(PARTITIONS_ENV, "32"))
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def register(spark: SparkSession, data_dir: Path) -> None:
    """The claims of ``data_dir`` as temporary views ``visits``, ``lines``, ``diagnoses``, ``items``, ``item_lists``."""
    for name, schema in SOURCES.items():
        ddl = ", ".join(f"{col} {sql_type}" for col, sql_type in columns(schema, _TYPES))
        if not files(data_dir, name):
            frame = spark.createDataFrame([], ddl)
        elif name in PARTITIONED:
            frame = spark.read.option("basePath", str(data_dir / name)).schema(ddl).parquet(str(data_dir / name))
        else:
            frame = spark.read.parquet(str(data_dir / f"{name}.parquet"))
        frame.createOrReplaceTempView(name)


def run(
    data_dir: Path, rules: tuple[Rule, ...], out: Path | None, *, master: str
) -> tuple[list[tuple[str, int, int]], list[tuple[object, ...]]]:
    """Per rule (rule_id, findings, amount), and the findings themselves unless written to ``out``
    (a directory of Parquet parts)."""
    spark = session(master)
    register(spark, data_dir)
    for name, statement in staging(DIALECT):
        spark.sql(statement)
        spark.catalog.cacheTable(name)
    for _, statement in views(DIALECT):
        spark.sql(statement)
    # One query per rule: Spark runs the union of all rules as one plan several times slower
    # (the shared views are re-planned and re-read for every branch).
    counts: list[tuple[str, int, int]] = []
    found: list[tuple[object, ...]] = []
    if out is not None and out.exists():
        shutil.rmtree(out)  # as a write in "overwrite" mode would
    try:
        for rule in rules:
            findings = spark.sql(findings_query((rule,), DIALECT)).cache()
            n, amount = findings.selectExpr("COUNT(*)", "CAST(COALESCE(SUM(amount), 0) AS BIGINT)").collect()[0]
            if n:
                counts.append((rule.id, int(n), int(amount)))
            if out is not None:
                findings.write.mode("append").parquet(str(out))
            else:
                found.extend(tuple(row) for row in findings.collect())
            findings.unpersist()
        return counts, found
    finally:
        spark.catalog.clearCache()
