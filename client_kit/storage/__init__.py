"""Content-addressed storage: CIDs computed like `ipfs add`, and backends."""
