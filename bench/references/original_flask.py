"""Reference: the original design — Flask, Keras ``model.predict`` on every request.

MODEL_KERAS=path/to/model.keras gunicorn -b 127.0.0.1:PORT bench.references.original_flask:app
"""

import os

import keras
import numpy as np
from flask import Flask, jsonify, request

app = Flask(__name__)
model = keras.models.load_model(os.environ["MODEL_KERAS"])


@app.post("/predict")
def predict():  # noqa: ANN201
    image = np.array(request.get_json()["image"], dtype=np.float32).reshape(1, 784)
    probabilities = model.predict(image)
    return jsonify(
        {
            "prediction": int(np.argmax(probabilities)),
            "probabilities": probabilities.tolist(),
        }
    )
