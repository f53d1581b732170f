"""Accounts: users, channels, memberships, API tokens and browser sessions (CONTRACTS §9)."""
