"""Moorage: a self-hosted lab platform."""
