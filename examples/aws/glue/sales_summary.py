"""Glue job of the AWS example: sum a day of sales per job title from the catalog table and
write the summary as Parquet. Glue runs it (``--database``, ``--table``, ``--output``,
``--day``); the local emulator only records the run."""

import datetime
import sys

from awsglue.context import GlueContext
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext
from pyspark.sql import functions as F

args = getResolvedOptions(sys.argv, ["database", "table", "output", "day"])
day = datetime.date.fromisoformat(args["day"]).isoformat()  # a date, nothing else
glue = GlueContext(SparkContext.getOrCreate())
sales = glue.create_dynamic_frame.from_catalog(
    database=args["database"],
    table_name=args["table"],
    push_down_predicate=f"dt = '{day}'",
).toDF()
summary = sales.groupBy("job").agg(F.count("*").alias("orders"), F.sum("amount").alias("amount"))
summary.write.mode("overwrite").parquet(f"{args['output'].rstrip('/')}/dt={day}/")
