"""The streaming scorer's parts: request parsing, the hot-reloaded model, and the sinks."""
