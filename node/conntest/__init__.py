"""Art. 10.3 connection test: plan, runs, minutes."""
