"""Tianfu Chain: a consortium blockchain platform with industry applications."""

__version__ = "0.1.0"
