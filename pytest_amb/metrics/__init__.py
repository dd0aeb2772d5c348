"""The benchmark's metrics as pure functions over step results."""
