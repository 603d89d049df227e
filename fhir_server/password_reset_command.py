"""``fhir-server users reset-password EMAIL``: the operator's way to reset a password (no email needed).

Prints a one-time link (``FHIR_SERVER_PASSWORD_RESET_LIFETIME`` seconds, at ``FHIR_SERVER_BASE_URL``) to hand to the
user, or with ``--set`` asks for the new password here. Either way the rules, the audit and the ending of the user's
sessions and grants are those of :mod:`fhir_server.auth.password_reset`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from fhir_server.auth.audit_events import Origin
from fhir_server.auth.login import active_user
from fhir_server.auth.password_reset import ResetError, issue_link, set_password

CLI_ORIGIN = Origin(user_agent="fhir-server CLI")


def reset_password(
    email: Annotated[str, typer.Argument(help="The account's email.")],
    set_here: Annotated[
        bool, typer.Option("--set", help="Ask for the new password here instead of printing a link.")
    ] = False,
) -> None:
    """Print a one-time link that lets the user choose a new password (or set it here with --set)."""
    from fhir_server import cli  # the command's helpers (settings, database, failures); cli.py registers us

    config = cli.settings()
    with cli.database() as db, db.write() as session:
        user = active_user(session, email)
        if user is None:
            cli.fail(f"no active account has the email {email!r}")
        if set_here:
            try:
                set_password(session, user, cli.ask_password(), CLI_ORIGIN, "operator")
            except ResetError as exc:
                cli.fail(str(exc))
            cli.out.print(f"the password of {user.email} is set; their sessions and app grants are ended")
            return
        link = issue_link(session, user, config.base_url, config.password_reset_lifetime, CLI_ORIGIN, "operator")
    minutes = config.password_reset_lifetime // 60
    typer.echo(f"a one-time link for {link.email}, valid for {minutes} minutes:\n{link.url}")
