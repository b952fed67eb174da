"""Block Kit validation with the limits Slack documents, in the error format Slack uses.

`validate_blocks` returns one message per violation, in the form Slack puts in the
`errors` list of an `invalid_blocks` response, for example::

    must be less than 3001 characters [json-pointer:/blocks/0/text/text]
    no more than 50 items allowed [json-pointer:/blocks]

Those two forms, and `failed to match all allowed schemas [json-pointer:...]` that
Slack adds next to a length error inside a text object, are copied from real Slack
responses quoted in public reports:
https://github.com/adobe/spacecat-api-service/issues/176 (items) and
https://brainxx.org/blog/fixing-slack-api-error-message (characters).
NOTE: the other messages (missing fields, wrong types, unknown block types) follow the
same pattern, but their exact wording is the emulator's own.

Only message surfaces are checked. The emulator validates the block types a chat-ops
bot sends (section, header, divider, context, actions, image, rich_text, markdown) in
depth and accepts the other documented types without looking inside them.
"""

from __future__ import annotations

from typing import Any

# https://docs.slack.dev/reference/block-kit/blocks: "up to 50 blocks in each message,
# and 100 blocks in modals or Home tabs".
MAX_BLOCKS_PER_MESSAGE = 50
MAX_BLOCKS_PER_VIEW = 100

# Every block: https://docs.slack.dev/reference/block-kit/blocks/section-block (and the
# same sentence on each block page).
BLOCK_ID_MAX_CHARS = 255

# https://docs.slack.dev/reference/block-kit/blocks/section-block
SECTION_TEXT_MAX_CHARS = 3000
SECTION_FIELDS_MAX_ITEMS = 10
SECTION_FIELD_TEXT_MAX_CHARS = 2000

# https://docs.slack.dev/reference/block-kit/blocks/header-block
HEADER_TEXT_MAX_CHARS = 150

# https://docs.slack.dev/reference/block-kit/blocks/context-block
CONTEXT_ELEMENTS_MAX_ITEMS = 10

# https://docs.slack.dev/reference/block-kit/blocks/actions-block
ACTIONS_ELEMENTS_MAX_ITEMS = 25

# https://docs.slack.dev/reference/block-kit/block-elements/button-element
BUTTON_TEXT_MAX_CHARS = 75
ACTION_ID_MAX_CHARS = 255
BUTTON_URL_MAX_CHARS = 3000
BUTTON_VALUE_MAX_CHARS = 2000
BUTTON_STYLES = frozenset({"primary", "danger"})
# https://docs.slack.dev/tools/node-slack-sdk/reference/types/interfaces/Button
BUTTON_ACCESSIBILITY_LABEL_MAX_CHARS = 75

# https://docs.slack.dev/reference/block-kit/blocks/image-block
IMAGE_ALT_TEXT_MAX_CHARS = 2000
IMAGE_URL_MAX_CHARS = 3000
IMAGE_TITLE_MAX_CHARS = 2000

# https://docs.slack.dev/tools/node-slack-sdk/reference/web-api/interfaces/MarkdownBlock
MARKDOWN_TEXT_MAX_CHARS = 12000

# https://api.slack.com/changelog/2018-04-truncating-really-long-messages: Slack cuts
# the `text` of a posted message to 40,000 characters, still posts it, and returns the
# `message_truncated` warning. It does not return `msg_too_long` at that length.
MESSAGE_TEXT_MAX_CHARS = 40000
MESSAGE_TRUNCATED_WARNING = "message_truncated"
MESSAGE_TRUNCATED_MESSAGE = (
    "[WARN] Your message was truncated but still posted. "
    "The `text` field accepts up to 40,000 characters."
)
# NOTE: the limit at which Slack returns `msg_too_long` is not documented, so the
# emulator never returns it on its own. Use `SlackEmulator.fail_next` to test it.

