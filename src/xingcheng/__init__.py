"""Xingcheng (星城) city digital platform."""

__version__ = "0.1.0"
