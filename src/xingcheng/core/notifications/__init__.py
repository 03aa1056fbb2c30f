"""The one notification inbox every module notifies through."""
