"""Small payload parts inline: payloads.data holds their bytes (NULL: the blob payloads.blob_digest).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 15:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing rows keep NULL: their bytes stay in the blob store, where every reader still finds them.
    with op.batch_alter_table("payloads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("data", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    # Dropping the column would lose those payloads' only copy (the migration has no blob store to
    # move them to): refused while there is one.
    payloads = sa.table("payloads", sa.column("data", sa.LargeBinary()))
    count = sa.select(sa.func.count()).select_from(payloads).where(payloads.c.data.is_not(None))
    inline = op.get_bind().scalar(count)
    if inline:
        raise RuntimeError(
            f"{inline} payload part(s) are kept only in the database (payloads.data): "
            "downgrading below 0005 would lose them"
        )
    with op.batch_alter_table("payloads", schema=None) as batch_op:
        batch_op.drop_column("data")
