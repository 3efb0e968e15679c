"""The Web API methods the bot uses, answering with the bodies and errors Slack gives.

`call(standin, method, args, token)` is the whole pipeline: faults first, then the method name, then
the token, then the scopes the method requires, then the method itself; every call is recorded in
`standin.calls` with the scopes it relied on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Literal

from sandbox.slack import payloads
from sandbox.slack.blockkit import message_problems, view_problems
from sandbox.slack.records import ApiCall, ApiError, ApiFault, Channel, SlackUser, View
from sandbox.slack.standin import SlackStandIn
from sandbox.slack.workspace import MODAL_STACK_MAX

MESSAGE_TEXT_MAX = 40_000  # chat.postMessage: msg_too_long beyond this
UPDATE_TEXT_MAX = 4_000  # chat.update: msg_too_long beyond this

Args = dict[str, Any]
Handler = Callable[[SlackStandIn, Args], dict[str, Any]]

# The bot-token scope each method requires (docs.slack.dev/reference/methods/<method>, "Scopes").
# conversations.open takes any of channels:manage, groups:write, im:write, mpim:write: the stand-in
# opens 1:1 DMs only, which is im:write.
REQUIRED_SCOPES: dict[str, tuple[str, ...]] = {
    "auth.test": (),
    "users.info": ("users:read",),
    "users.lookupByEmail": ("users:read.email",),
    "chat.postMessage": ("chat:write",),
    "chat.update": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "chat.delete": ("chat:write",),
    "chat.getPermalink": (),  # "No scope required"
    "conversations.open": ("im:write",),
    # channels:read for a public channel, groups:read for a private one (checked per channel)
    "conversations.members": (),
    "views.open": (),
    "views.push": (),
    "views.update": (),
    "views.publish": (),
    "chat.unfurl": ("links:write",),
    "conversations.replies": (),  # channels:history or groups:history, by the channel's kind
}
UNFURLS_MAX = 10  # links one chat.unfurl call may preview (Slack previews a message's first few)


def call(
    standin: SlackStandIn,
    method: str,
    args: Args,
    token: str | None,
    *,
    fault: ApiFault | Literal["take"] | None = "take",
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Run one Web API call: (HTTP status, JSON body, extra headers). `fault`: the one already
    taken for this call (by a caller that waited out its delay), else the next is taken here."""
    try:
        raise_fault(take_fault(standin, method) if fault == "take" else fault)
        handler = METHODS.get(method)
        if handler is None:
            raise ApiError("unknown_method")
        check_token(standin, method, token)
        standin.relied_on = []
        if method not in APP_LEVEL_METHODS:  # app-level tokens carry no bot scopes
            require_scopes(standin, REQUIRED_SCOPES[method])
        body = handler(standin, args)
    except ApiError as error:
        standin.record_call(ApiCall(method, args, token, time.time(), error.status, error.code))
        return error.status, error.body(), error.headers
    scopes = tuple(standin.relied_on)
    standin.record_call(ApiCall(method, args, token, time.time(), scopes=scopes))
    return 200, body, {}


def require_scopes(standin: SlackStandIn, scopes: tuple[str, ...]) -> None:
    """Slack's answer to a token without a scope the method needs."""
    missing = [scope for scope in scopes if not standin.use_scope(scope)]
    if missing and standin.app is not None:
        raise ApiError(
            "missing_scope",
            extra={"needed": ",".join(missing), "provided": ",".join(standin.app.scopes)},
        )


def check_token(standin: SlackStandIn, method: str, token: str | None) -> None:
    """A method takes one kind of token: a valid token of the other kind is not_allowed_token_type."""
    if not token:
        raise ApiError("not_authed")
    wanted, other = standin.bot_token, standin.socket.app_token
    if method in APP_LEVEL_METHODS:
        wanted, other = other, wanted
    if token == other:
        raise ApiError("not_allowed_token_type")
    if token != wanted:
        raise ApiError("invalid_auth")


