"""What the service tells its operators: JSON logs in Cloud Logging's format, Prometheus
metrics, prediction drift, production accuracy from feedback, and prometheus_client's
multiprocess mode."""
