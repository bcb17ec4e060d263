"""Notices of the legal procedure: rendering and delivery by e-mail."""
