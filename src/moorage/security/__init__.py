"""Passwords, tokens and role checks."""
