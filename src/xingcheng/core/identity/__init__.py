"""Identities: divisions, departments, accounts (staff, citizen, enterprise), devices."""
