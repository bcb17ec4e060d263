"""The command listing an operator reads first: every summary is a whole thought."""

from click.testing import CliRunner

from node.cli import cli


def test_no_command_summary_is_cut_after_an_article_number() -> None:
    listing = CliRunner().invoke(cli, ["--help"], terminal_width=200).output
    for line in listing.splitlines():
        assert not line.rstrip().endswith(("Art.", "(Art.")), line


def test_every_command_and_subcommand_answers_help() -> None:
    runner = CliRunner()

    def walk(group, path):  # type: ignore[no-untyped-def]
        for name, command in group.commands.items():
            result = runner.invoke(cli, [*path, name, "--help"])
            assert result.exit_code == 0, (path, name, result.output)
            if hasattr(command, "commands"):
                walk(command, [*path, name])

    walk(cli, [])
