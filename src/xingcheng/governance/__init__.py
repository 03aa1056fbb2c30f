"""Governance domain: traffic, air quality, safety early warning and citizen requests."""
