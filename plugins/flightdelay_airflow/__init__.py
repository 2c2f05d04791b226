"""Hooks, operators and sensors the flight delay DAGs share (Airflow puts plugins/ on sys.path)."""
