"""mappings/ephyto."""
