"""The operations layer: what either deployment (the embedded platform, docker compose) and the
DAGs need to run and check the platform, with no process management of its own services.

    errors      ServiceError, NotInstalledError
    processes   run a one-off command (run_checked), port_open, tail of a log
    jvm         the one JVM command builder (java, heap, classpath) and the Maven jar folders
    service     Service: a managed background process (pid file, log, health wait, stop)
    kafka       the admin client, the platform's topics and SCRAM user, the broker's health
    hdfs        every client's HDFS settings, the platform's folders, NameNode/DataNode health
    spark       the Spark environment, connector jars, the master's JSON status and probes
    airflow     generated login and keys, the DAGs' connections, the REST client, run_dag
    scorer      the streaming scorer's launcher (spark-submit line, health) the deploy DAG uses
    web         gunicorn's command line for the Flask app and its /healthz probe

flightdelay/embedded/ keeps the rows of the embedded platform's servers (config, command, probe,
start/stop) built on this; NiFi has its own package (flightdelay/nifi/). Waiting for something to
get ready is flightdelay/waiting.py, generated secrets flightdelay/secrets.py.
"""
