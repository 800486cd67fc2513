"""Qualification by density: applications, quotas, accessibility, explained decisions, waitlist."""