# The `too_many_attachments` error of chat.postMessage: "A maximum of 100 attachments
# are allowed on a message." (Slack's method reference, as mirrored in
# https://github.com/slack-ruby/slack-api-ref/blob/master/methods/chat/chat.postMessage.json)
MAX_ATTACHMENTS_PER_MESSAGE = 100

TEXT_OBJECT_TYPES = frozenset({"plain_text", "mrkdwn"})

# Block types Slack documents for messages. Types outside VALIDATED_BLOCK_TYPES are
# accepted as long as they have a known `type`.
KNOWN_BLOCK_TYPES = frozenset(
    {
        "actions",
        "context",
        "context_actions",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "table",
        "video",
    }
)

RICH_TEXT_CONTAINER_TYPES = frozenset(
    {"rich_text_section", "rich_text_list", "rich_text_preformatted", "rich_text_quote"}
)
# https://docs.slack.dev/reference/block-kit/block-elements/rich-text-section-element
# lists more element types than these. The emulator checks the required field of the
# common ones and accepts the rest.
RICH_TEXT_ELEMENT_REQUIRED_FIELD = {
    "text": "text",
    "link": "url",
    "user": "user_id",
    "channel": "channel_id",
    "usergroup": "usergroup_id",
    "emoji": "name",
    "broadcast": "range",
    "date": "timestamp",
    "color": "value",
}


def validate_blocks(
    blocks: Any,
    *,
    max_blocks: int = MAX_BLOCKS_PER_MESSAGE,
    pointer: str = "/blocks",
) -> list[str]:
    """Check a `blocks` array against Slack's documented limits.

    Args:
        blocks: the decoded `blocks` argument. It must be a list of block objects.
        max_blocks: the limit of the surface, `MAX_BLOCKS_PER_MESSAGE` for messages and
            `MAX_BLOCKS_PER_VIEW` for modals.
        pointer: the JSON pointer of the array in the request, used in every message.

    Returns:
        One Slack-style message per violation, or an empty list when the blocks are valid.
    """
    checker = _Checker()
    if not isinstance(blocks, list):
        checker.fail("must be an array", pointer)
        return checker.errors

    checker.max_items(blocks, max_blocks, pointer)
    for index, block in enumerate(blocks):
        checker.block(block, f"{pointer}/{index}")
    return checker.errors


