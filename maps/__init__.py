"""The public cartography: map pages and API, territorial coverage, the weekly rebuild."""
