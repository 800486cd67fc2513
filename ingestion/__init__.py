"""Open data in and out: the national venue standard, hub files, territories, geocoding, deduplication, exports."""
