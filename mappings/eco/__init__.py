"""mappings/eco."""
