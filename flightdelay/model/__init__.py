"""The delay model: its features, its training metrics and its registry of versions."""
