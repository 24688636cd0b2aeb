"""Bullpen ui layer."""
