"""Request content → the model's input tensor: JSON numbers (and the simdjson fast path),
PNG/JPEG images (MNIST-style preprocessing), and the input errors."""
