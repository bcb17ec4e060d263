"""Alembic migrations of the node's schema, run by `Database.open` (`upgrade head`).

Adding tables (e.g. the lifecycle helper's node/store/lifecycle_models.py):
1. Declare the models on `node.store.models.Base` in your module; `node/store/__init__.py`
   imports node/store/lifecycle_models.py when it exists, so Base.metadata and env.py see it.
2. Add `versions/0002_<subject>.py` with `revision = "0002"` and `down_revision = "0001"`
   (the next one chains after yours). Write it by hand, or autogenerate against a database
   at the previous head and review it:
       .venv/bin/python -m node.store.schema autogenerate 0002 "lifecycle tables"
   Name constraints as the naming convention in models.py does (autogenerate does it for you).
3. tests/integration/store/test_schema.py proves head equals Base.metadata on SQLite and PostgreSQL.
"""