def take_fault(standin: SlackStandIn, method: str) -> ApiFault | None:
    """The fault this call meets, if any (each fault lasts `times` calls)."""
    for fault in standin.faults:
        if fault.times > 0 and fault.method in (method, "*"):
            fault.times -= 1
            if fault.times <= 0:
                standin.faults.remove(fault)
            return fault
    return None


def raise_fault(fault: ApiFault | None) -> None:
    if fault is None or not fault.error:
        return
    headers = {}
    if fault.http_status == 429:
        headers["Retry-After"] = str(fault.retry_after)
    raise ApiError(fault.error, status=fault.http_status, headers=headers)


# ---- argument helpers ---------------------------------------------------------------------


def text_arg(args: Args, key: str) -> str | None:
    value = args.get(key)
    return None if value is None else str(value)


def required(args: Args, key: str, error: str = "invalid_arguments") -> str:
    value = text_arg(args, key)
    if not value:
        raise ApiError(error)
    return value


def blocks_arg(args: Args, key: str = "blocks") -> list[dict[str, Any]]:
    blocks = args.get(key)
    if blocks is None:
        return []
    problems = message_problems(blocks)
    if problems:
        raise ApiError("invalid_blocks", extra={"response_metadata": {"messages": problems}})
    return list(blocks)


def attachments_arg(args: Args) -> list[dict[str, Any]] | None:
    attachments = args.get("attachments")
    if attachments is None:
        return None
    if not isinstance(attachments, list):
        raise ApiError("invalid_attachments")
    return attachments


def view_arg(args: Args, *, kind: str | None = None) -> dict[str, Any]:
    view = args.get("view")
    problems = view_problems(view)
    if isinstance(view, dict) and not problems and kind and view.get("type") != kind:
        problems = [f"[ERROR] must be {kind} [json-pointer:/view/type]"]
    if problems or not isinstance(view, dict):
        raise ApiError("invalid_arguments", extra={"response_metadata": {"messages": problems}})
    return dict(view)


def known_user(
    standin: SlackStandIn, user_id: str | None, error: str = "user_not_found"
) -> SlackUser:
    user = standin.users.get(user_id or "")
    if user is None:
        raise ApiError(error)
    return user


def post_channel(standin: SlackStandIn, ref: str | None) -> Channel:
    """Where a post lands: a channel id or name, a D… id, or a user id (that user's DM)."""
    ref = ref or ""
    user = standin.users.get(ref)
    if user is not None and not user.is_bot:
        return standin.open_dm(user.id)
    try:
        return standin.channel(ref)
    except KeyError:
        raise ApiError("channel_not_found") from None


def exact_channel(standin: SlackStandIn, ref: str | None) -> Channel:
    """chat.update and chat.delete want the conversation id itself (D…, not a user id)."""
    ref = ref or ""
    if ref in standin.users:
        raise ApiError("channel_not_found")
    try:
        channel = standin.channel(ref)
    except KeyError:
        raise ApiError("channel_not_found") from None
    if channel.id != ref:
        raise ApiError("channel_not_found")
    return channel


# ---- methods ------------------------------------------------------------------------------


def auth_test(standin: SlackStandIn, args: Args) -> dict[str, Any]:
    return {
        "ok": True,
        "url": f"https://{payloads.TEAM_DOMAIN}.slack.com/",
        "team": payloads.TEAM_NAME,
        "user": standin.bot.name,
        "team_id": standin.team_id,
        "user_id": standin.bot.id,
        "bot_id": standin.bot.bot_id,
    }


def users_info(standin: SlackStandIn, args: Args) -> dict[str, Any]:
    user = known_user(standin, text_arg(args, "user"))
    found = payloads.user_object(user, standin.team_id, image_original=True)
    # The profile e-mail comes only with users:read.email (users:read alone leaves it out).
    if "email" in found["profile"] and not standin.use_scope("users:read.email"):
        del found["profile"]["email"]
    return {"ok": True, "user": found}


def users_lookup_by_email(standin: SlackStandIn, args: Args) -> dict[str, Any]:
    email = (text_arg(args, "email") or "").strip().lower()
    for user in standin.users.values():
        if user.email and user.email.lower() == email and not user.deleted:
            return {"ok": True, "user": payloads.user_object(user, standin.team_id)}
    raise ApiError("users_not_found")


