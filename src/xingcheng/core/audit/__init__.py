"""The tamper-evident audit ledger: an append-only RFC 9162 Merkle log of every data access and decision.

Services record with ``xingcheng.core.audit.service.record`` inside their own transaction; one
sequencer (``sequencer.py``) gives committed entries their leaf index and signs tree heads;
``verify.py`` recomputes everything. The format is described in ``models.py`` (leaf bytes) and
``signing.py`` (signed tree heads). This package ``__init__`` stays empty on purpose: the
settings model (``config.py``) must be importable from ``core.settings`` without a cycle.
"""
