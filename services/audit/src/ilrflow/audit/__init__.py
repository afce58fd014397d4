"""The audit service: every record of every topic, stored once, hash-chained, queryable."""
