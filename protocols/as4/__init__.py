"""protocols/as4."""
