"""Who may do what: the authorization policy and the handling of secrets (passwords, tokens,
session ids). Pure code over :mod:`schemas`: no I/O, so every layer above can use it."""
