"""Campaigns as designed: the file format, its schedule rules."""
