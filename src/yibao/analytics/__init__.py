"""Analytics over all claims: post-event supervision and statistics, on DuckDB and unchanged on Spark."""
