"""The `/incident` slash command: the router every record kind adds its subcommands to."""
