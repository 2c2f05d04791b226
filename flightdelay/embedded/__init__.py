"""The embedded platform: every service as a real local process bound to 127.0.0.1.

One module per server holds its row: how it is configured, started, health-checked and stopped,
built on ``flightdelay.ops`` (the managed process, the probes, the clients both deployments
share). ``platform.py`` puts the rows in start order, ``supervisor.py`` restarts what dies. The
streaming scorer's row is ``flightdelay.ops.scorer``, since the deploy DAG starts it in either
deployment. Nothing outside the command line (and the chaos suite) imports this package.
"""
