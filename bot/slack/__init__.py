"""Slack side of the bot: card builders, the Web API gateway and the Bolt app."""
