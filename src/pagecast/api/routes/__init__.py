"""Route groups."""
