"""Batonflow: a self-hosted, multi-tenant platform that runs multi-agent LLM workflows durably."""

__version__ = "0.1.0"
