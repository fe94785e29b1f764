"""digitrun training job: train Keras MNIST models, track them in MLflow, publish versions."""
