"""The embedded platform: every service as a real local process bound to 127.0.0.1.

One module per service says how it is installed, configured, started, health-checked and
stopped; ``platform.py`` puts them in start order.
"""
