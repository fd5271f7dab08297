"""What outlives a run: the history store, baselines of accepted findings, run tracking."""
