"""Plumbing every layer uses."""
