"""IoT sensing (物联感知): sensor registry, observation ingest, time-series store."""
