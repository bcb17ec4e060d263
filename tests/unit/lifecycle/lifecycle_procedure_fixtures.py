"""A production node with one partner, a settable clock and the Procedure on a real SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from node.audit import AuditLog
from node.config import NodeConfig
from node.conntest.minutes import Outcome
from node.lifecycle.service import Procedure
from node.nodedir import create_node_directory
from node.store.database import Database

START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 09:00 in Hanoi


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now = self.now + timedelta(**delta)


@dataclass
class Node:
    config: NodeConfig
    db: Database
    procedure: Procedure
    clock: Clock

    def do(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        with self.db.session() as session:
            return fn(session, *args, **kwargs)

    def pass_every_case(self, partner_id: str = "th") -> None:
        _, plan = self.do(self.procedure.current_plan, partner_id)
        for case in plan.cases:
            self.do(
                self.procedure.record_manual,
                "operator:alice",
                partner_id,
                case.id,
                Outcome.PASSED,
                "observed",
                {"message_id": f"m-{case.id}"},
            )

    def confirm_all(self, partner_id: str = "th") -> None:
        for role in ("operator", "ministry", "provider"):
            self.do(
                self.procedure.confirm,
                f"operator:{role}",
                partner_id,
                role=role,
                name=f"{role} person",
                email=f"{role}@example.vn",
            )


def make_node(
    tmp_path: Path, *, environment: str = "production", sections: dict[str, Any] | None = None
) -> Iterator[Node]:
    directory = tmp_path / "node"
    create_node_directory(directory, party_id="VN-NSW", port=18443, tls=False, environment=environment)
    node_yaml = directory / "node.yaml"
    data = yaml.safe_load(node_yaml.read_text())
    data.update(sections or {})
    node_yaml.write_text(yaml.safe_dump(data))
    partners = {
        "partners": [
            {
                "id": "th",
                "party_id": "TH-NSW",
                "endpoint": "https://th.example/as4",
                "signing_cert": "keys/signing.pem",
                "agreement": "ATIGA e-Form D via ASW",
                "focal_points": [
                    {"name": "Somchai", "position": "IT lead", "phone": "+66", "email": "focal@th.example"}
                ],
            }
        ]
    }
    (directory / "partners.yaml").write_text(yaml.safe_dump(partners))
    config = NodeConfig.load(directory)
    clock = Clock()
    db = Database.open(config.database_url)
    try:
        yield Node(config, db, Procedure(config, clock=clock, audit=AuditLog(clock)), clock)
    finally:
        db.close()