def chat_post_message(standin: SlackStandIn, args: Args) -> dict[str, Any]:
    channel = post_channel(standin, text_arg(args, "channel"))
    # A public channel the bot was not invited to takes chat:write.public; a private one it is
    # not in does not exist for it.
    invited = channel.is_im or channel.id in standin.bot_channels
    if channel.is_private and not invited:
        raise ApiError("channel_not_found")
    if not invited and not standin.use_scope("chat:write.public"):
        raise ApiError("not_in_channel")
    text = text_arg(args, "text") or ""
    blocks = blocks_arg(args)
    attachments = attachments_arg(args)
    if not (text or blocks or attachments):
        raise ApiError("no_text")
    if len(text) > MESSAGE_TEXT_MAX:
        raise ApiError("msg_too_long")
    message = standin.post_message(
        channel.id,
        text,
        blocks,
        thread_ts=text_arg(args, "thread_ts"),
        attachments=attachments,
    )
    body: dict[str, Any] = {
        "text": message.text,
        "username": standin.bot.name,
        "bot_id": standin.bot.bot_id,
    }
    if message.attachments:
        body["attachments"] = message.attachments
    if message.blocks:
        body["blocks"] = message.blocks
    body.update({"type": "message", "subtype": "bot_message", "ts": message.ts})
    if message.thread_ts:
        body["thread_ts"] = message.thread_ts
    return {"ok": True, "channel": channel.id, "ts": message.ts, "message": body}


def chat_update(standin: SlackStandIn, args: Args) -> dict[str, Any]:
    channel = exact_channel(standin, text_arg(args, "channel"))
    message = standin.find_message(channel.id, text_arg(args, "ts") or "")
    if message is None:
        raise ApiError("message_not_found")
    if message.user != standin.bot.id:
        raise ApiError("cant_update_message")
    has_text, has_blocks = "text" in args, "blocks" in args
    attachments = attachments_arg(args)
    if not (has_text or has_blocks or attachments is not None):
        raise ApiError("no_text")
    text = (text_arg(args, "text") or "") if has_text else message.text
    if len(text) > UPDATE_TEXT_MAX:
        raise ApiError("msg_too_long")
    # Text without blocks removes the blocks (slack-notes §5.5).
    blocks = blocks_arg(args) if has_blocks else ([] if has_text else message.blocks)
    standin.update_message(message, text=text, blocks=blocks, attachments=attachments)
    body: dict[str, Any] = {"text": message.text, "user": message.user}
    if message.blocks:
        body["blocks"] = message.blocks
    return {
        "ok": True,
        "channel": channel.id,
        "ts": message.ts,
        "text": message.text,
        "message": body,
    }


def chat_post_ephemeral(standin: SlackStandIn, args: Args) -> dict[str, Any]:
    channel = post_channel(standin, text_arg(args, "channel"))
    user = known_user(standin, text_arg(args, "user"))
    text = text_arg(args, "text") or ""
    blocks = blocks_arg(args)
    if not (text or blocks or args.get("attachments")):
        raise ApiError("no_text")
    ephemeral = standin.add_ephemeral(channel.id, user.id, text, blocks, "api")
    return {"ok": True, "message_ts": ephemeral.ts}


def chat_delete(standin: SlackStandIn, args: Args) -> dict[str, Any]:
    channel = exact_channel(standin, text_arg(args, "channel"))
    message = standin.find_message(channel.id, text_arg(args, "ts") or "")
    if message is None:
        raise ApiError("message_not_found")
    if message.user != standin.bot.id:
        raise ApiError("cant_delete_message")
    standin.delete_message(message)
    return {"ok": True, "channel": channel.id, "ts": message.ts}


