"""The protocols the service speaks: the seed ``/predict`` API, TensorFlow Serving REST,
Open Inference Protocol V2, the draw-a-digit page and its assets, feedback on predictions
(with the signed prediction ids), and the OpenAPI document derived from the routing table."""
