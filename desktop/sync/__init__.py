"""Sync with the central server: wire protocol, HTTP client, push/pull engine, background worker."""
