"""Data: the code-list files (JSON), written by ops/tools/derive_codelists.py."""
