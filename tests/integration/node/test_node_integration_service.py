"""node/service.py: every component is mounted; a missing or broken one stops start-up loudly."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from twisted.internet import reactor

from node import service
from node.config import NodeConfig
from node.nodedir import create_node_directory
from node.server import build_site


@pytest.fixture
def ctx(tmp_path: Path):  # type: ignore[no-untyped-def]
    directory = tmp_path / "node"
    create_node_directory(directory, party_id="vn-asw", port=0, tls=False)
    context = service.build_context(NodeConfig.load(directory), reactor)
    yield context
    context.db.close()


def test_every_component_of_the_contract_is_mounted(ctx) -> None:  # type: ignore[no-untyped-def]
    _, root = build_site(ctx)
    modules = service.attach_components(ctx, root)
    assert [m.__name__ for m in modules] == list(service.COMPONENTS)
    assert {b"api", b"console"} <= set(root.children)


def test_a_component_that_is_not_there_fails_start_up(ctx, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(service, "COMPONENTS", (*service.COMPONENTS, "node.no_such_component"))
    _, root = build_site(ctx)
    with pytest.raises(ModuleNotFoundError, match=r"node\.no_such_component"):
        service.attach_components(ctx, root)


def test_a_component_without_attach_fails_start_up(ctx, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "aswnode_detached_component.py").write_text('"""A component that forgot attach."""\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(service, "COMPONENTS", ("aswnode_detached_component",))
    _, root = build_site(ctx)
    try:
        with pytest.raises(AttributeError, match="has no attach"):
            service.attach_components(ctx, root)
    finally:
        sys.modules.pop("aswnode_detached_component", None)
