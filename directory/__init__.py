"""The records everyone shares: database plumbing, territories, organisations, venues and services, accounts, nearby search."""
