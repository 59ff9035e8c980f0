"""Apps: packages that plug agents, workflows, tables, routes, commands and pages into Batonflow
(see `apps/app.py` for the seam, and `docs/apps.md`)."""
