"""Bullpen app layer."""
