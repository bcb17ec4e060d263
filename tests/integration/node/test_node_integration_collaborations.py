"""node/collaborations.py: each document type's (service, action), by default or by a partner's P-Mode."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from node.collaborations import DEFAULT_COLLABORATIONS, SERVICE_ECO, collaborations_from
from node.nodedir import create_node_directory
from node.partners import PartnerDirectory


def test_without_overrides_the_node_defaults_apply() -> None:
    c = collaborations_from(None)
    assert c is DEFAULT_COLLABORATIONS and c.of("eco").service == SERVICE_ECO
    assert c.document_type(c.ephyto.service, c.ephyto.action) == "ephyto"
    assert c.document_type("urn:any", c.answer_action) == "answer"
    assert c.document_type(c.eco.service, c.ephyto.action) is None


def test_an_override_replaces_only_what_it_names() -> None:
    c = collaborations_from({"eco": {"action": "FormD"}, "answer": {"action": "Answer"}})
    assert (c.eco.service, c.eco.action) == (SERVICE_ECO, "FormD")
    assert c.ephyto == DEFAULT_COLLABORATIONS.ephyto and c.answer_action == "Answer"
    assert c.as_dict()["eco"] == {"service": SERVICE_ECO, "action": "FormD"}


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"coffee": {}}, "coffee"),
        ({"eco": {"service": ""}}, "eco.service"),
        ({"eco": {"verb": "x"}}, "eco.verb"),
        ({"answer": {"action": DEFAULT_COLLABORATIONS.eco.action}}, "answer.action"),
    ],
)
def test_a_bad_override_names_its_key(section: dict, key: str) -> None:
    with pytest.raises(ValueError, match=rf"^{key}: "):
        collaborations_from(section)


def test_partners_check_names_a_bad_collaboration_with_file_partner_and_key(tmp_path: Path) -> None:
    directory = tmp_path / "node"
    create_node_directory(directory, party_id="vn-asw", port=0, tls=False)
    path = directory / "partners.yaml"
    data = yaml.safe_load(path.read_text())
    data["partners"] = [
        {
            "id": "th",
            "party_id": "TH-NSW",
            "endpoint": "https://gw.example.th/as4",
            "signing_cert": "keys/signing.pem",
            "pmode": {"collaborations": {"ephyto": {"action": ""}}},
        }
    ]
    path.write_text(yaml.safe_dump(data))
    [problem] = PartnerDirectory.check(directory)
    assert str(problem) == (
        "partners.yaml: partners[0].pmode.collaborations.ephyto.action: must be a non-empty string"
        " (partner th)"
    )