def chat_get_permalink(standin: SlackStandIn, args: Args) -> dict[str, Any]:
    """A message's permalink; a reply's carries its thread (`?thread_ts=…&cid=…`), as Slack's."""
    channel = exact_channel(standin, required(args, "channel", "channel_not_found"))
    ts = required(args, "message_ts", "message_not_found")
    message = standin.find_message(channel.id, ts)
    if message is None:
        raise ApiError("message_not_found")
    return {"ok": True, "channel": channel.id, "permalink": payloads.permalink(message)}


def conversations_members(standin: SlackStandIn, args: Args) -> dict[str, Any]:
    """A channel's member ids, paged by `limit` and `cursor` (an offset here). A private channel
    the bot is not in is `channel_not_found`, as Slack answers; DMs are not served."""
    channel = exact_channel(standin, text_arg(args, "channel"))
    if channel.is_im:
        raise ApiError("channel_not_found")
    if channel.is_private and channel.id not in standin.bot_channels:
        raise ApiError("channel_not_found")
    require_scopes(standin, ("groups:read",) if channel.is_private else ("channels:read",))
    members = sorted(standin.members.get(channel.id, set()))
    if channel.id in standin.bot_channels:
        members = sorted({*members, standin.bot.id})
    limit = int(args.get("limit") or 100)
    cursor = text_arg(args, "cursor") or "0"
    start = int(cursor) if cursor.isdecimal() else 0
    page = members[start : start + max(1, min(limit, 1000))]
    after = start + len(page)
    return {
        "ok": True,
        "members": page,
        "response_metadata": {"next_cursor": str(after) if after < len(members) else ""},
    }


def conversations_open(standin: SlackStandIn, args: Args) -> dict[str, Any]:
    users = [u for u in (text_arg(args, "users") or "").split(",") if u]
    if not users:
        channel_id = text_arg(args, "channel")
        if channel_id:
            return {"ok": True, "channel": {"id": exact_channel(standin, channel_id).id}}
        raise ApiError("users_list_not_supplied")
    if len(users) > 1:
        raise ApiError("not_supported", extra={"detail": "the stand-in opens 1:1 DMs only"})
    user = known_user(standin, users[0])
    if user.is_bot:
        raise ApiError("cannot_dm_bot")
    return {"ok": True, "channel": {"id": standin.open_dm(user.id).id}}


def views_answer(standin: SlackStandIn, view: View) -> dict[str, Any]:
    return {
        "ok": True,
        "view": payloads.view_object(view, standin.team_id, standin.bot.bot_id or ""),
    }


def check_external_id(standin: SlackStandIn, spec: dict[str, Any], own: View | None = None) -> None:
    external_id = spec.get("external_id")
    if external_id:
        other = standin.view_by_external_id(str(external_id))
        if other is not None and other is not own:
            raise ApiError("duplicate_external_id")


def views_open(standin: SlackStandIn, args: Args) -> dict[str, Any]:
    spec = view_arg(args, kind="modal")
    trigger = standin.take_trigger(text_arg(args, "trigger_id"))
    check_external_id(standin, spec)
    return views_answer(standin, standin.add_view(trigger.user, spec))


def views_push(standin: SlackStandIn, args: Args) -> dict[str, Any]:
    spec = view_arg(args, kind="modal")
    trigger = standin.take_trigger(text_arg(args, "trigger_id"))
    top = standin.current_modal(trigger.user)
    if top is None:
        raise ApiError("not_found")
    if len(standin.view_stack(trigger.user)) >= MODAL_STACK_MAX:
        raise ApiError("push_limit_reached")
    check_external_id(standin, spec)
    return views_answer(standin, standin.add_view(trigger.user, spec, previous=top))


def views_update(standin: SlackStandIn, args: Args) -> dict[str, Any]:
    view_id, external_id = text_arg(args, "view_id"), text_arg(args, "external_id")
    if external_id:
        found = standin.view_by_external_id(external_id)
    elif view_id:
        found = standin.views.get(view_id)
    else:
        raise ApiError("invalid_arguments")
    if found is None or found.closed:
        raise ApiError("not_found")
    spec = view_arg(args, kind=found.type)
    expected = text_arg(args, "hash")
    if expected and expected != found.hash:
        raise ApiError("hash_conflict")
    check_external_id(standin, spec, own=found)
    return views_answer(standin, standin.replace_view(found, spec))


