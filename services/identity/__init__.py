"""Accounts: users, channels, memberships, API tokens and browser sessions (docs/contracts.md
§9)."""
