"""Bullpen sync layer."""
