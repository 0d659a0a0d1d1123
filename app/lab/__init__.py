"""The derivative lab: forward mode and reverse mode computed, shown and timed side by side (issue 7)."""
