"""(being written)"""

AGENTS = ()
