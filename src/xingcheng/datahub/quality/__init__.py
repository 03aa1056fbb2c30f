"""Data quality: measured reports for the base registries and the catalogue's datasets."""