class _Checker:
    """Collects Slack-style violation messages while walking a blocks array."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, message: str, pointer: str) -> None:
        self.errors.append(f"{message} [json-pointer:{pointer}]")

    # Generic constraints. Length and count messages copy Slack's wording.

    def max_chars(self, value: Any, limit: int, pointer: str) -> None:
        if not isinstance(value, str):
            self.fail("must be a string", pointer)
        elif len(value) > limit:
            self.fail(f"must be less than {limit + 1} characters", pointer)

    def max_items(self, value: list[Any], limit: int, pointer: str) -> None:
        if len(value) > limit:
            self.fail(f"no more than {limit} items allowed", pointer)

    def required(self, container: dict[str, Any], field: str, pointer: str) -> bool:
        if field in container and container[field] is not None:
            return True
        self.fail(f"missing required field: {field}", pointer)
        return False

    def optional_chars(
        self, container: dict[str, Any], field: str, limit: int, pointer: str
    ) -> None:
        if field in container:
            self.max_chars(container[field], limit, f"{pointer}/{field}")

    def array(self, container: dict[str, Any], field: str, pointer: str) -> list[Any] | None:
        """Return `container[field]` when it is a non-empty array, else record why not."""
        if not self.required(container, field, pointer):
            return None
        value = container[field]
        if not isinstance(value, list):
            self.fail("must be an array", f"{pointer}/{field}")
            return None
        if not value:
            self.fail("must provide at least 1 items", f"{pointer}/{field}")
            return None
        return value

    def text_object(
        self, value: Any, pointer: str, *, max_chars: int, plain_only: bool = False
    ) -> None:
        """Check a composition text object: `{"type": "plain_text"|"mrkdwn", "text": ...}`.

        Slack reports a bad text object twice: the object fails its schema, and the
        field inside names the concrete problem.
        """
        allowed_types = {"plain_text"} if plain_only else TEXT_OBJECT_TYPES
        problems_before = len(self.errors)
        if not isinstance(value, dict):
            self.fail("must be an object", pointer)
            return
        if value.get("type") not in allowed_types:
            expected = " or ".join(sorted(allowed_types))
            self.fail(f"must be {expected}", f"{pointer}/type")
        text = value.get("text")
        if not isinstance(text, str):
            self.fail("must be a string", f"{pointer}/text")
        elif not text:
            self.fail("must be more than 0 characters", f"{pointer}/text")
        elif len(text) > max_chars:
            self.fail(f"must be less than {max_chars + 1} characters", f"{pointer}/text")
        if len(self.errors) > problems_before:
            self.errors.insert(
                problems_before, f"failed to match all allowed schemas [json-pointer:{pointer}]"
            )

    # Blocks.

    def block(self, block: Any, pointer: str) -> None:
        if not isinstance(block, dict):
            self.fail("must be an object", pointer)
            return
        block_type = block.get("type")
        if block_type not in KNOWN_BLOCK_TYPES:
            self.fail("failed to match all allowed schemas", pointer)
            return
        self.optional_chars(block, "block_id", BLOCK_ID_MAX_CHARS, pointer)

        check = _BLOCK_CHECKS.get(block_type)
        if check is not None:
            check(self, block, pointer)

    def section(self, block: dict[str, Any], pointer: str) -> None:
        if "text" not in block and "fields" not in block:
            self.fail("must provide either text or fields", pointer)
        if "text" in block:
            self.text_object(block["text"], f"{pointer}/text", max_chars=SECTION_TEXT_MAX_CHARS)
        if "fields" in block:
            fields = self.array(block, "fields", pointer)
            if fields is not None:
                self.max_items(fields, SECTION_FIELDS_MAX_ITEMS, f"{pointer}/fields")
                for index, field in enumerate(fields):
                    self.text_object(
                        field,
                        f"{pointer}/fields/{index}",
                        max_chars=SECTION_FIELD_TEXT_MAX_CHARS,
                    )
        if "accessory" in block:
            self.element(block["accessory"], f"{pointer}/accessory")

    def header(self, block: dict[str, Any], pointer: str) -> None:
        if self.required(block, "text", pointer):
            self.text_object(
                block["text"], f"{pointer}/text", max_chars=HEADER_TEXT_MAX_CHARS, plain_only=True
            )

    def context(self, block: dict[str, Any], pointer: str) -> None:
        elements = self.array(block, "elements", pointer)
        if elements is None:
            return
        self.max_items(elements, CONTEXT_ELEMENTS_MAX_ITEMS, f"{pointer}/elements")
        for index, element in enumerate(elements):
            element_pointer = f"{pointer}/elements/{index}"
            if isinstance(element, dict) and element.get("type") == "image":
                self.image_element(element, element_pointer)
            else:
                # NOTE: Slack documents no length limit for context text; 3000 is the
                # limit of a text object in general, and an assumption here.
                self.text_object(element, element_pointer, max_chars=SECTION_TEXT_MAX_CHARS)

    def actions(self, block: dict[str, Any], pointer: str) -> None:
        elements = self.array(block, "elements", pointer)
        if elements is None:
            return
        self.max_items(elements, ACTIONS_ELEMENTS_MAX_ITEMS, f"{pointer}/elements")
        for index, element in enumerate(elements):
            self.element(element, f"{pointer}/elements/{index}")

    def image_block(self, block: dict[str, Any], pointer: str) -> None:
        if self.required(block, "alt_text", pointer):
            self.max_chars(block["alt_text"], IMAGE_ALT_TEXT_MAX_CHARS, f"{pointer}/alt_text")
        self.image_source(block, pointer)
        if "title" in block:
            self.text_object(
                block["title"],
                f"{pointer}/title",
                max_chars=IMAGE_TITLE_MAX_CHARS,
                plain_only=True,
            )

    def markdown(self, block: dict[str, Any], pointer: str) -> None:
        if self.required(block, "text", pointer):
            value = block["text"]
            self.max_chars(value, MARKDOWN_TEXT_MAX_CHARS, f"{pointer}/text")

    def rich_text(self, block: dict[str, Any], pointer: str) -> None:
        containers = self.array(block, "elements", pointer)
        for index, container in enumerate(containers or []):
            self.rich_text_container(container, f"{pointer}/elements/{index}")

    def rich_text_container(self, container: Any, pointer: str) -> None:
        if not isinstance(container, dict) or container.get("type") not in (
            RICH_TEXT_CONTAINER_TYPES
        ):
            self.fail("failed to match all allowed schemas", pointer)
            return
        children = self.array(container, "elements", pointer)
        for index, child in enumerate(children or []):
            child_pointer = f"{pointer}/elements/{index}"
            if container["type"] == "rich_text_list":
                # A list contains sections, one per bullet.
                self.rich_text_container(child, child_pointer)
            else:
                self.rich_text_element(child, child_pointer)

    def rich_text_element(self, element: Any, pointer: str) -> None:
        if not isinstance(element, dict) or not isinstance(element.get("type"), str):
            self.fail("failed to match all allowed schemas", pointer)
            return
        field = RICH_TEXT_ELEMENT_REQUIRED_FIELD.get(element["type"])
        if field is not None:
            self.required(element, field, pointer)

    # Block elements.

    def element(self, element: Any, pointer: str) -> None:
        if not isinstance(element, dict) or not isinstance(element.get("type"), str):
            self.fail("failed to match all allowed schemas", pointer)
            return
        if element["type"] == "button":
            self.button(element, pointer)
        elif element["type"] == "image":
            self.image_element(element, pointer)
        else:
            self.optional_chars(element, "action_id", ACTION_ID_MAX_CHARS, pointer)

    def button(self, element: dict[str, Any], pointer: str) -> None:
        if self.required(element, "text", pointer):
            self.text_object(
                element["text"], f"{pointer}/text", max_chars=BUTTON_TEXT_MAX_CHARS, plain_only=True
            )
        self.optional_chars(element, "action_id", ACTION_ID_MAX_CHARS, pointer)
        self.optional_chars(element, "value", BUTTON_VALUE_MAX_CHARS, pointer)
        self.optional_chars(element, "url", BUTTON_URL_MAX_CHARS, pointer)
        self.optional_chars(
            element, "accessibility_label", BUTTON_ACCESSIBILITY_LABEL_MAX_CHARS, pointer
        )
        if "style" in element and element["style"] not in BUTTON_STYLES:
            self.fail("must be one of primary, danger", f"{pointer}/style")

    def image_element(self, element: dict[str, Any], pointer: str) -> None:
        # The image element page documents no length limit for alt_text, unlike the
        # image block: https://docs.slack.dev/reference/block-kit/block-elements/image-element
        if self.required(element, "alt_text", pointer) and not isinstance(element["alt_text"], str):
            self.fail("must be a string", f"{pointer}/alt_text")
        self.image_source(element, pointer)

    def image_source(self, image: dict[str, Any], pointer: str) -> None:
        """Require exactly one of `image_url` and `slack_file`, as both image pages do."""
        has_url = "image_url" in image
        has_file = "slack_file" in image
        if has_url == has_file:
            self.fail("must provide exactly one of image_url or slack_file", pointer)
        if has_url:
            self.max_chars(image["image_url"], IMAGE_URL_MAX_CHARS, f"{pointer}/image_url")


_BLOCK_CHECKS = {
    "section": _Checker.section,
    "header": _Checker.header,
    "context": _Checker.context,
    "actions": _Checker.actions,
    "image": _Checker.image_block,
    "markdown": _Checker.markdown,
    "rich_text": _Checker.rich_text,
}
VALIDATED_BLOCK_TYPES = frozenset(_BLOCK_CHECKS) | {"divider"}
