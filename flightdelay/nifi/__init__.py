"""Apache NiFi, one home per concept (importing this package imports nothing else):

- ``client``: NiFi's REST API (NiFiClient, FlowError);
- ``flow``: the versioned flow definition (nifi/prediction_flow.json) applied, stopped, summarised,
  and the admin's policies (``python -m flightdelay.nifi.flow`` applies it by hand);
- ``config``: secrets, credentials, install check, the config files and the java command line;
- ``output``: reading the JSON files the flow writes (the Airflow sensor, the canary check).

The embedded service row (start, probe, stop) is flightdelay/embedded/nifi.py, the Python
processors NiFi loads are nifi/python_extensions/, the login provider is java/nifi/login-provider.
"""
