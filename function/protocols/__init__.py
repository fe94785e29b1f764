"""The protocols the service speaks: the seed ``/predict`` API, TensorFlow Serving REST,
Open Inference Protocol V2, and the OpenAPI document derived from the routing table."""
