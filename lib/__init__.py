"""Shared machinery: everything the endpoint files stand on."""
