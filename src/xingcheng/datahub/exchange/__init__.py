"""Sharing exchange (共享交换): requests, grants, masked pull/push delivery with proofs, statistics."""
