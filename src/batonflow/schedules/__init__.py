"""Schedules and webhook triggers: what starts runs without a person pressing start."""
