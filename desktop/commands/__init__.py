"""Subcommands of `clinic`, one module per area (the composition root's side of the CLI).

A command module exposes `register(subcommands)`, which adds its parsers with
`desktop.cli_support.add_command`; `desktop.cli_support.COMMANDS` names the module of every
subcommand, and `desktop/cli.py` imports only the one asked for.
"""
