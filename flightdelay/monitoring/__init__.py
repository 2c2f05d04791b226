"""Model monitoring: drift (PSI), class mix, latency, volume and live accuracy of the serving
model over a window of predictions; computed on Spark by spark_apps/monitor_model.py, run by
the flight_delay_monitoring DAG, shown on the Flask app's /ops page."""
