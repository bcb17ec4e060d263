"""The repository's own promises: the layering contract and the README's two commands."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_starts_with_the_two_setup_commands() -> None:
    head = "\n".join(ROOT.joinpath("README.md").read_text().splitlines()[:40])
    assert "ops/run" in head and "ops/test" in head


def test_ci_calls_the_readme_test_command() -> None:
    assert "ops/test" in ROOT.joinpath(".ci/run").read_text()