def views_publish(standin: SlackStandIn, args: Args) -> dict[str, Any]:
    user = known_user(standin, text_arg(args, "user_id"))
    spec = view_arg(args, kind="home")
    home = standin.home_view(user.id)
    expected = text_arg(args, "hash")
    if expected and (home is None or expected != home.hash):
        raise ApiError("hash_conflict")
    view = standin.replace_view(home, spec) if home else standin.add_view(user.id, spec)
    return views_answer(standin, view)


def apps_connections_open(standin: SlackStandIn, args: Args) -> dict[str, Any]:
    return standin.socket.open_connection()  # sandbox/slack/socket_mode.py


def chat_unfurl(standin: SlackStandIn, args: Args) -> dict[str, Any]:
    """Previews for links in a person's message (channel + ts), or in a message still being
    written (unfurl_id + source=composer). A second call for the same link replaces its preview."""
    raw = args.get("unfurls")
    try:
        unfurls = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        raise ApiError("invalid_unfurls_format") from None
    if not isinstance(unfurls, dict) or not unfurls or len(unfurls) > UNFURLS_MAX:
        raise ApiError("invalid_unfurls_format")
    for url, unfurl in unfurls.items():
        if not isinstance(unfurl, dict) or not isinstance(unfurl.get("blocks", []), list):
            raise ApiError("invalid_unfurls_format")
        standin.check_markup(f"unfurl of {url}", "", unfurl.get("blocks"))
    unfurl_id, source = text_arg(args, "unfurl_id"), text_arg(args, "source")
    channel_ref, ts = text_arg(args, "channel"), text_arg(args, "ts")
    if unfurl_id and source:
        if source not in ("composer", "conversations_history"):
            raise ApiError("invalid_source")
        standin.composer_unfurls.setdefault(unfurl_id, {}).update(unfurls)
        standin.changed()
        return {"ok": True}
    if not (channel_ref and ts):
        raise ApiError("invalid_arguments")
    try:
        channel = standin.channel(channel_ref)
    except KeyError:
        raise ApiError("cannot_find_channel") from None
    message = standin.find_message(channel.id, ts)
    if message is None:
        raise ApiError("cannot_find_message")
    for url in unfurls:
        if url not in message.text:  # Slack previews only the links the message has
            raise ApiError("cannot_unfurl_message")
    message.unfurls.update(unfurls)
    standin.changed()
    return {"ok": True}


def conversations_replies(standin: SlackStandIn, args: Args) -> dict[str, Any]:
    """A thread: its parent, then the replies, oldest first."""
    try:
        channel = standin.channel(required(args, "channel", "channel_not_found"))
    except KeyError:
        raise ApiError("channel_not_found") from None
    scope = "groups:history" if channel.is_private else "channels:history"
    if not channel.is_im:
        require_scopes(standin, (scope,))
    ts = required(args, "ts", "thread_not_found")
    thread = standin.thread(channel.id, ts)
    if not thread:
        raise ApiError("thread_not_found")
    return {
        "ok": True,
        "messages": [payloads.message_object(m, standin.bot) for m in thread],
        "has_more": False,
    }


APP_LEVEL_METHODS = frozenset({"apps.connections.open"})  # called with the xapp- token

METHODS: dict[str, Handler] = {
    "apps.connections.open": apps_connections_open,
    "auth.test": auth_test,
    "users.info": users_info,
    "users.lookupByEmail": users_lookup_by_email,
    "chat.postMessage": chat_post_message,
    "chat.update": chat_update,
    "chat.postEphemeral": chat_post_ephemeral,
    "chat.delete": chat_delete,
    "chat.getPermalink": chat_get_permalink,
    "conversations.open": conversations_open,
    "conversations.members": conversations_members,
    "views.open": views_open,
    "views.push": views_push,
    "views.update": views_update,
    "views.publish": views_publish,
    "chat.unfurl": chat_unfurl,
    "conversations.replies": conversations_replies,
}
