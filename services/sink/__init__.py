"""ClickHouse sink: every analysis topic into ClickHouse, and the queries analysts ask of it."""
