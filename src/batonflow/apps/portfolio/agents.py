"""The portfolio app's agents: the data harvester builds pricing packs (`harvester.py`)."""

from batonflow.apps.portfolio.harvester import data_harvester

AGENTS = (data_harvester,)
