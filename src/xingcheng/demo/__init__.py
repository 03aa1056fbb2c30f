"""The synthetic Changsha: runs every registered module's demo steps in dependency order."""
