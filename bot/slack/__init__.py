"""Slack plumbing shared by every record kind: the Block Kit kit, the one interaction path, modals, errors explained."""
