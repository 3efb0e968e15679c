"""The change feed (ServiceNow changes in, exactly once) and the messenger (Slack writes out, through the outbox)."""
