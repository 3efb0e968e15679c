"""Account linking (authorization code grant with PKCE): see service.py."""

from bot.linking.service import (
    CALLBACK_PATH,
    CONNECT_ACTION,
    CONNECT_PATH,
    LinkedAuth,
    Linking,
    LinkProblem,
    NotLinked,
    Vault,
    connect_blocks,
)

__all__ = [
    "CALLBACK_PATH",
    "CONNECT_ACTION",
    "CONNECT_PATH",
    "LinkProblem",
    "LinkedAuth",
    "Linking",
    "NotLinked",
    "Vault",
    "connect_blocks",
]
