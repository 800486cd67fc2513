"""Column mappings of hub files outside the national standard (one TOML file per hub)."""
