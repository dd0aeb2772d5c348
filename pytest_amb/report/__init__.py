"""Terminal summary, summary.json and (later) HTML views of a run."""
