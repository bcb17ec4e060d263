"""`aswnode init DIR`: a new node directory with its configuration, keys and certificates."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click

from node.cli import OperatorError
from node.config import ENVIRONMENTS, ConfigError

__all__ = ["register"]

# An ebMS PartyId as gateways spell them: a name or a URN (ebCore, ISO 6523), no spaces or markup.
_PARTY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,254}")


def _party_id(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not _PARTY_ID.fullmatch(value):
        raise OperatorError(
            "--party-id: must be 1 to 255 characters, letters, digits and . _ : @ / + - "
            "(starting with a letter or digit)"
        )
    return value


@click.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--party-id", required=True, callback=_party_id, help="Our ebMS PartyId (what partners send To)."
)
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8443, show_default=True, help="Listening port."
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Listening address.")
@click.option("--db", "database_url", default=None, help="Database URL (default: SQLite under DIR/var).")
@click.option("--http", "plain_http", is_flag=True, help="Plain HTTP (loopback only, behind a TLS proxy).")
@click.option(
    "--environment",
    type=click.Choice(ENVIRONMENTS),
    default="sandbox",
    show_default=True,
    help="sandbox: new partners are active at once; production: the legal procedure applies.",
)
def init_command(
    directory: Path,
    party_id: str,
    port: int,
    host: str,
    database_url: str | None,
    plain_http: bool,
    environment: str,
) -> None:
    """Create a node directory: node.yaml, partners.yaml, keys/ (test PKI), var/.

    Prints one JSON object: the signing certificate, the TLS certificate, the endpoint.
    """
    from node.nodedir import create_node_directory

    try:
        config = create_node_directory(
            directory,
            party_id=party_id,
            port=port,
            host=host,
            database_url=database_url,
            tls=not plain_http,
            environment=environment,
        )
    except ConfigError as exc:
        raise OperatorError(str(exc)) from None
    except OSError as exc:
        raise OperatorError(f"{directory}: {exc.strerror}") from None
    try:
        from node.store.database import Database

        Database.open(config.database_url).close()
    except ImportError:
        pass
    except Exception as exc:  # the database URL is the operator's: say what failed in one line
        raise OperatorError(f"node.yaml: database.url: cannot open: {type(exc).__name__}") from None
    out = {
        "signing_cert": str(config.keys.signing_cert),
        "tls_cert": str(config.keys.tls_cert) if config.keys.tls_cert else None,
        "endpoint": config.endpoint,
        "party_id": config.party_id,
        "environment": config.environment,
        "directory": str(config.directory),
        "node_config": str(config.directory / "node.yaml"),
        "partners_config": str(config.partners_file),
    }
    click.echo(json.dumps(out))


def register(cli: click.Group) -> None:
    cli.add_command(init_command)
