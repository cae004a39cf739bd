"""Registers the mail commands with `dms`: `dms mail-gateway` (cli_gateway), `dms mail-poll`
(cli_poll) and `dms mail …` (quarantine and message history, cli_mail)."""

from __future__ import annotations

import click


def register(main: click.Group) -> None:
    from mail_gateway.cli_gateway import gateway_command
    from mail_gateway.cli_mail import mail_group
    from mail_gateway.cli_poll import poll_command

    main.add_command(gateway_command)
    main.add_command(poll_command)
    main.add_command(mail_group)
