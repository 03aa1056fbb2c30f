"""数据中台 — the data middle platform: catalogue, base registries, exchange, open data, quality."""
