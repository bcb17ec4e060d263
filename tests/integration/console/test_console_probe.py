"""The scheduled endpoint probe: a partner that answers HTTP is up, one that does not is down."""

from __future__ import annotations

from pathlib import Path

import pytest_twisted
from free_ports import free_port
from twisted.internet import reactor
from twisted.web.resource import Resource
from twisted.web.server import Site

from node.cli.partners import add_command


class _Gateway(Resource):
    """An AS4 endpoint as a GET sees it: there, but only for POST."""

    isLeaf = True

    def render_GET(self, request):
        request.setResponseCode(405)
        return b"POST an AS4 message\n"


def _add_partner(node, partner_id: str, endpoint: str) -> None:
    add_command.callback(
        directory=node.directory,
        partner_id=partner_id,
        party_id=partner_id,
        party_id_type=None,
        endpoint=endpoint,
        cert=Path(node.ctx.config.keys.signing_cert),
        tls_ca=None,
    )


@pytest_twisted.ensureDeferred
async def test_the_probe_tells_a_live_endpoint_from_a_dead_one_and_the_dashboard_shows_it(node):
    gateway = reactor.listenTCP(0, Site(_Gateway()), interface="127.0.0.1")
    try:
        _add_partner(node, "th-nsw", f"http://127.0.0.1:{gateway.getHost().port}/as4")
        _add_partner(node, "my-nsw", f"http://127.0.0.1:{free_port()}/as4")
        node.ctx.partners.reload()
        probe = node.console.extras["probe"]
        await probe.probe_all()
        up, down = probe.results["th-nsw"], probe.results["my-nsw"]
        assert (up.status, up.detail) == ("up", "HTTP 405") and up.latency_ms is not None
        assert down.status == "down" and "refused" in down.detail.lower()
        c = node.client()
        await c.login()
        page = await c.get("/console/")
        assert 'badge s-up">up</span> HTTP 405' in page.text
        assert 'badge s-down">down</span>' in page.text
    finally:
        await gateway.stopListening()
