"""The artifact contract that joins training and serving: the tensor spec, the typed
manifest, checksums, storage of versions and their errors. The training job imports it;
it imports nothing from training (no TensorFlow, no MLflow)."""
