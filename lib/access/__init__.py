"""Who may touch what: API keys, the permissions of keys that act as users, client scope."""
